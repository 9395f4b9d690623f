using GpuConv.Tensors;

namespace GpuConv.Reference;

/// <summary>
/// The judge of <see cref="ConvEngine.Upsample"/> and <see cref="ConvEngine.UpsampleBackward"/>, written from PyTorch
/// 1.13's definitions with its own arithmetic (sharing nothing with UpsampleAxis, the CPU loops or kernels/upsample.ptx):
/// per dimension the taps of each output (source indices and weights as PyTorch defines them: nearest positions from
/// float32 products, linear positions in float64, weights stored as float32), then the outputs as the weighted sums of their taps in float64 — every tap
/// product in full, no rounding between dimensions. The backward is the forward's adjoint: each output's gradient scattered
/// onto its taps with the same weights, in float64 (PyTorch's autograd of F.interpolate).
/// </summary>
public static class ReferenceUpsample
{
    /// <summary>upsample(x) for <paramref name="spec"/> on an input of <paramref name="inputShape"/>.</summary>
    public static double[] Forward(UpsampleSpec spec, TensorShape inputShape, ReadOnlySpan<float> x)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var outShape = spec.OutputShape(inputShape);
        if (x.Length != inputShape.ElementCount)
            throw new ArgumentException($"x has {x.Length} elements but shape {inputShape} needs {inputShape.ElementCount}.", nameof(x));
        var y = new double[outShape.ElementCount];
        var source = x.ToArray();
        Visit(spec, inputShape, outShape, (o, i, w) => y[o] += w * source[i]);
        return y;
    }

    /// <summary>∂loss/∂x of upsample(x) from dy (the output's shape): each dy scattered onto the inputs its output read, times their weights.</summary>
    public static double[] Backward(UpsampleSpec spec, TensorShape inputShape, ReadOnlySpan<float> dy)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var outShape = spec.OutputShape(inputShape);
        if (dy.Length != outShape.ElementCount)
            throw new ArgumentException($"dy has {dy.Length} elements but the output shape {outShape} needs {outShape.ElementCount}.", nameof(dy));
        var dx = new double[inputShape.ElementCount];
        var g = dy.ToArray();
        Visit(spec, inputShape, outShape, (o, i, w) => dx[i] += w * g[o]);
        return dx;
    }

    /// <summary>
    /// The taps of output <paramref name="o"/> along dimension <paramref name="d"/> (input size <paramref name="n"/>, output
    /// size <paramref name="m"/>): (input index, weight) pairs — one for the nearest modes, two for the linear ones.
    /// </summary>
    public static (int Index, double Weight)[] Taps(UpsampleSpec spec, int d, int n, int m, int o)
    {
        ArgumentNullException.ThrowIfNull(spec);
        double? factor = spec.IndexScale(d);
        float ScaleValue() => factor is { } f ? (float)(1.0 / f) : (float)n / m; // compute_scales_value<float>
        switch (spec.Mode)
        {
            case UpsampleMode.Nearest:
                // PyTorch's NCHW forward floors o·scale always (nearest_idx's copy and shift serve its backward, see UpsampleSpec).
                return [(Math.Min((int)MathF.Floor(o * ScaleValue()), n - 1), 1)];
            case UpsampleMode.NearestExact:
                return [(Math.Min((int)MathF.Floor((float)((o + 0.5) * ScaleValue())), n - 1), 1)];
            default:
                if (m == n) return [(o, 1)];
                // area_pixel_compute_scale in float32; the position in float64 (exact); the weights stored as float32.
                float scale = spec.AlignCorners ? (m > 1 ? (float)(n - 1) / (m - 1) : 0f) : ScaleValue();
                double real = spec.AlignCorners ? (double)scale * o : Math.Max((double)scale * (o + 0.5) - 0.5, 0);
                int i0 = Math.Min((int)Math.Floor(real), n - 1);
                int i1 = Math.Min(i0 + 1, n - 1);
                float lambda1 = (float)(real - i0);
                return [(i0, 1f - lambda1), (i1, lambda1)];
        }
    }

    /// <summary>Calls <paramref name="visit"/>(output index, input index, weight) for every tap of every output, in output order.</summary>
    static void Visit(UpsampleSpec spec, TensorShape inputShape, TensorShape outShape, Action<long, long, double> visit)
    {
        int rank = spec.Rank;
        var taps = new (int Index, double Weight)[rank][][];
        for (int d = 0; d < rank; d++)
        {
            taps[d] = new (int, double)[outShape[2 + d]][];
            for (int o = 0; o < outShape[2 + d]; o++) taps[d][o] = Taps(spec, d, inputShape[2 + d], outShape[2 + d], o);
        }
        var pos = new int[rank];
        long planes = (long)inputShape.N * inputShape.C, inPlane = inputShape.SpatialSize, outPlane = outShape.SpatialSize;
        for (long plane = 0; plane < planes; plane++)
            for (long o = 0; o < outPlane; o++)
            {
                long rest = o;
                for (int d = rank - 1; d >= 0; d--) { pos[d] = (int)(rest % outShape[2 + d]); rest /= outShape[2 + d]; }
                Combine(0, 0, 1.0);

                void Combine(int d, long offset, double weight)
                {
                    if (d == rank)
                    {
                        visit(plane * outPlane + o, plane * inPlane + offset, weight);
                        return;
                    }
                    foreach (var (index, w) in taps[d][pos[d]])
                        Combine(d + 1, offset * inputShape[2 + d] + index, weight * w);
                }
            }
    }
}
