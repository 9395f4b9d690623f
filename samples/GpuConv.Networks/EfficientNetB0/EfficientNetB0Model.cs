using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Networks.EfficientNetB0;

/// <summary>
/// torchvision's MBConv: expand 1×1 + BN + SiLU (absent when the expansion ratio is 1), depthwise k×k (stride s, pad k/2,
/// groups = channels) + BN + SiLU, a squeeze-and-excitation block on the depthwise output (SiLU inside, sigmoid gate,
/// squeezing to a quarter of the block's input channels), project 1×1 + BN with no activation; the block's input is
/// added to the projection when <see cref="Residual"/> (stride 1 and as many channels out as in). Stochastic depth is
/// the identity at inference.
/// </summary>
public sealed record MBConv(ConvBn? Expand, ConvBn Depthwise, SqueezeExcitation Se, ConvBn Project, bool Residual);

/// <summary>
/// EfficientNet-B0 as torchvision builds it (width and depth 1.0): stem 3×3/2 conv 32 + BN + SiLU, 16 MBConv blocks from
/// <see cref="Setting"/> (the stride on each stage's first block), last 1×1 conv 1280 + BN + SiLU, global average pool,
/// classifier Linear 1280 → classes (dropout is the identity in eval mode; here a 1×1 convolution with bias on
/// [N, 1280, 1, 1]). BatchNorm epsilon torch's default 1e-5. Random parameters as <see cref="RandomWeights"/> draws them.
/// </summary>
public sealed class EfficientNetB0Model : INetworkModel
{
    /// <summary>torchvision's B0 stages: expansion ratio, kernel, first stride, output channels, blocks.</summary>
    public static IReadOnlyList<(int Expansion, int Kernel, int Stride, int Out, int Blocks)> Setting { get; } =
        [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)];
    public const int StemChannels = 32, LastChannels = 1280;

    public required ConvBn Stem { get; init; }
    public required IReadOnlyList<MBConv> Blocks { get; init; }
    public required ConvBn Last { get; init; }
    public required HostTensor ClassifierWeight { get; init; }
    public required HostTensor ClassifierBias { get; init; }
    public int Classes => ClassifierWeight.Shape.Dims[0];
    public static ConvSpec Classifier { get; } = new([1, 1]);

    public static EfficientNetB0Model Create(int seed = 50, int classes = 1000)
    {
        var random = new RandomWeights(seed);
        var stem = random.ConvBn("features.0", NetworkApp.InputChannels, StemChannels, 3, 2);
        var blocks = new List<MBConv>();
        int inC = StemChannels;
        foreach (var (t, k, s, c, n) in Setting)
            for (int i = 0; i < n; i++)
            {
                int stride = i == 0 ? s : 1, expanded = MobileNetV3.MobileNetV3Model.MakeDivisible(inC * t);
                string name = $"blocks.{blocks.Count}";
                var expand = expanded == inC ? null : random.ConvBn($"{name}.expand", inC, expanded, 1, 1);
                var depthwise = random.ConvBn($"{name}.dw", expanded, expanded, k, stride, groups: expanded);
                var se = random.SqueezeExcitation($"{name}.se", expanded, Math.Max(1, inC / 4), Activation.Silu, SqueezeGate.Sigmoid);
                var project = random.ConvBn($"{name}.project", expanded, c, 1, 1);
                blocks.Add(new MBConv(expand, depthwise, se, project, Residual: stride == 1 && inC == c));
                inC = c;
            }
        var last = random.ConvBn("features.8", inC, LastChannels, 1, 1);
        double bound = 1 / Math.Sqrt(LastChannels);
        return new EfficientNetB0Model
        {
            Stem = stem, Blocks = blocks, Last = last,
            ClassifierWeight = random.Uniform([classes, LastChannels, 1, 1], bound), ClassifierBias = random.Uniform([classes], bound),
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
        Convolutions().Sum(c => c.ParameterCount) + Blocks.Sum(b => b.Se.ParameterCount) + ClassifierWeight.Shape.ElementCount + ClassifierBias.Shape.ElementCount;

    public string Summary =>
        $"EfficientNet-B0: {Convolutions().Count()} convolutions (BatchNorm folded; {Blocks.Count} depthwise, {Blocks.Count(b => b.Residual)} residual adds) + {Blocks.Count} squeeze-excitation blocks + classifier, {ParameterCount / 1e6:0.00} M parameters";

    public DeviceNetwork Place(ConvEngine engine, TensorShape inputShape) => new DeviceEfficientNetB0(engine, this, inputShape);

    public Onnx.OnnxGraph ToOnnx(TensorShape inputShape) => OnnxEfficientNetB0.Build(this, inputShape);

    public double[] Reference(HostTensor input) => ReferenceEfficientNetB0.Run(this, input);
}
