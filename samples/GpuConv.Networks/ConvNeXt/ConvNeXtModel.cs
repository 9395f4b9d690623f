using GpuConv.Conv;
using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks.ConvNeXt;

/// <summary>A channels-first LayerNorm's affine values (weight and bias [C]; epsilon 1e-6, ConvNeXt's).</summary>
public sealed record ChannelNorm(string Name, HostTensor Weight, HostTensor Bias)
{
    public static LayerNormSpec Spec { get; } = new(1e-6);
    public int Channels => Weight.Shape.ElementCountInt;
}

/// <summary>A convolution with bias (ConvNeXt's layers all have one; there is no BatchNorm to fold).</summary>
public sealed record ConvLayer(string Name, ConvSpec Spec, HostTensor Weight, HostTensor Bias)
{
    public long ParameterCount => Weight.Shape.ElementCount + Bias.Shape.ElementCount;
}

/// <summary>
/// torchvision's CNBlock in eval mode: x + gamma · pw2(GELU(pw1(LayerNorm(dw7x7(x))))), with the two linears as 1×1
/// convolutions (the same floats as nn.Linear on the permuted tensor) and gamma the per-channel layer scale
/// (stochastic depth is the identity in eval mode).
/// </summary>
public sealed record ConvNeXtBlock(ConvLayer Depthwise, ChannelNorm Norm, ConvLayer Expand, ConvLayer Project, HostTensor LayerScale)
{
    public long ParameterCount => Depthwise.ParameterCount + 2L * Norm.Channels + Expand.ParameterCount + Project.ParameterCount + LayerScale.Shape.ElementCount;

    /// <summary>
    /// The projection with the layer scale folded in: gamma·(W·h + b) = (gamma·W)·h + gamma·b per output channel, so the
    /// device runs one convolution added onto the block's input.
    /// </summary>
    public (HostTensor Weight, HostTensor Bias) ScaledProjection()
    {
        var w = Project.Weight;
        int outC = w.Shape.Dims[0], per = w.Shape.ElementCountInt / outC;
        var weight = new HostTensor(w.Shape);
        var bias = new HostTensor(Project.Bias.Shape);
        for (int k = 0; k < outC; k++)
        {
            float g = LayerScale.Data[k];
            for (int i = 0; i < per; i++) weight.Data[k * per + i] = g * w.Data[k * per + i];
            bias.Data[k] = g * Project.Bias.Data[k];
        }
        return (weight, bias);
    }
}

/// <summary>A stage: the downsampling layer before it (LayerNorm + 2×2 stride-2 conv; none before the first) and its blocks.</summary>
public sealed record ConvNeXtStage(ChannelNorm? DownsampleNorm, ConvLayer? Downsample, IReadOnlyList<ConvNeXtBlock> Blocks);

/// <summary>
/// torchvision's convnext_tiny (ConvNeXt-T: depths 3, 3, 9, 3, widths 96, 192, 384, 768; 28,589,128 parameters) with
/// random weights: the 4×4 stride-4 stem conv and its LayerNorm, the four stages, then the global average pool, a
/// LayerNorm and the classifier. Every LayerNorm is channels-first (<see cref="ConvEngine.ChannelLayerNorm"/>: the
/// blocks' nn.LayerNorm on the permuted tensor normalizes the same values), every GELU the exact (erf) form, fused
/// into the expansion's convolution (<see cref="Activation.Gelu"/>).
/// </summary>
public sealed class ConvNeXtModel : INetworkModel
{
    public static readonly int[] Depths = [3, 3, 9, 3], Widths = [96, 192, 384, 768];

    /// <summary>The classifier's input features.</summary>
    public static int LastChannels => Widths[^1];

    /// <summary>The linear layers (the blocks' two and the classifier) as 1×1 convolutions.</summary>
    public static ConvSpec Linear { get; } = new([1, 1]);

    public required ConvLayer Stem { get; init; }
    public required ChannelNorm StemNorm { get; init; }
    public required IReadOnlyList<ConvNeXtStage> Stages { get; init; }
    public required ChannelNorm HeadNorm { get; init; }
    public required HostTensor ClassifierWeight { get; init; }
    public required HostTensor ClassifierBias { get; init; }
    public int Classes => ClassifierWeight.Shape.Dims[0];

    public IEnumerable<ConvNeXtBlock> Blocks => Stages.SelectMany(s => s.Blocks);

    /// <summary>Parameters (weights, biases, LayerNorm affine values, layer scales), counted as torchvision's model has them.</summary>
    public long ParameterCount =>
        Stem.ParameterCount + 2L * StemNorm.Channels
        + Stages.Sum(s => (s.DownsampleNorm is { } n ? 2L * n.Channels : 0) + (s.Downsample?.ParameterCount ?? 0) + s.Blocks.Sum(b => b.ParameterCount))
        + 2L * HeadNorm.Channels + ClassifierWeight.Shape.ElementCount + ClassifierBias.Shape.ElementCount;

