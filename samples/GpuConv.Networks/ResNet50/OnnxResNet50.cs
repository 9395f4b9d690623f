using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks.ResNet50;

/// <summary>
/// <see cref="ResNet50Model"/> as one ONNX graph, the way an exporter writes a BatchNorm-folded ResNet-50: Conv (with
/// the folded bias) + Relu, the stem's MaxPool, each block's end as Relu(Add(conv3, skip)), GlobalAveragePool,
/// Flatten + Gemm for fc. The same folded weights as <see cref="DeviceResNet50"/>.
/// </summary>
public static class OnnxResNet50
{
    public static OnnxGraph Build(ResNet50Model model, TensorShape inputShape)
    {
        var g = new OnnxGraph(inputShape);
        var x = g.Relu(g.ConvBn(model.Stem, g.Input));
        x = g.MaxPool(ResNet50Model.StemPool, x);
        foreach (var b in model.Blocks)
        {
            var h = g.Relu(g.ConvBn(b.Reduce, x));
            h = g.Relu(g.ConvBn(b.Spatial, h));
            h = g.ConvBn(b.Expand, h);
            var skip = b.Downsample is { } d ? g.ConvBn(d, x) : x;
            x = g.Relu(g.Add(h, skip));
        }
        g.Classifier("fc", model.FcWeight, model.FcBias, g.GlobalAveragePool(x));
        return g;
    }
}
