using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using static GpuConv.Networks.ReferenceLayers;

namespace GpuConv.Networks.ResNet50;

/// <summary>
/// The same network in float64, unfolded (<see cref="ReferenceLayers"/>): each convolution with the original weight,
/// then its BatchNorm, ReLU, residual adds, max pool and global average, all in double.
/// </summary>
public static class ReferenceResNet50
{
    public static double[] Run(ResNet50Model model, HostTensor input)
    {
        var shape = input.Shape;
        double[] x = [.. input.Data.Select(v => (double)v)];
        x = ConvBn(model.Stem, ref shape, x, Activation.Relu);
        x = MaxPool(ResNet50Model.StemPool, ref shape, x);
        foreach (var b in model.Blocks)
        {
            var s = shape;
            var h = ConvBn(b.Reduce, ref s, x, Activation.Relu);
            h = ConvBn(b.Spatial, ref s, h, Activation.Relu);
            h = ConvBn(b.Expand, ref s, h, Activation.Identity);
            var skipShape = shape;
            var skip = b.Downsample is { } d ? ConvBn(d, ref skipShape, x, Activation.Identity) : x;
            for (int i = 0; i < h.Length; i++) h[i] = ReferenceActivation.Apply(Activation.Relu, h[i] + skip[i]);
            x = h;
            shape = s;
        }
        x = GlobalAverage(ref shape, x);
        return Convolve(ResNet50Model.Fc, model.FcWeight, model.FcBias.Data, ref shape, x);
    }

    /// <summary>PyTorch's max pool on doubles (2-d, −∞ padding).</summary>
    static double[] MaxPool(PoolSpec spec, ref TensorShape shape, double[] x)
    {
        var outShape = spec.OutputShape(shape);
        int planes = shape.Dims[0] * shape.Dims[1], h = shape.Dims[2], w = shape.Dims[3], oh = outShape.Dims[2], ow = outShape.Dims[3];
        var y = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double m = double.NegativeInfinity;
                    for (int a = 0; a < spec.Kernel[0]; a++)
                        for (int b = 0; b < spec.Kernel[1]; b++)
                        {
                            int r = i * spec.StrideOf(0) - spec.PaddingOf(0) + a * spec.DilationOf(0);
                            int c = j * spec.StrideOf(1) - spec.PaddingOf(1) + b * spec.DilationOf(1);
                            if (r >= 0 && r < h && c >= 0 && c < w) m = Math.Max(m, x[(p * h + r) * w + c]);
                        }
                    y[(p * oh + i) * ow + j] = m;
                }
        shape = outShape;
        return y;
    }
}