    public string Summary =>
        $"ConvNeXt-T: {1 + Blocks.Count() * 3 + Stages.Count(s => s.Downsample is not null)} convolutions ({Blocks.Count()} blocks: depthwise 7×7, "
        + $"LayerNorm, 1×1 + GELU, 1×1 with layer scale folded, residual add) + classifier, {ParameterCount / 1e6:0.00} M parameters";

    /// <summary>
    /// Random weights: convolutions He-uniform (variance 2/fan_in), biases ±1/√fan_in, LayerNorm weights in [0.5, 1.5] and
    /// biases ±0.1, layer scales in [0.5, 1] (torchvision starts them at 1e-6, which would hide every block from the check).
    /// </summary>
    public static ConvNeXtModel Create(int seed = 50, int classes = 1000)
    {
        var r = new RandomWeights(seed);
        ConvLayer Conv(string name, int inC, int outC, int k, int stride, int groups = 1, int pad = 0)
        {
            int fanIn = inC / groups * k * k;
            return new ConvLayer(name, new ConvSpec([k, k], stride: [stride], padBegin: [pad], groups: groups),
                r.Uniform([outC, inC / groups, k, k], Math.Sqrt(6.0 / fanIn)), r.Uniform([outC], 1 / Math.Sqrt(fanIn)));
        }
        ChannelNorm Norm(string name, int c) => new(name, r.Shifted([c], 1.0, 0.5), r.Uniform([c], 0.1));

        var stages = new List<ConvNeXtStage>();
        for (int s = 0; s < Depths.Length; s++)
        {
            int c = Widths[s];
            var blocks = new List<ConvNeXtBlock>();
            for (int i = 0; i < Depths[s]; i++)
            {
                string name = $"stages.{s}.{i}";
                blocks.Add(new ConvNeXtBlock(Conv($"{name}.dw", c, c, 7, 1, groups: c, pad: 3), Norm($"{name}.norm", c),
                    Conv($"{name}.pw1", c, 4 * c, 1, 1), Conv($"{name}.pw2", 4 * c, c, 1, 1), r.Shifted([c], 0.75, 0.25)));
            }
            stages.Add(s == 0
                ? new ConvNeXtStage(null, null, blocks)
                : new ConvNeXtStage(Norm($"downsample.{s}.norm", Widths[s - 1]), Conv($"downsample.{s}", Widths[s - 1], c, 2, 2), blocks));
        }
        return new ConvNeXtModel
        {
            Stem = Conv("stem", NetworkApp.InputChannels, Widths[0], 4, 4),
            StemNorm = Norm("stem.norm", Widths[0]),
            Stages = stages,
            HeadNorm = Norm("head.norm", LastChannels),
            ClassifierWeight = r.Uniform([classes, LastChannels, 1, 1], 1 / Math.Sqrt(LastChannels)),
            ClassifierBias = r.Uniform([classes], 1 / Math.Sqrt(LastChannels)),
        };
    }

    public DeviceNetwork Place(ConvEngine engine, TensorShape inputShape, bool fused = true) => new DeviceConvNeXt(engine, this, inputShape);

    /// <summary>
    /// The network as one ONNX graph (opset 17), as torch's exporter writes it: Conv with bias; each channels-first
    /// LayerNorm as Transpose, LayerNormalization over the last axis, Transpose; GELU as its formula nodes; the layer
    /// scale folded into the projection's Conv (the weights the device runs); Add; GlobalAveragePool; Flatten + Gemm.
    /// </summary>
    public OnnxGraph ToOnnx(TensorShape inputShape)
    {
        var g = new OnnxGraph(inputShape);
        var x = g.ChannelLayerNorm(StemNorm, Conv(g, Stem, g.Input));
        foreach (var s in Stages)
        {
            if (s.Downsample is { } d) x = Conv(g, d, g.ChannelLayerNorm(s.DownsampleNorm!, x));
            foreach (var b in s.Blocks)
            {
                var h = g.ChannelLayerNorm(b.Norm, Conv(g, b.Depthwise, x));
                h = g.Gelu(Conv(g, b.Expand, h));
                var (w, bias) = b.ScaledProjection();
                x = g.Add(x, g.Conv(b.Project.Name, b.Project.Spec, w, bias, h));
            }
        }
        x = g.ChannelLayerNorm(HeadNorm, g.GlobalAveragePool(x));
        g.Classifier("classifier", ClassifierWeight, ClassifierBias, x);
        return g;
    }

    static string Conv(OnnxGraph g, ConvLayer c, string x) => g.Conv(c.Name, c.Spec, c.Weight, c.Bias, x);

    public double[] Reference(HostTensor input) => ReferenceConvNeXt.Run(this, input);
}
