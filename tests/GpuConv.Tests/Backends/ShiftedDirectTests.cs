using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// Shifted-direct (output-row tiles stored straight into y; AVX-512, and AVX2 + FMA: Avx2ShiftedDirectTests) against the float64
/// reference: the ResNet-50 and MobileNetV2 stems, and small-channel problems that cover its row tiles
/// (12 and 8 channels, an edge of 1–7), short last column tiles (16- and 32-wide, masked), stride,
/// dilation, asymmetric padding, groups, batches and ranks 1–3; it is listed only where it applies.
/// </summary>
public class ShiftedDirectTests
{
    const double Tolerance = 1e-5;

    /// <summary>Shifted-direct runs on this machine's best tier: AVX-512, or AVX2 + FMA.</summary>
    static bool Supported => (GemmTiers.Best == GemmTier.Vector512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        || (GemmTiers.Best == GemmTier.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported);

    static ConvProblem Problem(int n, int[] input, int c, int k, int[] kernel, int[] stride, int[] dilation, int[] padBegin, int[] padEnd, int groups) =>
        ConvProblem.Create(new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups),
            new TensorShape([n, c, .. input]), new TensorShape([k, c / groups, .. kernel]));

    [TestCase(1, new[] { 224, 224 }, 3, 64, new[] { 7, 7 }, new[] { 2, 2 }, new[] { 1, 1 }, new[] { 3, 3 }, new[] { 3, 3 }, 1)]   // ResNet-50 conv1
    [TestCase(1, new[] { 224, 224 }, 3, 32, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, 1)]   // MobileNetV2 features.0
    [TestCase(2, new[] { 41, 67 }, 3, 13, new[] { 7, 7 }, new[] { 2, 2 }, new[] { 1, 1 }, new[] { 3, 2 }, new[] { 1, 4 }, 1)]     // 12 + edge 1, 33 columns
    [TestCase(1, new[] { 19, 40 }, 4, 20, new[] { 3, 5 }, new[] { 1, 1 }, new[] { 2, 1 }, new[] { 0, 2 }, new[] { 2, 1 }, 1)]     // 12 + 8, dilation
    [TestCase(1, new[] { 23, 50 }, 6, 44, new[] { 3, 3 }, new[] { 1, 2 }, new[] { 1, 1 }, new[] { 1, 0 }, new[] { 0, 1 }, 2)]     // groups: 22 = 12 + 8 + edge 2
    [TestCase(2, new[] { 9, 31 }, 5, 7, new[] { 5, 3 }, new[] { 1, 1 }, new[] { 1, 2 }, new[] { 2, 1 }, new[] { 2, 1 }, 1)]       // edge tile only, 31 columns
    [TestCase(1, new[] { 100 }, 2, 16, new[] { 9 }, new[] { 3 }, new[] { 1 }, new[] { 4 }, new[] { 2 }, 1)]                       // rank 1: 8 + 8
    [TestCase(1, new[] { 5, 6, 20 }, 3, 24, new[] { 3, 3, 3 }, new[] { 1, 1, 1 }, new[] { 1, 1, 1 }, new[] { 1, 1, 1 }, new[] { 1, 0, 1 }, 1)]   // rank 3
    [TestCase(1, new[] { 12, 70 }, 16, 36, new[] { 3, 5 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 2 }, new[] { 1, 2 }, 1)]   // depth 240, 70 columns
    public void MatchesReference(int n, int[] input, int c, int k, int[] kernel, int[] stride, int[] dilation, int[] padBegin, int[] padEnd, int groups)
    {
        if (!Supported) Assert.Ignore("shifted-direct runs on AVX-512 or AVX2 + FMA only; this machine's best tier is " + GemmTiers.Best);
        using var backend = new CpuBackend(maxDegreeOfParallelism: 3);
        var p = Problem(n, input, c, k, kernel, stride, dilation, padBegin, padEnd, groups);
        Assert.That(backend.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Does.Contain(CpuBackend.ShiftedDirect));
        foreach (bool bias in new[] { true, false })
        {
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, 17, withBias: bias);
            TestContext.Out.WriteLine(where);
            Assert.That(err, Is.LessThan(Tolerance), where);
        }
    }

    /// <summary>Other thread counts cut the output rows into other runs, each padding its own window of the input.</summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(5)]
    public void StemsMatchReferenceOnAnyThreadCount(int threads)
    {
        if (!Supported) Assert.Ignore("shifted-direct runs on AVX-512 or AVX2 + FMA only; this machine's best tier is " + GemmTiers.Best);
        using var backend = new CpuBackend(maxDegreeOfParallelism: threads);
        foreach (var p in new[]
        {
            Problem(2, [224, 224], 3, 64, [7, 7], [2, 2], [1, 1], [3, 3], [3, 3], 1),
            Problem(1, [57, 83], 3, 32, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], 1),
        })
        {
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, 23, withBias: true);
            Assert.That(err, Is.LessThan(Tolerance), where);
        }
    }

    [Test]
    public void ListedOnlyWhereItApplies()
    {
        var stem = Problem(1, [224, 224], 3, 64, [7, 7], [2, 2], [1, 1], [3, 3], [3, 3], 1);
        var deep = Problem(1, [56, 56], 64, 64, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], 1);            // depth 576: several K passes
        var narrowRows = Problem(1, [20, 20], 3, 16, [7, 7], [2, 2], [1, 1], [3, 3], [3, 3], 1);      // 10 columns per output row
        var pointwise = Problem(1, [56, 56], 3, 16, [1, 1], [1, 1], [1, 1], [0, 0], [0, 0], 1);
        var depthwise = Problem(1, [56, 56], 8, 8, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], 8);
        using var best = new CpuBackend(2);
        Assert.That(best.GetAlgorithms(stem, ConvPrecision.Strict)[0].Name, Is.EqualTo(Supported ? CpuBackend.ShiftedDirect : StemLeadBelowVector512(best.Tier)), "the stem leads with shifted-direct where it runs");
        var rows56 = Problem(1, [112, 112], 16, 64, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], 1);      // 56 = 32 + 24 pixels: listed, not first
        Assert.That(best.GetAlgorithms(rows56, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.ShiftedGemm), "a row of 56 pixels wastes 8 of 64 lanes");
        Assert.That(best.GetAlgorithms(rows56, ConvPrecision.Strict).Select(a => a.Name), Supported ? Does.Contain(CpuBackend.ShiftedDirect) : Does.Not.Contain(CpuBackend.ShiftedDirect));
        foreach (var p in new[] { deep, narrowRows, pointwise, depthwise })
            Assert.That(best.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Does.Not.Contain(CpuBackend.ShiftedDirect), p.ToString());
        Assert.That(best.GetAlgorithms(ConvProblem.Create(stem.Spec, stem.XShape, stem.WShape, ConvOp.BackwardData), ConvPrecision.Strict).Select(a => a.Name),
            Does.Not.Contain(CpuBackend.ShiftedDirect), "forward only");
        foreach (var tier in new[] { GemmTier.Vector256, GemmTier.Vector128, GemmTier.Scalar }.Where(GemmTiers.IsSupported))
        {
            using var lower = new CpuBackend(2, tier);
            bool avx2 = tier == GemmTier.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
            Assert.That(lower.GetAlgorithms(stem, ConvPrecision.Strict).Select(a => a.Name), avx2 ? Does.Contain(CpuBackend.ShiftedDirect) : Does.Not.Contain(CpuBackend.ShiftedDirect), tier.ToString());
            Assert.That(lower.GetAlgorithms(stem, ConvPrecision.Strict)[0].Name, Is.EqualTo(StemLeadBelowVector512(tier)), tier.ToString());
        }
    }

    /// <summary>Below Vector512: shifted-direct on AVX2 + FMA (its ymm tiles; Avx2ShiftedDirectTests), shifted-gemm below that.</summary>
    static string StemLeadBelowVector512(GemmTier tier) =>
        tier == GemmTier.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported
            ? CpuBackend.ShiftedDirect : CpuBackend.ShiftedGemm;

    [Test]
    public void RefusesToRunWhereItDoesNotApply()
    {
        using var scalar = new CpuBackend(1, GemmTier.Scalar);
        var p = Problem(1, [40, 40], 3, 8, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], 1);
        var t = new ConvTensors(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(p.YShape));
        var ex = Assert.Throws<ArgumentException>(() => scalar.Run(p, new ConvAlgorithm("cpu", CpuBackend.ShiftedDirect, 6, 0, true), t));
        Assert.That(ex!.Message, Does.Contain("does not apply"));
    }
}
