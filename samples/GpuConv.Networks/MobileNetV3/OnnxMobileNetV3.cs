using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks.MobileNetV3;

/// <summary>
/// <see cref="MobileNetV3Model"/> as one ONNX graph (opset 17), the way an exporter writes a BatchNorm-folded
/// MobileNetV3: Conv (with the folded bias) + Relu or HardSwish, the projections without activation, each
/// squeeze-and-excitation block as GlobalAveragePool, Conv + Relu, Conv, HardSigmoid (alpha 1/6, beta 0.5: torch's
/// hardsigmoid) and Mul (broadcasting the [N, C, 1, 1] gate), Add for each residual, GlobalAveragePool, the hidden linear
/// as a 1×1 Conv + HardSwish (as GpuConv runs it), Flatten + Gemm for the classifier. The same folded weights as
/// <see cref="DeviceMobileNetV3"/>.
/// </summary>
public static class OnnxMobileNetV3
{
    public static OnnxGraph Build(MobileNetV3Model model, TensorShape inputShape)
    {
        var g = new OnnxGraph(inputShape);
        string Activated(ConvBn c, string x, bool hardswish) => hardswish ? g.HardSwish(g.ConvBn(c, x)) : g.Relu(g.ConvBn(c, x));
        var x = Activated(model.Stem, g.Input, hardswish: true);
        foreach (var b in model.Blocks)
        {
            var h = b.Expand is { } e ? Activated(e, x, b.Hardswish) : x;
            h = Activated(b.Depthwise, h, b.Hardswish);
            if (b.Se is { } se) h = g.SqueezeExcite(se, h);
            h = g.ConvBn(b.Project, h);
            x = b.Residual ? g.Add(x, h) : h;
        }
        x = g.GlobalAveragePool(Activated(model.Last, x, hardswish: true));
        x = g.HardSwish(g.Conv("classifier.0", MobileNetV3Model.Linear, model.HiddenWeight, model.HiddenBias, x));
        g.Classifier("classifier.3", model.ClassifierWeight, model.ClassifierBias, x);
        return g;
    }
}
