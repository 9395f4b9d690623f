using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Networks.ResNet50;

/// <summary>
/// torchvision's Bottleneck (ResNet v1.5: the stride on the 3×3): relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + skip),
/// skip = x or bn(downsample(x)).
/// </summary>
public sealed record Bottleneck(ConvBn Reduce, ConvBn Spatial, ConvBn Expand, ConvBn? Downsample);

/// <summary>
/// ResNet-50 as torchvision builds it, with random weights from a seed: stem 7×7/2 conv + BN + ReLU, max pool 3×3/2 pad 1,
/// 3 + 4 + 6 + 3 bottlenecks (widths 64, 128, 256, 512, expansion 4), global average pool, fully connected 2048 → classes
/// (here a 1×1 convolution with bias on [N, 2048, 1, 1]). Random parameters as <see cref="RandomWeights"/> draws them,
/// the last BatchNorm of each block scaled down (gamma 0.2–0.5) so the residual sum stays O(1) through the 16 blocks.
/// </summary>
public sealed class ResNet50Model : INetworkModel
{
    public static readonly PoolSpec StemPool = new([3, 3], [2], [1]);

    public required ConvBn Stem { get; init; }
    public required IReadOnlyList<Bottleneck> Blocks { get; init; }
    public required HostTensor FcWeight { get; init; }
    public required HostTensor FcBias { get; init; }
    public int Classes => FcWeight.Shape.Dims[0];
    public static ConvSpec Fc { get; } = new([1, 1]);

    public static ResNet50Model Create(int seed = 50, int classes = 1000)
    {
        var random = new RandomWeights(seed);
        ConvBn Conv(string name, int inC, int outC, int k, int stride, double gammaLo = 0.5, double gammaHi = 1.0) =>
            random.ConvBn(name, inC, outC, k, stride, gammaLo: gammaLo, gammaHi: gammaHi);

        var stem = Conv("conv1", NetworkApp.InputChannels, 64, 7, 2);
        var blocks = new List<Bottleneck>();
        int inC = 64;
        foreach (var (layer, width, count, firstStride) in new[] { (1, 64, 3, 1), (2, 128, 4, 2), (3, 256, 6, 2), (4, 512, 3, 2) })
            for (int i = 0; i < count; i++)
            {
                int stride = i == 0 ? firstStride : 1;
                string n = $"layer{layer}.{i}";
                var reduce = Conv($"{n}.conv1", inC, width, 1, 1);
                var spatial = Conv($"{n}.conv2", width, width, 3, stride);
                var expand = Conv($"{n}.conv3", width, width * 4, 1, 1, gammaLo: 0.2, gammaHi: 0.5);
                var down = i == 0 ? Conv($"{n}.downsample", inC, width * 4, 1, stride) : null;
                blocks.Add(new Bottleneck(reduce, spatial, expand, down));
                inC = width * 4;
            }
        double fcBound = 1 / Math.Sqrt(inC);
        return new ResNet50Model { Stem = stem, Blocks = blocks, FcWeight = random.Uniform([classes, inC, 1, 1], fcBound), FcBias = random.Uniform([classes], fcBound) };
    }

    /// <summary>Every convolution of the network in order (stem, then per block reduce, spatial, expand, downsample).</summary>
    public IEnumerable<ConvBn> Convolutions()
    {
        yield return Stem;
        foreach (var b in Blocks)
        {
            yield return b.Reduce;
            yield return b.Spatial;
            yield return b.Expand;
            if (b.Downsample is { } d) yield return d;
        }
    }

    /// <summary>Parameters (weights, biases, BatchNorm affine values; not the running statistics), for the printout.</summary>
    public long ParameterCount =>
        Convolutions().Sum(c => c.ParameterCount) + FcWeight.Shape.ElementCount + FcBias.Shape.ElementCount;

    public string Summary => $"ResNet-50: {Convolutions().Count()} convolutions (BatchNorm folded) + fc, {ParameterCount / 1e6:0.0} M parameters";

    public DeviceNetwork Place(ConvEngine engine, TensorShape inputShape, bool fused = true) => new DeviceResNet50(engine, this, inputShape);

    public Onnx.OnnxGraph ToOnnx(TensorShape inputShape) => OnnxResNet50.Build(this, inputShape);

    public double[] Reference(HostTensor input) => ReferenceResNet50.Run(this, input);
}
