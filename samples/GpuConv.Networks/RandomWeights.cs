using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>
/// The random parameters the models draw from one seeded generator: convolution weights uniform with variance
/// 2/fan_in (He), BatchNorm statistics and affine values random around identity, classifier weights uniform ±1/√fan_in.
/// </summary>
public sealed class RandomWeights(int seed)
{
    readonly Random rng = new(seed);

    float U(double lo, double hi) => (float)(lo + rng.NextDouble() * (hi - lo));

    /// <summary>A tensor of <paramref name="dims"/> uniform in ±<paramref name="bound"/>.</summary>
    public HostTensor Uniform(int[] dims, double bound)
    {
        var t = new HostTensor(new TensorShape(dims));
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = U(-bound, bound);
        return t;
    }

    /// <summary>A tensor of <paramref name="dims"/> uniform in <paramref name="center"/> ± <paramref name="halfWidth"/>.</summary>
    public HostTensor Shifted(int[] dims, double center, double halfWidth)
    {
        var t = new HostTensor(new TensorShape(dims));
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = U(center - halfWidth, center + halfWidth);
        return t;
    }

    /// <summary>gamma uniform in [gammaLo, gammaHi], beta and mean in ±0.1, variance in [0.5, 1.5].</summary>
    public BatchNormParameters BatchNorm(int channels, double gammaLo, double gammaHi) => new(
        [.. Enumerable.Range(0, channels).Select(_ => U(gammaLo, gammaHi))],
        [.. Enumerable.Range(0, channels).Select(_ => U(-0.1, 0.1))],
        [.. Enumerable.Range(0, channels).Select(_ => U(-0.1, 0.1))],
        [.. Enumerable.Range(0, channels).Select(_ => U(0.5, 1.5))]);

    /// <summary>
    /// A k×k convolution (padding k/2, PyTorch's layout [outC, inC/groups, k, k]) + BatchNorm (epsilon
    /// <paramref name="eps"/>: torch's 1e-5 unless the network sets another), He-uniform weights.
    /// </summary>
    public ConvBn ConvBn(string name, int inC, int outC, int k, int stride, int groups = 1, double gammaLo = 0.5, double gammaHi = 1.0, double eps = 1e-5)
    {
        int fanIn = inC / groups * k * k;
        var spec = new ConvSpec([k, k], stride: [stride], padBegin: [k / 2], groups: groups);
        return new ConvBn(name, spec, Uniform([outC, inC / groups, k, k], Math.Sqrt(6.0 / fanIn)), BatchNorm(outC, gammaLo, gammaHi) with { Eps = eps });
    }

    /// <summary>
    /// A squeeze-and-excitation block on <paramref name="channels"/> (<see cref="Networks.SqueezeExcitation"/>): both 1×1
    /// weights He-uniform (the gate's input then spans its curve, clamps included, rather than sitting at its middle),
    /// biases uniform ±1/√fan_in as torch initialises them.
    /// </summary>
    public SqueezeExcitation SqueezeExcitation(string name, int channels, int squeeze, Activation inner, SqueezeGate gate) => new(name,
        Uniform([squeeze, channels, 1, 1], Math.Sqrt(6.0 / channels)), Uniform([squeeze], 1 / Math.Sqrt(channels)),
        Uniform([channels, squeeze, 1, 1], Math.Sqrt(6.0 / squeeze)), Uniform([channels], 1 / Math.Sqrt(squeeze)), inner, gate);
}
