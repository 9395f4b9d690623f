using GpuConv.Tensors;
using static GpuConv.Networks.ReferenceLayers;

namespace GpuConv.Networks.EfficientNetB0;

/// <summary>
/// The same network in float64, unfolded (<see cref="ReferenceLayers"/>): each convolution with the original weight,
/// then its BatchNorm and SiLU (v / (1 + e^-v)) or none (the projections); the squeeze-and-excitation blocks, residual
/// adds, the global average and the classifier, all in double.
/// </summary>
public static class ReferenceEfficientNetB0
{
    /// <param name="silu">The activation where the network has SiLU (a test passes ReLU: a device run with another
    /// activation there fails the check).</param>
    /// <param name="squeezeExcite">False leaves the squeeze-and-excitation blocks out (a test's planted bug).</param>
    public static double[] Run(EfficientNetB0Model model, HostTensor input, Activation silu = Activation.Silu, bool squeezeExcite = true)
    {
        var shape = input.Shape;
        double[] x = [.. input.Data.Select(v => (double)v)];
        x = ConvBn(model.Stem, ref shape, x, silu);
        foreach (var b in model.Blocks)
        {
            var s = shape;
            var h = b.Expand is { } e ? ConvBn(e, ref s, x, silu) : x;
            h = ConvBn(b.Depthwise, ref s, h, silu);
            if (squeezeExcite) h = SqueezeExcite(b.Se, s, h);
            h = ConvBn(b.Project, ref s, h, Activation.Identity);
            if (b.Residual)
                for (int i = 0; i < h.Length; i++) h[i] += x[i];
            x = h;
            shape = s;
        }
        x = ConvBn(model.Last, ref shape, x, silu);
        x = GlobalAverage(ref shape, x);
        return Convolve(EfficientNetB0Model.Classifier, model.ClassifierWeight, model.ClassifierBias.Data, ref shape, x);
    }
}
