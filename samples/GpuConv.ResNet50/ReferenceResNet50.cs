using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.ResNet50;

/// <summary>
/// The same network in float64, unfolded: each convolution by <see cref="ReferenceConv"/> with the original weight,
/// then its BatchNorm, ReLU, residual adds, max pool and global average, all in double; activations stay in double
/// between layers (fed to ReferenceConv as a float32 high part plus a float32 low part, which linearity lets us add),
/// so the result is the network's value up to float64 rounding — a judge of the folding and the pools as well.
/// </summary>
public static class ReferenceResNet50
{
    public static double[] Run(ResNet50Model model, HostTensor input)
    {
        var shape = input.Shape;
        double[] x = [.. input.Data.Select(v => (double)v)];
        x = ConvBn(model.Stem, ref shape, x, relu: true);
        x = MaxPool(ResNet50Model.StemPool, ref shape, x);
        foreach (var b in model.Blocks)
        {
            var s = shape;
            var h = ConvBn(b.Reduce, ref s, x, relu: true);
            h = ConvBn(b.Spatial, ref s, h, relu: true);
            h = ConvBn(b.Expand, ref s, h, relu: false);
            var skipShape = shape;
            var skip = b.Downsample is { } d ? ConvBn(d, ref skipShape, x, relu: false) : x;
            for (int i = 0; i < h.Length; i++) h[i] = Math.Max(h[i] + skip[i], 0);
            x = h;
            shape = s;
        }
        x = GlobalAverage(ref shape, x);
        return Conv(ResNet50Model.Fc, model.FcWeight, model.FcBias.Data, ref shape, x);
    }

    static double[] ConvBn(ConvBn c, ref TensorShape shape, double[] x, bool relu)
    {
        var y = Conv(c.Spec, c.Weight, default, ref shape, x);
        int channels = shape.Dims[1], plane = shape.ElementCountInt / (shape.Dims[0] * channels);
        for (int i = 0; i < y.Length; i++)
        {
            double v = c.BatchNorm.Apply(i / plane % channels, y[i]);
            y[i] = relu ? Math.Max(v, 0) : v;
        }
        return y;
    }

    static double[] Conv(ConvSpec spec, HostTensor w, ReadOnlySpan<float> bias, ref TensorShape shape, double[] x)
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

    static double[] GlobalAverage(ref TensorShape shape, double[] x)
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
