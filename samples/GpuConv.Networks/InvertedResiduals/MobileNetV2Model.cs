namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// MobileNetV2 as torchvision builds it (width 1.0), with random weights from a seed: stem 3×3/2 conv 32 + BN + ReLU6,
/// 17 <see cref="InvertedResidual"/> blocks (ReLU6, no squeeze-and-excitation) from the table (t, c, n, s) = (1,16,1,1)
/// (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1) (the stride on each stage's first block), last
/// 1×1 conv 1280 + BN + ReLU6, global average pool, classifier 1280 → classes (dropout is the identity in eval mode;
/// here a 1×1 convolution with bias on [N, 1280, 1, 1]). Random parameters as <see cref="RandomWeights"/> draws them.
/// </summary>
public sealed class MobileNetV2Model : InvertedResidualModel
{
    /// <summary>torchvision's inverted residual setting: expansion t, output channels c, blocks n, first stride s.</summary>
    public static IReadOnlyList<(int T, int C, int N, int S)> Setting { get; } = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
    public const int StemChannels = 32, LastChannels = 1280;

    public override Activation StemActivation => Activation.Relu6;

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
                blocks.Add(new InvertedResidual(expand, depthwise, Se: null, project, Activation.Relu6, Residual: stride == 1 && inC == c));
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

    public override string Summary =>
        $"MobileNetV2: {Convolutions().Count()} convolutions (BatchNorm folded; {Blocks.Count} depthwise, {Blocks.Count(b => b.Residual)} residual adds) + classifier, {ParameterCount / 1e6:0.00} M parameters";
}
