using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Networks.ConvNeXt;

/// <summary>
/// <see cref="ConvNeXtModel"/> in float64 as torchvision writes it, nothing folded: each block's branch
/// gamma · pw2(GELU(pw1(LayerNorm(dw(x))))) with the layer scale applied after the projection, added to x; the
/// LayerNorms by the library's float64 judge (<see cref="ReferenceChannelLayerNorm"/>), GELU by <see cref="ReferenceGelu"/>
/// (the erf form), the convolutions by <see cref="ReferenceLayers.Convolve"/>.
/// </summary>
public static class ReferenceConvNeXt
{
    /// <summary>The logits, [N, classes] flattened.</summary>
    public static double[] Run(ConvNeXtModel model, HostTensor input) => Run(model, input, ReferenceGelu.Gelu);

    /// <summary>The logits with <paramref name="gelu"/> in GELU's place (for tests: a judge that must tell the forms apart).</summary>
    public static double[] Run(ConvNeXtModel model, HostTensor input, Func<double, double> gelu)
    {
        var shape = input.Shape;
        var x = Conv(model.Stem, ref shape, [.. input.Data.Select(v => (double)v)]);
        x = LayerNorm(model.StemNorm, shape, x);
        foreach (var s in model.Stages)
        {
            if (s.Downsample is { } d) x = Conv(d, ref shape, LayerNorm(s.DownsampleNorm!, shape, x));
            foreach (var b in s.Blocks)
            {
                var h = LayerNorm(b.Norm, shape, Conv(b.Depthwise, ref shape, x));
                var hs = shape;
                h = Conv(b.Expand, ref hs, h);
                for (int i = 0; i < h.Length; i++) h[i] = gelu(h[i]);
                h = Conv(b.Project, ref hs, h);
                int plane = shape.ElementCountInt / (shape.Dims[0] * shape.Dims[1]);
                for (int i = 0; i < x.Length; i++) x[i] += b.LayerScale.Data[i / plane % shape.Dims[1]] * h[i];
            }
        }
        x = ReferenceLayers.GlobalAverage(ref shape, x);
        x = LayerNorm(model.HeadNorm, shape, x);
        return ReferenceLayers.Convolve(ConvNeXtModel.Linear, model.ClassifierWeight, model.ClassifierBias.Data, ref shape, x);
    }

    static double[] Conv(ConvLayer c, ref TensorShape shape, double[] x) => ReferenceLayers.Convolve(c.Spec, c.Weight, c.Bias.Data, ref shape, x);

    static double[] LayerNorm(ChannelNorm norm, TensorShape shape, double[] x)
    {
        int n = shape.Dims[0], c = shape.Dims[1];
        var (y, _, _) = ReferenceChannelLayerNorm.Forward(x, n, c, shape.ElementCountInt / (n * c), ChannelNorm.Spec.Epsilon,
            [.. norm.Weight.Data.Select(v => (double)v)], [.. norm.Bias.Data.Select(v => (double)v)]);
        return y;
    }
}
