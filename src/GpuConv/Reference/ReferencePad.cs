using GpuConv.Tensors;

namespace GpuConv.Reference;

/// <summary>
/// The judge of <see cref="ConvEngine.Pad"/> and <see cref="ConvEngine.PadBackward"/>: every output position visited
/// once, its input index worked out per dimension straight from the mode's definition (its own arithmetic, sharing
/// nothing with the CPU loops or kernels/pad.ptx); the backward adds each padded element's gradient to the input
/// element it read, in float64 (PyTorch's autograd of F.pad).
/// </summary>
public static class ReferencePad
{
    /// <summary>pad(x) for <paramref name="spec"/> on an input of <paramref name="inputShape"/>.</summary>
    public static double[] Forward(PadSpec spec, TensorShape inputShape, ReadOnlySpan<float> x)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var outShape = spec.OutputShape(inputShape);
        if (x.Length != inputShape.ElementCount)
            throw new ArgumentException($"x has {x.Length} elements but shape {inputShape} needs {inputShape.ElementCount}.", nameof(x));
        var y = new double[outShape.ElementCount];
        var source = x.ToArray();
        Visit(spec, inputShape, outShape, (o, i) => y[o] = i < 0 ? spec.Value : source[i]);
        return y;
    }

    /// <summary>∂loss/∂x of pad(x) from dy (the padded shape): each dy element added to the input element it read (constant padding: to none).</summary>
    public static double[] Backward(PadSpec spec, TensorShape inputShape, ReadOnlySpan<float> dy)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var outShape = spec.OutputShape(inputShape);
        if (dy.Length != outShape.ElementCount)
            throw new ArgumentException($"dy has {dy.Length} elements but the padded shape {outShape} needs {outShape.ElementCount}.", nameof(dy));
        var dx = new double[inputShape.ElementCount];
        var g = dy.ToArray();
        Visit(spec, inputShape, outShape, (o, i) => { if (i >= 0) dx[i] += g[o]; });
        return dx;
    }

    /// <summary>Calls <paramref name="visit"/>(output index, input index or −1) for every output element in order.</summary>
    static void Visit(PadSpec spec, TensorShape inputShape, TensorShape outShape, Action<long, long> visit)
    {
        int rank = spec.Rank;
        var outPos = new int[rank];
        long planes = (long)inputShape.N * inputShape.C, inPlane = inputShape.SpatialSize, outPlane = outShape.SpatialSize;
        for (long plane = 0; plane < planes; plane++)
            for (long o = 0; o < outPlane; o++)
            {
                long rest = o;
                for (int d = rank - 1; d >= 0; d--) { outPos[d] = (int)(rest % outShape[2 + d]); rest /= outShape[2 + d]; }
                long offset = 0;
                for (int d = 0; d < rank && offset >= 0; d++)
                {
                    int n = inputShape[2 + d], i = outPos[d] - spec.PadBegin[d];
                    if (i < 0 || i >= n)
                        i = spec.Mode switch
                        {
                            PadMode.Reflect => i < 0 ? -i : 2 * n - 2 - i,
                            PadMode.Replicate => Math.Clamp(i, 0, n - 1),
                            PadMode.Circular => ((i % n) + n) % n,
                            _ => -1,
                        };
                    offset = i < 0 ? -1 : offset * n + i;
                }
                visit(plane * outPlane + o, offset < 0 ? -1 : plane * inPlane + offset);
            }
    }
}
