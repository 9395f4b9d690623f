using GpuConv.Tensors;

namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// MobileNetV3-Large as torchvision builds it (width 1.0, no dilation): stem 3×3/2 conv 16 + BN + hardswish, 15 <see
/// cref="InvertedResidual"/> blocks from <see cref="Setting"/> (hardswish where the table says "HS", else ReLU; the
/// squeeze-and-excitation blocks with ReLU inside and a hardsigmoid gate), last 1×1 conv 960 + BN + hardswish, global
/// average pool, classifier Linear 960 → 1280 + hardswish, then Linear 1280 → classes (dropout is the identity in eval
/// mode; both linears here 1×1 convolutions with bias on [N, C, 1, 1]). Every BatchNorm has torchvision's epsilon
/// 0.001. The SE blocks squeeze to <see cref="MakeDivisible"/>(expanded / 4). Random parameters as <see
/// cref="RandomWeights"/> draws them.
/// </summary>
public sealed class MobileNetV3Model : InvertedResidualModel
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

    public required HostTensor HiddenWeight { get; init; }
    public required HostTensor HiddenBias { get; init; }

    public override Activation StemActivation => Activation.Hardswish;

    /// <summary>The classifier's first linear, 960 → 1280 + hardswish.</summary>
    public override (HostTensor Weight, HostTensor Bias, Activation Activation)? Hidden => (HiddenWeight, HiddenBias, Activation.Hardswish);

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
        var blocks = new List<InvertedResidual>();
        int inC = StemChannels;
        foreach (var (k, expanded, outC, se, hardswish, stride) in Setting)
        {
            string name = $"features.{blocks.Count + 1}";
            var expand = expanded == inC ? null : Conv($"{name}.expand", inC, expanded, 1, 1);
            var depthwise = Conv($"{name}.dw", expanded, expanded, k, stride, groups: expanded);
            var squeeze = se ? random.SqueezeExcitation($"{name}.se", expanded, MakeDivisible(expanded / 4), Activation.Relu, SqueezeGate.Hardsigmoid) : null;
            var project = Conv($"{name}.project", expanded, outC, 1, 1);
            blocks.Add(new InvertedResidual(expand, depthwise, squeeze, project, hardswish ? Activation.Hardswish : Activation.Relu, Residual: stride == 1 && inC == outC));
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

    public override string Summary =>
        $"MobileNetV3-Large: {Convolutions().Count()} convolutions (BatchNorm folded; {Blocks.Count} depthwise, {Blocks.Count(b => b.Residual)} residual adds) + {Blocks.Count(b => b.Se is not null)} squeeze-excitation blocks + 2-layer classifier, {ParameterCount / 1e6:0.00} M parameters";
}
