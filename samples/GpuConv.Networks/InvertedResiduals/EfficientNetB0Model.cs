namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// EfficientNet-B0 as torchvision builds it (width and depth 1.0): stem 3×3/2 conv 32 + BN + SiLU, 16 MBConv blocks
/// (<see cref="InvertedResidual"/>: SiLU, each with a squeeze-and-excitation block with SiLU inside and a sigmoid gate,
/// squeezing to a quarter of the block's input channels) from <see cref="Setting"/> (the stride on each stage's first
/// block), last 1×1 conv 1280 + BN + SiLU, global average pool, classifier Linear 1280 → classes (dropout is the
/// identity in eval mode; here a 1×1 convolution with bias on [N, 1280, 1, 1]). BatchNorm epsilon torch's default 1e-5.
/// Random parameters as <see cref="RandomWeights"/> draws them.
/// </summary>
public sealed class EfficientNetB0Model : InvertedResidualModel
{
    /// <summary>torchvision's B0 stages: expansion ratio, kernel, first stride, output channels, blocks.</summary>
    public static IReadOnlyList<(int Expansion, int Kernel, int Stride, int Out, int Blocks)> Setting { get; } =
        [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)];
    public const int StemChannels = 32, LastChannels = 1280;

    public override Activation StemActivation => Activation.Silu;

    public static EfficientNetB0Model Create(int seed = 50, int classes = 1000)
    {
        var random = new RandomWeights(seed);
        var stem = random.ConvBn("features.0", NetworkApp.InputChannels, StemChannels, 3, 2);
        var blocks = new List<InvertedResidual>();
        int inC = StemChannels;
        foreach (var (t, k, s, c, n) in Setting)
            for (int i = 0; i < n; i++)
            {
                int stride = i == 0 ? s : 1, expanded = MobileNetV3Model.MakeDivisible(inC * t);
                string name = $"blocks.{blocks.Count}";
                var expand = expanded == inC ? null : random.ConvBn($"{name}.expand", inC, expanded, 1, 1);
                var depthwise = random.ConvBn($"{name}.dw", expanded, expanded, k, stride, groups: expanded);
                var se = random.SqueezeExcitation($"{name}.se", expanded, Math.Max(1, inC / 4), Activation.Silu, SqueezeGate.Sigmoid);
                var project = random.ConvBn($"{name}.project", expanded, c, 1, 1);
                blocks.Add(new InvertedResidual(expand, depthwise, se, project, Activation.Silu, Residual: stride == 1 && inC == c));
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

    public override string Summary =>
        $"EfficientNet-B0: {Convolutions().Count()} convolutions (BatchNorm folded; {Blocks.Count} depthwise, {Blocks.Count(b => b.Residual)} residual adds) + {Blocks.Count} squeeze-excitation blocks + classifier, {ParameterCount / 1e6:0.00} M parameters";
}
