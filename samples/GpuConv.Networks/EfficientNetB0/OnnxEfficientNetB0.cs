using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks.EfficientNetB0;

/// <summary>
/// <see cref="EfficientNetB0Model"/> as one ONNX graph (opset 17), the way an exporter writes a BatchNorm-folded
/// EfficientNet-B0: Conv (with the folded bias) + SiLU as Sigmoid and Mul, the projections without activation, each
/// squeeze-and-excitation block as GlobalAveragePool, Conv + SiLU, Conv, Sigmoid and Mul (broadcasting the [N, C, 1, 1]
/// gate), Add for each residual, GlobalAveragePool, Flatten + Gemm for the classifier. The same folded weights as
/// <see cref="DeviceEfficientNetB0"/>.
/// </summary>
public static class OnnxEfficientNetB0
{
    public static OnnxGraph Build(EfficientNetB0Model model, TensorShape inputShape)
    {
        var g = new OnnxGraph(inputShape);
        var x = g.Silu(g.ConvBn(model.Stem, g.Input));
        foreach (var b in model.Blocks)
        {
            var h = b.Expand is { } e ? g.Silu(g.ConvBn(e, x)) : x;
            h = g.Silu(g.ConvBn(b.Depthwise, h));
            h = g.SqueezeExcite(b.Se, h);
            h = g.ConvBn(b.Project, h);
            x = b.Residual ? g.Add(x, h) : h;
        }
        x = g.Silu(g.ConvBn(model.Last, x));
        g.Classifier("classifier.1", model.ClassifierWeight, model.ClassifierBias, g.GlobalAveragePool(x));
        return g;
    }
}
