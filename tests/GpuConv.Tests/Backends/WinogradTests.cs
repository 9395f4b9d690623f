using GpuConv.Tests.Support;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// The Winograd F(2×2, 3×3) forward path (AVX-512, or AVX2 + FMA: Avx2ChannelTileTests) against the float64 reference: odd and even
/// output sizes (tiles cut by the plane's edge), padding 0, 1, 2 and asymmetric, several tile-row chunks
/// per image, groups, batches, output channels that end in a half tile; weights constant (transformed once) and
/// passed per call (transformed on every run, which the planner offers on large planes only).
/// Its transforms add and halve, so its fp32 error is larger than the direct sum's but of the same order.
/// </summary>
public class WinogradTests
{
    const double Tolerance = 1e-5;

    /// <summary>Skips a test that runs the kernel where the CPU has none; see <see cref="ChannelTileTier"/>.</summary>
    static void RequireKernels() => ChannelTileTier.RequireOffered(CpuBackend.Winograd, Problem(1, 16, 8, 8, 64, [1, 1, 1, 1], 1));

    // Planned with constant weights: the cpu backend offers Winograd for those only.
    static ConvProblem Problem(int n, int c, int h, int w, int k, int[] pads, int groups) =>
        ConvProblem.Create(new ConvSpec([3, 3], [1], [1], padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: groups),
            new TensorShape(n, c, h, w), new TensorShape(k, c / groups, 3, 3)).WithConstantWeights(true);

    [TestCase(1, 16, 8, 8, 64, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(1, 40, 13, 11, 70, new[] { 1, 1, 1, 1 }, 1)]     // odd plane: the last tile row and column half outside; K ends in a half tile
    [TestCase(2, 24, 9, 14, 32, new[] { 0, 0, 0, 0 }, 1)]      // no padding: 7 × 12 outputs
    [TestCase(1, 32, 10, 10, 96, new[] { 2, 1, 0, 2 }, 1)]     // asymmetric padding
    [TestCase(3, 128, 30, 30, 64, new[] { 1, 1, 1, 1 }, 1)]    // 15 tile rows in chunks of a few
    [TestCase(2, 64, 12, 12, 128, new[] { 1, 1, 1, 1 }, 2)]    // groups
    [TestCase(1, 512, 7, 7, 64, new[] { 1, 1, 1, 1 }, 1)]      // deep and small: one tile row per chunk
    public void MatchesReference(int n, int c, int h, int w, int k, int[] pads, int groups)
    {
        RequireKernels();
        using var cpu = new CpuBackend(3);
        var p = Problem(n, c, h, w, k, pads, groups);
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.Winograd);
        var (x, wt, bias) = (HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), HostTensor.Random(new TensorShape(p.K), 3));
        double[] expected = ReferenceConv.Run(p, x.Data, wt.Data, new float[p.YShape.ElementCountInt], bias.Data);
        foreach (bool constant in new[] { false, true, true })
        {
            var y = new HostTensor(p.YShape);
            Array.Fill(y.Data, float.NaN);
            cpu.Run(p, algo, new ConvTensors(x, wt, y, bias) { ConstantWeights = constant });
            var err = ErrorMetrics.Compare(y.Data, expected);
            Assert.That(err.MaxRelative, Is.LessThan(Tolerance), $"{p}, constant weights {constant}: {err}");
        }
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(1), "constant weights are transformed and packed once");
    }

    [Test]
    public void AppliesOnlyToStrideOneUndilated2dThreeByThree()
    {
        using var cpu = new CpuBackend(1);
        bool Has(ConvSpec spec, int c = 64, int k = 64, bool constant = true) => cpu.GetAlgorithms(
            ConvProblem.Create(spec, new TensorShape(1, c, 12, 12), new TensorShape(k, c / spec.Groups, spec.Kernel[0], spec.Kernel[1]))
                .WithConstantWeights(constant),
            ConvPrecision.Strict).Any(a => a.Name == CpuBackend.Winograd);
        Assert.That(Has(new ConvSpec([3, 3], [1], padBegin: [1]), constant: false), Is.False, "weights that change every call on a 12 × 12 plane: W's transform costs more than it saves");
        // Offered exactly where AVX-512 or AVX2 + FMA runs (the Vector512 or Vector256 tier); the refusals below hold on every CPU.
        Assert.That(Has(new ConvSpec([3, 3], [1], padBegin: [1])), Is.EqualTo(ChannelTileTier.HasKernels));
        Assert.That(Has(new ConvSpec([3, 3], [2], padBegin: [1])), Is.False, "stride 2");
        Assert.That(Has(new ConvSpec([3, 3], [1], [2], padBegin: [2])), Is.False, "dilation 2");
        Assert.That(Has(new ConvSpec([5, 5], [1], padBegin: [2])), Is.False, "5x5");
        Assert.That(Has(new ConvSpec([3, 3], [1], padBegin: [1], groups: 64)), Is.False, "depthwise");
        Assert.That(Has(new ConvSpec([3, 3], [1], padBegin: [1]), k: 16), Is.False, "16 output channels: half a half tile");
    }


    /// <summary>
    /// Below the Vector256 tier (forced here, so it runs on AVX2 and AVX-512 machines too) Winograd is never offered,
    /// and what is offered instead still matches the reference (Vector256's Winograd: Avx2WinogradTests).
    /// </summary>
    [Test]
    public void NarrowerTiersNeverOfferWinogradAndStillMatchReference(
        [Values(GpuConv.Cpu.Gemm.GemmTier.Scalar, GpuConv.Cpu.Gemm.GemmTier.Vector128)] GpuConv.Cpu.Gemm.GemmTier tier)
    {
        if (!GpuConv.Cpu.Gemm.GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here");
        using var cpu = new CpuBackend(2, tier);
        var p = Problem(1, 40, 13, 11, 70, [1, 1, 1, 1], 1);
        var names = cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name).ToList();
        Assert.That(names, Is.Not.Empty.And.No.EqualTo(CpuBackend.Winograd).And.No.EqualTo(CpuBackend.ChannelTiled));
        var (err, where) = ConvCheck.AllAlgorithms(cpu, p, 5, withBias: true);
        Assert.That(err, Is.LessThan(Tolerance), where);
    }
}
