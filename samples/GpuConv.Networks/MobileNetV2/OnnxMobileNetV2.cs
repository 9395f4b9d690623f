using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks.MobileNetV2;

/// <summary>
/// <see cref="MobileNetV2Model"/> as one ONNX graph, the way an exporter writes a BatchNorm-folded MobileNetV2: Conv
/// (with the folded bias) + Clip(0, 6) for each ReLU6, the projections without activation, Add for each residual,
/// GlobalAveragePool, Flatten + Gemm for the classifier. The same folded weights as <see cref="DeviceMobileNetV2"/>.
/// </summary>
public static class OnnxMobileNetV2
{
    public static OnnxGraph Build(MobileNetV2Model model, TensorShape inputShape)
    {
        var g = new OnnxGraph(inputShape);
        var x = g.Relu6(g.ConvBn(model.Stem, g.Input));
        foreach (var b in model.Blocks)
        {
            var h = b.Expand is { } e ? g.Relu6(g.ConvBn(e, x)) : x;
            h = g.Relu6(g.ConvBn(b.Depthwise, h));
            h = g.ConvBn(b.Project, h);
            x = b.Residual ? g.Add(x, h) : h;
        }
        x = g.Relu6(g.ConvBn(model.Last, x));
        g.Classifier("classifier", model.ClassifierWeight, model.ClassifierBias, g.GlobalAveragePool(x));
        return g;
    }
}
