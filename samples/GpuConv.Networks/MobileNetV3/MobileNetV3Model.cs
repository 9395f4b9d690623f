using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Networks.MobileNetV3;

/// <summary>
/// torchvision's MobileNetV3 InvertedResidual: expand 1×1 + BN + activation (absent when the expanded width equals the
/// input's), depthwise k×k (stride s, pad k/2, groups = channels) + BN + activation, a squeeze-and-excitation block on
/// the depthwise output where <see cref="Se"/> is set (ReLU inside, hardsigmoid gate), project 1×1 + BN with no
/// activation; the block's input is added to the projection when <see cref="Residual"/> (stride 1 and as many channels
/// out as in). The activation is hardswish where <see cref="Hardswish"/> ("HS" in torchvision's table), else ReLU ("RE").
/// </summary>
public sealed record MobileNetV3Block(ConvBn? Expand, ConvBn Depthwise, SqueezeExcitation? Se, ConvBn Project, bool Hardswish, bool Residual);

/// <summary>
/// MobileNetV3-Large as torchvision builds it (width 1.0, no dilation): stem 3×3/2 conv 16 + BN + hardswish, 15 inverted
/// residual blocks from <see cref="Setting"/>, last 1×1 conv 960 + BN + hardswish, global average pool, classifier
/// Linear 960 → 1280 + hardswish, then Linear 1280 → classes (dropout is the identity in eval mode; both linears here 1×1
/// convolutions with bias on [N, C, 1, 1]). Every BatchNorm has torchvision's epsilon 0.001. The SE blocks squeeze to
/// <see cref="MakeDivisible"/>(expanded / 4). Random parameters as <see cref="RandomWeights"/> draws them.
/// </summary>
public sealed class MobileNetV3Model : INetworkModel
{
    /// <summary>torchvision's mobilenet_v3_large table: kernel, expanded width, output channels, SE, hardswish, stride.</summary>
    public static IReadOnlyList<(int Kernel, int Expanded, int Out, bool Se, bool Hardswish, int Stride)> Setting { get; } =
    [
        (3, 16, 16, false, false, 1), (3, 64, 24, false, false, 2), (3, 72, 24, false, false, 1),
        (5, 72, 40, true, false, 2), (5, 120, 40, true, false, 1), (5, 120, 40, true, false, 1),
        (3, 240, 80, false, true, 2), (3, 200, 80, false, true, 1), (3, 184, 80, false, true, 1), (3, 184, 80, false, true, 1),
        (3, 480, 112, true, true, 1), (3, 672, 112, true, true, 1),
        (5, 672, 160, true, true, 2), (5, 960, 160, true, true, 1), (5, 960, 160, true, true, 1),
    ];
    public const int StemChannels = 16, LastChannels = 960, HiddenChannels = 1280;
    /// <summary>torchvision's MobileNetV3 BatchNorm epsilon (nn.BatchNorm2d(eps=0.001)).</summary>
    public const double BatchNormEps = 1e-3;

    public required ConvBn Stem { get; init; }
    public required IReadOnlyList<MobileNetV3Block> Blocks { get; init; }
    public required ConvBn Last { get; init; }
    public required HostTensor HiddenWeight { get; init; }
    public required HostTensor HiddenBias { get; init; }
    public required HostTensor ClassifierWeight { get; init; }
    public required HostTensor ClassifierBias { get; init; }
    public int Classes => ClassifierWeight.Shape.Dims[0];
    /// <summary>Both linears of the classifier as 1×1 convolutions.</summary>
    public static ConvSpec Linear { get; } = new([1, 1]);

    /// <summary>torchvision's _make_divisible(v, divisor): v rounded to the nearest multiple of divisor (at least divisor), raised a step if that lost more than 10%.</summary>
    public static int MakeDivisible(double v, int divisor = 8)
    {
        int rounded = Math.Max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * v ? rounded + divisor : rounded;
    }

    public static MobileNetV3Model Create(int seed = 50, int classes = 1000)
    {
        var random = new RandomWeights(seed);
        ConvBn Conv(string name, int inC, int outC, int k, int stride, int groups = 1) =>
            random.ConvBn(name, inC, outC, k, stride, groups, eps: BatchNormEps);
        var stem = Conv("features.0", NetworkApp.InputChannels, StemChannels, 3, 2);
        var blocks = new List<MobileNetV3Block>();
        int inC = StemChannels;
        foreach (var (k, expanded, outC, se, hardswish, stride) in Setting)
        {
            string name = $"features.{blocks.Count + 1}";
            var expand = expanded == inC ? null : Conv($"{name}.expand", inC, expanded, 1, 1);
            var depthwise = Conv($"{name}.dw", expanded, expanded, k, stride, groups: expanded);
            var squeeze = se ? random.SqueezeExcitation($"{name}.se", expanded, MakeDivisible(expanded / 4), Activation.Relu, SqueezeGate.Hardsigmoid) : null;
            var project = Conv($"{name}.project", expanded, outC, 1, 1);
            blocks.Add(new MobileNetV3Block(expand, depthwise, squeeze, project, hardswish, Residual: stride == 1 && inC == outC));
            inC = outC;
        }
        var last = Conv($"features.{blocks.Count + 1}", inC, LastChannels, 1, 1);
        double hiddenBound = 1 / Math.Sqrt(LastChannels), bound = 1 / Math.Sqrt(HiddenChannels);
        return new MobileNetV3Model
        {
            Stem = stem, Blocks = blocks, Last = last,
            HiddenWeight = random.Uniform([HiddenChannels, LastChannels, 1, 1], hiddenBound), HiddenBias = random.Uniform([HiddenChannels], hiddenBound),
            ClassifierWeight = random.Uniform([classes, HiddenChannels, 1, 1], bound), ClassifierBias = random.Uniform([classes], bound),
        };
    }

    /// <summary>Every convolution with a BatchNorm, in order (stem, then per block expand, depthwise, project, then the last).</summary>
    public IEnumerable<ConvBn> Convolutions()
    {
        yield return Stem;
        foreach (var b in Blocks)
        {
            if (b.Expand is { } e) yield return e;
            yield return b.Depthwise;
            yield return b.Project;
        }
        yield return Last;
    }

    /// <summary>Parameters (weights, biases, BatchNorm affine values; not the running statistics), counted as torchvision's model has them.</summary>
    public long ParameterCount =>
        Convolutions().Sum(c => c.ParameterCount) + Blocks.Sum(b => b.Se?.ParameterCount ?? 0)
        + HiddenWeight.Shape.ElementCount + HiddenBias.Shape.ElementCount + ClassifierWeight.Shape.ElementCount + ClassifierBias.Shape.ElementCount;

    public string Summary =>
        $"MobileNetV3-Large: {Convolutions().Count()} convolutions (BatchNorm folded; {Blocks.Count} depthwise, {Blocks.Count(b => b.Residual)} residual adds) + {Blocks.Count(b => b.Se is not null)} squeeze-excitation blocks + 2-layer classifier, {ParameterCount / 1e6:0.00} M parameters";

    public DeviceNetwork Place(ConvEngine engine, TensorShape inputShape) => new DeviceMobileNetV3(engine, this, inputShape);

    public Onnx.OnnxGraph ToOnnx(TensorShape inputShape) => OnnxMobileNetV3.Build(this, inputShape);

    public double[] Reference(HostTensor input) => ReferenceMobileNetV3.Run(this, input);
}
