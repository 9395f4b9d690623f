using GpuConv.Conv;
using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// The layout MobileNetV2, MobileNetV3 and EfficientNet share: a stem conv + BN + <see cref="StemActivation"/>, the
/// <see cref="InvertedResidual"/> blocks, a last 1×1 conv + BN + <see cref="StemActivation"/>, the global average pool,
/// MobileNetV3's <see cref="Hidden"/> linear, and the classifier (dropout is the identity in eval mode; the linears are
/// 1×1 convolutions with bias on [N, C, 1, 1]). A subclass builds its blocks from torchvision's table; the device form
/// (<see cref="DeviceInvertedResidualNetwork"/>), the ONNX graph and the float64 reference
/// (<see cref="ReferenceInvertedResidualNetwork"/>) are written once for all three.
/// </summary>
public abstract class InvertedResidualModel : INetworkModel
{
    /// <summary>The linears (classifier, hidden) as 1×1 convolutions.</summary>
    public static ConvSpec Linear { get; } = new([1, 1]);

    public required ConvBn Stem { get; init; }
    public required IReadOnlyList<InvertedResidual> Blocks { get; init; }
    public required ConvBn Last { get; init; }
    public required HostTensor ClassifierWeight { get; init; }
    public required HostTensor ClassifierBias { get; init; }
    public int Classes => ClassifierWeight.Shape.Dims[0];

    /// <summary>The stem's and the last 1×1's activation (ReLU6, hardswish, SiLU).</summary>
    public abstract Activation StemActivation { get; }

    /// <summary>A linear with its activation between the pool and the classifier (MobileNetV3's), or null.</summary>
    public virtual (HostTensor Weight, HostTensor Bias, Activation Activation)? Hidden => null;

    public abstract string Summary { get; }

    /// <summary>Every convolution with a BatchNorm, in order (stem, then per block expand, depthwise, project, then the last).</summary>
    public IEnumerable<ConvBn> Convolutions()
    {
        yield return Stem;
        foreach (var c in Blocks.SelectMany(b => b.Convolutions())) yield return c;
        yield return Last;
    }

    /// <summary>Parameters (weights, biases, BatchNorm affine values; not the running statistics), counted as torchvision's model has them.</summary>
    public long ParameterCount =>
        Stem.ParameterCount + Blocks.Sum(b => b.ParameterCount) + Last.ParameterCount
        + (Hidden is { } h ? h.Weight.Shape.ElementCount + h.Bias.Shape.ElementCount : 0)
        + ClassifierWeight.Shape.ElementCount + ClassifierBias.Shape.ElementCount;

    public DeviceNetwork Place(ConvEngine engine, TensorShape inputShape, bool fused = true) => new DeviceInvertedResidualNetwork(engine, this, inputShape, fused);

    /// <summary>
    /// The folded network as one ONNX graph (opset 17), the way an exporter writes it: Conv (with the folded bias) and
    /// the activation's node (<see cref="OnnxGraph.Activate"/>), the blocks (<see cref="ToOnnx(OnnxGraph, InvertedResidual, string)"/>),
    /// GlobalAveragePool, the hidden linear as a 1×1 Conv (as GpuConv runs it), Flatten + Gemm for the classifier.
    /// </summary>
    public OnnxGraph ToOnnx(TensorShape inputShape)
    {
        var g = new OnnxGraph(inputShape);
        var x = g.Activate(StemActivation, g.ConvBn(Stem, g.Input));
        foreach (var b in Blocks) x = ToOnnx(g, b, x);
        x = g.GlobalAveragePool(g.Activate(StemActivation, g.ConvBn(Last, x)));
        if (Hidden is { } h) x = g.Activate(h.Activation, g.Conv("classifier.hidden", Linear, h.Weight, h.Bias, x));
        g.Classifier("classifier", ClassifierWeight, ClassifierBias, x);
        return g;
    }

    public double[] Reference(HostTensor input) => ReferenceInvertedResidualNetwork.Run(this, input);

    /// <summary>
    /// An <see cref="InvertedResidual"/> block: Conv (folded) + activation for the expansion and the depthwise layer, the
    /// squeeze-and-excitation block where there is one, the projection's Conv without activation, Add for the residual.
    /// </summary>
    static string ToOnnx(OnnxGraph g, InvertedResidual b, string x)
    {
        var h = b.Expand is { } e ? g.Activate(b.Activation, g.ConvBn(e, x)) : x;
        h = g.Activate(b.Activation, g.ConvBn(b.Depthwise, h));
        if (b.Se is { } se) h = g.SqueezeExcite(se, h);
        h = g.ConvBn(b.Project, h);
        return b.Residual ? g.Add(x, h) : h;
    }
}
