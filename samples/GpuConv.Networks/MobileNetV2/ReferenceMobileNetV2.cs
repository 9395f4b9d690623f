using GpuConv.Tensors;
using static GpuConv.Networks.ReferenceLayers;

namespace GpuConv.Networks.MobileNetV2;

/// <summary>
/// The same network in float64, unfolded (<see cref="ReferenceLayers"/>): each convolution with the original weight,
/// then its BatchNorm and ReLU6 (min(max(v, 0), 6)) or none (the projections), residual adds and the global average, all
/// in double.
/// </summary>
public static class ReferenceMobileNetV2
{
    /// <param name="relu6">The activation where the network has ReLU6. (A test passes ReLU to show that the clamp at 6 is
    /// reached, so a device run without it fails the check.)</param>
    public static double[] Run(MobileNetV2Model model, HostTensor input, Activation relu6 = Activation.Relu6)
    {
        var shape = input.Shape;
        double[] x = [.. input.Data.Select(v => (double)v)];
        x = ConvBn(model.Stem, ref shape, x, relu6);
        foreach (var b in model.Blocks)
        {
            var s = shape;
            var h = b.Expand is { } e ? ConvBn(e, ref s, x, relu6) : x;
            h = ConvBn(b.Depthwise, ref s, h, relu6);
            h = ConvBn(b.Project, ref s, h, Activation.Identity);
            if (b.Residual)
                for (int i = 0; i < h.Length; i++) h[i] += x[i];
            x = h;
            shape = s;
        }
        x = ConvBn(model.Last, ref shape, x, relu6);
        x = GlobalAverage(ref shape, x);
        return Convolve(MobileNetV2Model.Classifier, model.ClassifierWeight, model.ClassifierBias.Data, ref shape, x);
    }
}
