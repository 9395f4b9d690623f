using System.Collections.Immutable;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Cpu;

/// <summary>
/// The judge of every other path: naive loops over the definition of convolution, accumulating in
/// float64. Slow on purpose and kept obviously correct — one loop nest visits every
/// (batch, output channel, output position, input channel, kernel tap) whose input index lands
/// inside the (unpadded) input, and each op is the matching multiply-accumulate:
///   forward          y[n,k,o]  += x[n,c,i] * w[k,c',t]
///   backward data    dx[n,c,i] += dy[n,k,o] * w[k,c',t]
///   backward filter  dw[k,c',t] += x[n,c,i] * dy[n,k,o]
/// with i = o*stride - padBegin + t*dilation per spatial dimension, c = group*C/g + c'.
/// Ranks 1–3 are handled as 3-d with unit leading dimensions.
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
        var g = Geometry.Of(p);
        long rest = yIndex;
        int ow = (int)(rest % g.OutW); rest /= g.OutW;
        int oh = (int)(rest % g.OutH); rest /= g.OutH;
        int od = (int)(rest % g.OutD); rest /= g.OutD;
        int k = (int)(rest % p.K); int n = (int)(rest / p.K);
        int grp = k / p.KPerGroup;
        double sum = bias.IsEmpty ? 0 : bias[k];
        for (int cl = 0; cl < p.CPerGroup; cl++)
        {
            int c = grp * p.CPerGroup + cl;
            for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
            for (int tw = 0; tw < g.KW; tw++)
            {
                int id = od * g.SD - g.PD + td * g.DD, ih = oh * g.SH - g.PH + th * g.DH, iw = ow * g.SW - g.PW + tw * g.DW;
                if ((uint)id >= (uint)g.InD || (uint)ih >= (uint)g.InH || (uint)iw >= (uint)g.InW) continue;
                long xi = (((long)n * p.C + c) * g.InD + id) * g.InH * g.InW + (long)ih * g.InW + iw;
                long wi = (((long)k * p.CPerGroup + cl) * g.KD + td) * g.KH * g.KW + (long)th * g.KW + tw;
                sum += (double)x[(int)xi] * w[(int)wi];
            }
        }
        return sum;
    }

    static void Visit(ConvProblem p, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> y, double[] result, ConvOp op)
    {
        var g = Geometry.Of(p);
        int cpg = p.CPerGroup, kpg = p.KPerGroup;
        for (int n = 0; n < p.N; n++)
        for (int k = 0; k < p.K; k++)
        {
            int grp = k / kpg;
            for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            for (int ow = 0; ow < g.OutW; ow++)
            {
                long yi = (((long)n * p.K + k) * g.OutD + od) * g.OutH * g.OutW + (long)oh * g.OutW + ow;
                for (int cl = 0; cl < cpg; cl++)
                {
                    int c = grp * cpg + cl;
                    for (int td = 0; td < g.KD; td++)
                    for (int th = 0; th < g.KH; th++)
                    for (int tw = 0; tw < g.KW; tw++)
                    {
                        int id = od * g.SD - g.PD + td * g.DD;
                        int ih = oh * g.SH - g.PH + th * g.DH;
                        int iw = ow * g.SW - g.PW + tw * g.DW;
                        // Taps that land in the padding read zeros: they contribute nothing.
                        if ((uint)id >= (uint)g.InD || (uint)ih >= (uint)g.InH || (uint)iw >= (uint)g.InW) continue;
                        long xi = (((long)n * p.C + c) * g.InD + id) * g.InH * g.InW + (long)ih * g.InW + iw;
                        long wi = (((long)k * cpg + cl) * g.KD + td) * g.KH * g.KW + (long)th * g.KW + tw;
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

    /// <summary>The problem's spatial geometry widened to 3-d (leading unit dimensions for ranks 1 and 2).</summary>
    internal readonly record struct Geometry(
        int InD, int InH, int InW, int OutD, int OutH, int OutW,
        int KD, int KH, int KW, int SD, int SH, int SW, int DD, int DH, int DW, int PD, int PH, int PW)
    {
        /// <summary>Read straight from the problem's dimension lists: it runs on every call, so it allocates nothing.</summary>
        public static Geometry Of(ConvProblem p)
        {
            int lead = 3 - p.Rank;     // leading unit dimensions
            ImmutableArray<int> x = p.XShape.Dims, y = p.YShape.Dims;
            var spec = p.Spec;
            return new Geometry(
                At(x, 0, 2, 1), At(x, 1, 2, 1), At(x, 2, 2, 1), At(y, 0, 2, 1), At(y, 1, 2, 1), At(y, 2, 2, 1),
                At(spec.Kernel, 0, 0, 1), At(spec.Kernel, 1, 0, 1), At(spec.Kernel, 2, 0, 1),
                At(spec.Stride, 0, 0, 1), At(spec.Stride, 1, 0, 1), At(spec.Stride, 2, 0, 1),
                At(spec.Dilation, 0, 0, 1), At(spec.Dilation, 1, 0, 1), At(spec.Dilation, 2, 0, 1),
                At(spec.PadBegin, 0, 0, 0), At(spec.PadBegin, 1, 0, 0), At(spec.PadBegin, 2, 0, 0));

            // Dimension i (0..2) of the widened list whose spatial entries start at index first.
            int At(ImmutableArray<int> v, int i, int first, int fill) => i < lead ? fill : v[first + i - lead];
        }
    }
}
