using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Reference;

/// <summary>
/// The judge of every other path: naive loops over the definition of convolution, accumulating in
/// float64. Slow on purpose and kept obviously correct — one loop nest visits every
/// (batch, output channel, output position, input channel, kernel tap) whose input index lands
/// inside the (unpadded) input, and each op is the matching multiply-accumulate:
///   forward          y[n,k,o]  += x[n,c,i] * w[k,c',t]
///   backward data    dx[n,c,i] += dy[n,k,o] * w[k,c',t]
///   backward filter  dw[k,c',t] += x[n,c,i] * dy[n,k,o]
/// with i = o*stride - padBegin + t*dilation per spatial dimension, c = group*C/g + c'.
/// With a padding mode (<see cref="PaddingMode"/>) a position i outside the input reads the element the mode maps it
/// to (reflected, clamped or wrapped, per dimension) instead of a zero, so the backward ops add into that element:
/// exactly PyTorch's F.pad followed by an unpadded convolution, with autograd through both.
/// The index arithmetic is its own, written for any rank straight from the spec's lists: it shares
/// nothing with the fast paths' geometry (Cpu.ConvGeometry, im2col, the PTX kernel arguments), so a
/// bug there cannot move the judge and the judged together.
/// </summary>
public static class ReferenceConv
{
    /// <summary>y = conv(x, w) + bias[k] (bias may be empty).</summary>
    public static double[] Forward(ConvProblem p, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias = default)
    {
        CheckLength(p.XShape, x, "x"); CheckLength(p.WShape, w, "w"); CheckBias(p.K, bias);
        var y = new double[p.YShape.ElementCount];
        Visit(p, x, w, ReadOnlySpan<float>.Empty, y, ConvOp.Forward);
        AddBias(y, p.YShape, bias);
        return y;
    }

    /// <summary>dx = conv_transpose(dy, w) + bias[c] (bias may be empty); transposed convolution.</summary>
    public static double[] BackwardData(ConvProblem p, ReadOnlySpan<float> dy, ReadOnlySpan<float> w, ReadOnlySpan<float> bias = default)
    {
        CheckLength(p.YShape, dy, "dy"); CheckLength(p.WShape, w, "w"); CheckBias(p.C, bias);
        var dx = new double[p.XShape.ElementCount];
        Visit(p, ReadOnlySpan<float>.Empty, w, dy, dx, ConvOp.BackwardData);
        AddBias(dx, p.XShape, bias);
        return dx;
    }

    /// <summary>dw = sum over the batch of x correlated with dy.</summary>
    public static double[] BackwardFilter(ConvProblem p, ReadOnlySpan<float> x, ReadOnlySpan<float> dy)
    {
        CheckLength(p.XShape, x, "x"); CheckLength(p.YShape, dy, "dy");
        var dw = new double[p.WShape.ElementCount];
        Visit(p, x, ReadOnlySpan<float>.Empty, dy, dw, ConvOp.BackwardFilter);
        return dw;
    }

    /// <summary>db[c] = sum of dy[n, c, …] over batch and spatial positions.</summary>
    public static double[] BiasGradient(TensorShape dyShape, ReadOnlySpan<float> dy)
    {
        CheckLength(dyShape, dy, "dy");
        long spatial = dyShape.SpatialSize;
        var db = new double[dyShape.C];
        for (int n = 0; n < dyShape.N; n++)
            for (int c = 0; c < dyShape.C; c++)
                for (long s = 0; s < spatial; s++)
                    db[c] += dy[(int)(((long)n * dyShape.C + c) * spatial + s)];
        return db;
    }

    /// <summary>Runs the problem's op on the tensors it reads (x, w, dy and bias as the op needs).</summary>
    public static double[] Run(ConvProblem p, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> y, ReadOnlySpan<float> bias = default) => p.Op switch
    {
        ConvOp.Forward => Forward(p, x, w, bias),
        ConvOp.BackwardData => BackwardData(p, y, w, bias),
        _ => BackwardFilter(p, x, y),
    };

    /// <summary>One forward output element (flat index into Y), for spot checks of large problems.</summary>
    public static double ForwardAt(ConvProblem p, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, long yIndex)
    {
        CheckLength(p.XShape, x, "x"); CheckLength(p.WShape, w, "w"); CheckBias(p.K, bias);
        // A negative index would silently decode to a padding-only position and return just the bias.
        if (yIndex < 0 || yIndex >= p.YShape.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(yIndex), yIndex, $"yIndex must be in [0, {p.YShape.ElementCount}) for output shape {p.YShape}.");
        var d = Dims.Of(p);
        long o = yIndex % d.OutPlane, nk = yIndex / d.OutPlane;
        int k = (int)(nk % d.K), n = (int)(nk / d.K);
        int[] outPos = new int[d.Rank], inPos = new int[d.Rank];
        Unflatten(o, d.Out, outPos);
        int group = k / d.KPerGroup;
        double sum = bias.IsEmpty ? 0 : bias[k];
        for (int cl = 0; cl < d.CPerGroup; cl++)
        {
            int c = group * d.CPerGroup + cl;
            for (int t = 0; t < d.Taps.Length; t++)
            {
                long i = InputOffset(d, outPos, d.Taps[t], inPos);
                if (i < 0) continue;
                sum += (double)x[(int)(((long)n * d.C + c) * d.InPlane + i)] * w[(int)(((long)k * d.CPerGroup + cl) * d.Taps.Length + t)];
            }
        }
        return sum;
    }

