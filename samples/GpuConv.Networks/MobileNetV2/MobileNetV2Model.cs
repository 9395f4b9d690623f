using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Networks.MobileNetV2;

/// <summary>
/// torchvision's InvertedResidual: expand 1×1 + BN + ReLU6 (absent when the expansion t is 1), depthwise 3×3 (stride s,
/// pad 1, groups = channels) + BN + ReLU6, project 1×1 + BN with no activation (the linear bottleneck); the block's
/// input is added to the projection when <see cref="Residual"/> (stride 1 and as many channels out as in).
/// </summary>
public sealed record InvertedResidual(ConvBn? Expand, ConvBn Depthwise, ConvBn Project, bool Residual);

/// <summary>
/// MobileNetV2 as torchvision builds it (width 1.0), with random weights from a seed: stem 3×3/2 conv 32 + BN + ReLU6,
/// 17 inverted residual blocks from the table (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
/// (6,160,3,2) (6,320,1,1) (the stride on each stage's first block), last 1×1 conv 1280 + BN + ReLU6, global average pool,
/// classifier 1280 → classes (dropout is the identity in eval mode; here a 1×1 convolution with bias on [N, 1280, 1, 1]).
/// Random parameters as <see cref="RandomWeights"/> draws them.
/// </summary>
public sealed class MobileNetV2Model : INetworkModel
{
    /// <summary>torchvision's inverted residual setting: expansion t, output channels c, blocks n, first stride s.</summary>
    public static IReadOnlyList<(int T, int C, int N, int S)> Setting { get; } = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
    public const int StemChannels = 32, LastChannels = 1280;

    public required ConvBn Stem { get; init; }
    public required IReadOnlyList<InvertedResidual> Blocks { get; init; }
    public required ConvBn Last { get; init; }
    public required HostTensor ClassifierWeight { get; init; }
    public required HostTensor ClassifierBias { get; init; }
    public int Classes => ClassifierWeight.Shape.Dims[0];
    public static ConvSpec Classifier { get; } = new([1, 1]);

    public static MobileNetV2Model Create(int seed = 50, int classes = 1000)
    {
        var random = new RandomWeights(seed);
        var stem = random.ConvBn("features.0", NetworkApp.InputChannels, StemChannels, 3, 2);
        var blocks = new List<InvertedResidual>();
        int inC = StemChannels;
        foreach (var (t, c, n, s) in Setting)
            for (int i = 0; i < n; i++)
            {
                int stride = i == 0 ? s : 1, hidden = inC * t;
                string name = $"features.{blocks.Count + 1}";
                var expand = t == 1 ? null : random.ConvBn($"{name}.expand", inC, hidden, 1, 1);
                var depthwise = random.ConvBn($"{name}.dw", hidden, hidden, 3, stride, groups: hidden);
                var project = random.ConvBn($"{name}.project", hidden, c, 1, 1);
                blocks.Add(new InvertedResidual(expand, depthwise, project, Residual: stride == 1 && inC == c));
                inC = c;
            }
        var last = random.ConvBn("features.18", inC, LastChannels, 1, 1);
        double bound = 1 / Math.Sqrt(LastChannels);
        return new MobileNetV2Model
        {
            Stem = stem, Blocks = blocks, Last = last,
            ClassifierWeight = random.Uniform([classes, LastChannels, 1, 1], bound), ClassifierBias = random.Uniform([classes], bound),
        };
    }

    /// <summary>Every convolution of the network in order (stem, then per block expand, depthwise, project, then the last).</summary>
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

    /// <summary>Parameters (weights, biases, BatchNorm affine values; not the running statistics), for the printout.</summary>
    public long ParameterCount =>
        Convolutions().Sum(c => c.ParameterCount) + ClassifierWeight.Shape.ElementCount + ClassifierBias.Shape.ElementCount;

    public string Summary =>
        $"MobileNetV2: {Convolutions().Count()} convolutions (BatchNorm folded; {Blocks.Count} depthwise, {Blocks.Count(b => b.Residual)} residual adds) + classifier, {ParameterCount / 1e6:0.00} M parameters";

    public DeviceNetwork Place(ConvEngine engine, TensorShape inputShape) => new DeviceMobileNetV2(engine, this, inputShape);

    public Onnx.OnnxGraph ToOnnx(TensorShape inputShape) => OnnxMobileNetV2.Build(this, inputShape);

    public double[] Reference(HostTensor input) => ReferenceMobileNetV2.Run(this, input);
}
