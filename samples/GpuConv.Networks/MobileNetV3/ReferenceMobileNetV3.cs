using GpuConv.Reference;
using GpuConv.Tensors;
using static GpuConv.Networks.ReferenceLayers;

namespace GpuConv.Networks.MobileNetV3;

/// <summary>
/// The same network in float64, unfolded (<see cref="ReferenceLayers"/>): each convolution with the original weight,
/// then its BatchNorm (epsilon 0.001) and ReLU, hardswish or none (the projections); the squeeze-and-excitation blocks,
/// residual adds, the global average and the two linears, all in double.
/// </summary>
public static class ReferenceMobileNetV3
{
    /// <param name="hardswish">The activation where the network has hardswish. (A test passes ReLU to show that the
    /// layers' hardswish matters, so a device run with another activation there fails the check.)</param>
    /// <param name="squeezeExcite">False leaves the squeeze-and-excitation blocks out (a test's planted bug).</param>
    public static double[] Run(MobileNetV3Model model, HostTensor input, Func<double, double>? hardswish = null, bool squeezeExcite = true)
    {
        hardswish ??= Hardswish;
        Func<double, double> relu = v => ReferenceActivation.Apply(Activation.Relu, v), identity = v => v;
        var shape = input.Shape;
        double[] x = [.. input.Data.Select(v => (double)v)];
        x = ConvBn(model.Stem, ref shape, x, hardswish);
        foreach (var b in model.Blocks)
        {
            var act = b.Hardswish ? hardswish : relu;
            var s = shape;
            var h = b.Expand is { } e ? ConvBn(e, ref s, x, act) : x;
            h = ConvBn(b.Depthwise, ref s, h, act);
            if (b.Se is { } se && squeezeExcite) h = SqueezeExcite(se, s, h);
            h = ConvBn(b.Project, ref s, h, identity);
            if (b.Residual)
                for (int i = 0; i < h.Length; i++) h[i] += x[i];
            x = h;
            shape = s;
        }
        x = ConvBn(model.Last, ref shape, x, hardswish);
        x = GlobalAverage(ref shape, x);
        x = Convolve(MobileNetV3Model.Linear, model.HiddenWeight, model.HiddenBias.Data, ref shape, x);
        for (int i = 0; i < x.Length; i++) x[i] = hardswish(x[i]);
        return Convolve(MobileNetV3Model.Linear, model.ClassifierWeight, model.ClassifierBias.Data, ref shape, x);
    }
}