    static void Visit(ConvProblem p, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> y, double[] result, ConvOp op)
    {
        var d = Dims.Of(p);
        int[] outPos = new int[d.Rank], inPos = new int[d.Rank];
        for (long o = 0; o < d.OutPlane; o++)
        {
            Unflatten(o, d.Out, outPos);
            for (int t = 0; t < d.Taps.Length; t++)
            {
                // Taps that land in zero padding contribute nothing; other modes read (and backward adds into) the mapped element.
                long i = InputOffset(d, outPos, d.Taps[t], inPos);
                if (i < 0) continue;
                for (int n = 0; n < d.N; n++)
                for (int k = 0; k < d.K; k++)
                {
                    int group = k / d.KPerGroup;
                    long yi = ((long)n * d.K + k) * d.OutPlane + o;
                    for (int cl = 0; cl < d.CPerGroup; cl++)
                    {
                        int c = group * d.CPerGroup + cl;
                        long xi = ((long)n * d.C + c) * d.InPlane + i;
                        long wi = ((long)k * d.CPerGroup + cl) * d.Taps.Length + t;
                        switch (op)
                        {
                            case ConvOp.Forward: result[yi] += (double)x[(int)xi] * w[(int)wi]; break;
                            case ConvOp.BackwardData: result[xi] += (double)y[(int)yi] * w[(int)wi]; break;
                            default: result[wi] += (double)x[(int)xi] * y[(int)yi]; break;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Row-major offset inside one input plane of output position <paramref name="outPos"/> seen through
    /// kernel tap <paramref name="tap"/>: per dimension i = o*stride - padBegin + t*dilation; outside the input, -1
    /// (zero padding: in the padding) or the position the padding mode reads instead, written out here per mode.
    /// </summary>
    static long InputOffset(in Dims d, int[] outPos, int[] tap, int[] inPos)
    {
        long offset = 0;
        for (int a = 0; a < d.Rank; a++)
        {
            int i = outPos[a] * d.Stride[a] - d.PadBegin[a] + tap[a] * d.Dilation[a], n = d.In[a];
            if (i < 0 || i >= n)
            {
                switch (d.Mode)
                {
                    case PaddingMode.Reflect: i = i < 0 ? -i : 2 * (n - 1) - i; break; // the mirror image, edge not repeated
                    case PaddingMode.Replicate: i = i < 0 ? 0 : n - 1; break;         // the nearest edge
                    case PaddingMode.Circular: i = ((i % n) + n) % n; break;           // periodic
                    default: return -1;                                                 // zeros: contributes nothing
                }
                if (i < 0 || i >= n)
                    throw new InvalidOperationException($"padding mode {d.Mode} maps position {outPos[a] * d.Stride[a] - d.PadBegin[a] + tap[a] * d.Dilation[a]} outside the input of size {n} (dimension {a}).");
            }
            inPos[a] = i;
            offset = offset * n + i;
        }
        return offset;
    }

    /// <summary>The row-major multi-index of flat position <paramref name="flat"/> in a box of size <paramref name="extent"/>.</summary>
    static void Unflatten(long flat, int[] extent, int[] index)
    {
        for (int a = extent.Length - 1; a >= 0; a--)
        {
            index[a] = (int)(flat % extent[a]);
            flat /= extent[a];
        }
    }

    /// <summary>The sizes the loops need, copied from the shapes and the spec's lists; every kernel tap as a multi-index.</summary>
    readonly record struct Dims(int Rank, int N, int C, int K, int CPerGroup, int KPerGroup,
        int[] In, int[] Out, int[] Stride, int[] Dilation, int[] PadBegin, long InPlane, long OutPlane, int[][] Taps, PaddingMode Mode)
    {
        public static Dims Of(ConvProblem p)
        {
            var spec = p.Spec;
            int rank = spec.Rank;
            int[] input = [.. p.XShape.Dims.Skip(2)], output = [.. p.YShape.Dims.Skip(2)], kernel = [.. spec.Kernel];
            int taps = kernel.Aggregate(1, (a, b) => a * b);
            var tapList = new int[taps][];
            for (int t = 0; t < taps; t++) { tapList[t] = new int[rank]; Unflatten(t, kernel, tapList[t]); }
            int groups = spec.Groups, c = p.XShape.Dims[1], k = p.YShape.Dims[1];
            return new Dims(rank, p.XShape.Dims[0], c, k, c / groups, k / groups, input, output,
                [.. spec.Stride], [.. spec.Dilation], [.. spec.PadBegin],
                input.Aggregate(1L, (a, b) => a * b), output.Aggregate(1L, (a, b) => a * b), tapList, spec.PaddingMode);
        }
    }

    static void AddBias(double[] t, TensorShape shape, ReadOnlySpan<float> bias)
    {
        if (bias.IsEmpty) return;
        long spatial = shape.SpatialSize;
        for (long i = 0; i < t.LongLength; i++)
            t[i] += bias[(int)(i / spatial % shape.C)];
    }

    static void CheckLength(TensorShape shape, ReadOnlySpan<float> data, string name)
    {
        if (data.Length != shape.ElementCount)
            throw new ArgumentException($"{name} has {data.Length} elements but shape {shape} needs {shape.ElementCount}.", name);
    }

    static void CheckBias(int channels, ReadOnlySpan<float> bias)
    {
        if (!bias.IsEmpty && bias.Length != channels)
            throw new ArgumentException($"bias has {bias.Length} elements but the output has {channels} channels.", nameof(bias));
    }
}
