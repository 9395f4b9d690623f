using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>
/// The float64 layers the networks' references share. Activations stay in double between layers: a convolution is
/// <see cref="ReferenceConv"/> on a float32 high part plus a float32 low part of its input (which linearity lets us
/// add), so a result is the network's value up to float64 rounding — a judge of the folding and the pools as well.
/// </summary>
public static class ReferenceLayers
{
    /// <summary>
    /// activation(BatchNorm(conv(x))) with the unfolded weight (the activation as the library's float64 judge,
    /// <see cref="ReferenceActivation"/>, defines it); <paramref name="shape"/> becomes the output's.
    /// </summary>
    public static double[] ConvBn(ConvBn c, ref TensorShape shape, double[] x, Activation activation) =>
        ConvBn(c, ref shape, x, Judge(activation));

    /// <summary>activation(BatchNorm(conv(x))) with any float64 activation (e.g. <see cref="Hardswish"/>).</summary>
    public static double[] ConvBn(ConvBn c, ref TensorShape shape, double[] x, Func<double, double> activation)
    {
        var y = Convolve(c.Spec, c.Weight, default, ref shape, x);
        int channels = shape.Dims[1], plane = shape.ElementCountInt / (shape.Dims[0] * channels);
        for (int i = 0; i < y.Length; i++)
            y[i] = activation(c.BatchNorm.Apply(i / plane % channels, y[i]));
        return y;
    }

    /// <summary>min(max(x + 3, 0), 6) / 6, torch's hardsigmoid, in float64.</summary>
    public static double Hardsigmoid(double x) => Math.Clamp(x + 3, 0, 6) / 6;

    /// <summary>1 / (1 + e^-x) in float64.</summary>
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>
    /// x · gate(expand(inner(reduce(GlobalAvgPool(x))))) on x of <paramref name="shape"/> (unchanged), in float64
    /// (<see cref="SqueezeExcitation"/>); a new array.
    /// </summary>
    public static double[] SqueezeExcite(SqueezeExcitation se, TensorShape shape, double[] x)
    {
        var s = shape;
        var g = GlobalAverage(ref s, x);
        g = Convolve(SqueezeExcitation.Spec, se.ReduceWeight, se.ReduceBias.Data, ref s, g);
        ReferenceActivation.Apply(se.Inner, g);
        g = Convolve(SqueezeExcitation.Spec, se.ExpandWeight, se.ExpandBias.Data, ref s, g);
        Func<double, double> gate = se.Gate == SqueezeGate.Hardsigmoid ? Hardsigmoid : Sigmoid;
        for (int p = 0; p < g.Length; p++) g[p] = gate(g[p]);
        int plane = shape.ElementCountInt / g.Length;
        var y = new double[x.Length];
        for (int i = 0; i < y.Length; i++) y[i] = x[i] * g[i / plane];
        return y;
    }

    /// <summary>The library's float64 judge of <paramref name="activation"/> (<see cref="ReferenceActivation"/>).</summary>
    public static Func<double, double> Judge(Activation activation) => v => ReferenceActivation.Apply(activation, v);

    /// <summary>conv(x, w) + bias in float64; <paramref name="shape"/> becomes the output's.</summary>
    public static double[] Convolve(ConvSpec spec, HostTensor w, ReadOnlySpan<float> bias, ref TensorShape shape, double[] x)
    {
        var p = ConvProblem.Create(spec, shape, w.Shape, ConvOp.Forward);
        float[] hi = [.. x.Select(v => (float)v)];
        float[] lo = [.. x.Select((v, i) => (float)(v - hi[i]))];
        var y = ReferenceConv.Forward(p, hi, w.Data, bias);
        var yLo = ReferenceConv.Forward(p, lo, w.Data);
        for (int i = 0; i < y.Length; i++) y[i] += yLo[i];
        shape = p.OutputShape;
        return y;
    }

    /// <summary>The mean of each [N, C] plane; <paramref name="shape"/> becomes [N, C, 1, 1].</summary>
    public static double[] GlobalAverage(ref TensorShape shape, double[] x)
    {
        int planes = shape.Dims[0] * shape.Dims[1], size = shape.ElementCountInt / planes;
        var y = new double[planes];
        for (int p = 0; p < planes; p++)
        {
            double sum = 0;
            for (int i = 0; i < size; i++) sum += x[p * size + i];
            y[p] = sum / size;
        }
        shape = new TensorShape(shape.Dims[0], shape.Dims[1], 1, 1);
        return y;
    }
}
