using System.Runtime.Intrinsics.X86;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The AVX2 (Vector256) paths of channel-tiled, Winograd F(2×2) and F(4×4): the ymm channel-tile kernels
/// (<see cref="ChannelTileKernels256"/>: 64-channel tiles as 16-channel quarters, 32-channel half tiles of up
/// to 12 pixels in two groups) and the ymm Winograd transforms, against the float64 reference. The tier is
/// forced to Vector256, so these run on AVX-512 machines too; <see cref="SimdTierChildProcessTests"/> runs
/// them again in a child with AVX-512 switched off. Tolerances as for the AVX-512 paths (ChannelTiledTests,
/// WinogradTests, Winograd4x4Tests): 1e-5 max relative error.
/// </summary>
public class Avx2ChannelTileTests
{
    const double Tolerance = 1e-5;

    static ConvProblem Problem(int n, int c, int h, int w, int k, int r, int stride, int[] pads, int groups) =>
        ConvProblem.Create(new ConvSpec([r, r], [stride], [1], padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: groups),
            new TensorShape(n, c, h, w), new TensorShape(k, c / groups, r, r));

    /// <summary>Runs <paramref name="algorithm"/> twice (constant weights: packed, then cached; or per call) and returns y of the second run and the worse error.</summary>
    static (float[] Y, double Error) Run(CpuBackend cpu, ConvProblem p, string algorithm, bool constant, int seed = 5)
    {
        // Looked up among the constant-weight candidates (Winograd is offered for those only); run as `constant` says.
        var algo = cpu.GetAlgorithms(p.WithConstantWeights(true), ConvPrecision.Strict).SingleOrDefault(a => a.Name == algorithm)
            ?? throw new AssertionException($"{algorithm} not offered on tier {cpu.Tier} for {p}");
        var (x, w) = (HostTensor.Random(p.XShape, seed), HostTensor.Random(p.WShape, seed + 1));
        var b = HostTensor.Random(new TensorShape(p.K), seed + 2);
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], b.Data);
        double worst = 0;
        var y = new HostTensor(p.YShape);
        for (int run = 0; run < 2; run++)
        {
            Array.Fill(y.Data, float.NaN);
            cpu.Run(p, algo, new ConvTensors(x, w, y, b) { ConstantWeights = constant });
            double e = ErrorMetrics.Compare(y.Data, expected).MaxRelative;
            worst = Math.Max(worst, double.IsFinite(e) ? e : double.PositiveInfinity);
        }
        return (y.Data, worst);
    }

    // Pointwise in place, strided 1x1 (subsampled copy), padded 3x3 and 5x5 (phase planes), stride 2 and 3,
    // K = 64 (whole tiles), 96 and 160 (a last half tile of 32), 40 (one half tile of 12-pixel groups), 7 × 7 and
    // 1 × 1 planes (tiles of 1 … 6 pixels), groups, batches, deep sums past one K chunk (1024 rows; on this tier
    // swept in k-blocks of 64 rows, see Avx2SweptChannelTileTests).
    [TestCase(1, 64, 14, 14, 64, 1, 1, new[] { 0, 0, 0, 0 }, 1)]
    [TestCase(2, 48, 13, 9, 96, 1, 1, new[] { 0, 0, 0, 0 }, 1)]
    [TestCase(1, 64, 15, 15, 160, 1, 2, new[] { 0, 0, 0, 0 }, 1)]
    [TestCase(1, 32, 11, 13, 64, 3, 1, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(2, 24, 9, 10, 40, 3, 2, new[] { 1, 0, 1, 1 }, 1)]
    [TestCase(1, 16, 12, 12, 96, 5, 3, new[] { 2, 2, 2, 2 }, 1)]
    [TestCase(1, 512, 7, 7, 64, 3, 1, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(3, 64, 1, 1, 128, 1, 1, new[] { 0, 0, 0, 0 }, 1)]
    [TestCase(2, 64, 8, 8, 128, 3, 1, new[] { 1, 1, 1, 1 }, 2)]
    [TestCase(1, 1200, 5, 6, 70, 1, 1, new[] { 0, 0, 0, 0 }, 1)]
    [TestCase(1, 130, 9, 9, 112, 3, 1, new[] { 1, 1, 1, 1 }, 1)]    // two K chunks, a last block of 48 channels (3 quarters)
    public void ChannelTiledMatchesReference(int n, int c, int h, int w, int k, int r, int stride, int[] pads, int groups)
    {
        using var cpu = Avx2Tier.Backend();
        var p = Problem(n, c, h, w, k, r, stride, pads, groups);
        foreach (bool constant in new[] { true, false })
            Assert.That(Run(cpu, p, CpuBackend.ChannelTiled, constant).Error, Is.LessThan(Tolerance), $"{p}, constant weights {constant}");
    }

    // The cases of WinogradTests / Winograd4x4Tests: planes not multiples of the tile (cut tiles), padding
    // 0, 1, 2 and asymmetric, several tile-row chunks, groups, batches, half tiles, one-tile planes, and rows
    // of tiles that fill 8-lane vectors partly (3, 4, 5, 17 and 18 tiles).
    [TestCase(1, 16, 8, 8, 64, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(1, 40, 13, 11, 70, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(2, 24, 9, 14, 32, new[] { 0, 0, 0, 0 }, 1)]
    [TestCase(1, 32, 10, 10, 96, new[] { 2, 1, 0, 2 }, 1)]
    [TestCase(1, 32, 6, 7, 64, new[] { 1, 0, 1, 0 }, 1)]
    [TestCase(3, 128, 30, 30, 64, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(2, 64, 12, 12, 128, new[] { 1, 1, 1, 1 }, 2)]
    [TestCase(1, 512, 7, 7, 64, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(1, 48, 3, 70, 64, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(1, 64, 14, 14, 64, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(2, 32, 1, 1, 64, new[] { 1, 1, 1, 1 }, 1)]
    public void WinogradMatchesReference(int n, int c, int h, int w, int k, int[] pads, int groups)
    {
        using var cpu = Avx2Tier.Backend();
        var p = Problem(n, c, h, w, k, 3, 1, pads, groups);
        Assert.Multiple(() =>
        {
            Assert.That(Run(cpu, p, CpuBackend.Winograd, constant: true).Error, Is.LessThan(Tolerance), $"F(2x2) {p}");
            Assert.That(Run(cpu, p, CpuBackend.Winograd4x4, constant: true).Error, Is.LessThan(Tolerance), $"F(4x4) {p}");
        });
    }

    /// <summary>
    /// The ymm paths do the same operations in the same order as the zmm ones (each output a sequential FMA
    /// chain over the same packed panels, the same transforms): on an AVX-512 machine their results are
    /// identical, bit for bit.
    /// </summary>
    [TestCase(1, 64, 20, 20, 96, 3)]
    [TestCase(2, 128, 7, 7, 64, 1)]
    public void SameResultsAsTheAvx512Paths(int n, int c, int h, int w, int k, int r)
    {
        if (!GemmTiers.IsSupported(GemmTier.Vector512) || !Avx512F.IsSupported) Assert.Ignore("needs AVX-512 to compare with");
        using var narrow = Avx2Tier.Backend();
        using var wide = new CpuBackend(2, GemmTier.Vector512);
        var p = Problem(n, c, h, w, k, r, 1, r == 3 ? [1, 1, 1, 1] : [0, 0, 0, 0], 1);
        var names = r == 3 ? new[] { CpuBackend.ChannelTiled, CpuBackend.Winograd, CpuBackend.Winograd4x4 } : new[] { CpuBackend.ChannelTiled };
        foreach (var name in names)
            Assert.That(Run(narrow, p, name, constant: true).Y, Is.EqualTo(Run(wide, p, name, constant: true).Y), $"{name} on {p}");
    }

    /// <summary>On the Vector256 tier the planner now meets the same candidates as on Vector512 for ResNet-50's 3x3 and 1x1 layers.</summary>
    [Test]
    public void Avx2TierOffersWinogradAndChannelTiled()
    {
        using var cpu = Avx2Tier.Backend();
        var names = cpu.GetAlgorithms(Problem(1, 64, 56, 56, 64, 3, 1, [1, 1, 1, 1], 1).WithConstantWeights(true), ConvPrecision.Strict).Select(a => a.Name).ToList();
        Assert.That(names, Does.Contain(CpuBackend.Winograd4x4).And.Contain(CpuBackend.Winograd).And.Contain(CpuBackend.ChannelTiled), string.Join(", ", names));
        Assert.That(cpu.GetAlgorithms(Problem(1, 256, 14, 14, 1024, 1, 1, [0, 0, 0, 0], 1), ConvPrecision.Strict).Select(a => a.Name),
            Does.Contain(CpuBackend.ChannelTiled));
    }

    /// <summary>
    /// The stems: Vector256 leads with shifted-direct as Vector512 does (its AVX2 tiles: Avx2ShiftedDirectTests; channel-tiled led
    /// here before them), and channel-tiled, still offered, matches the reference on them.
    /// </summary>
    [TestCase(3, 224, 64, 7)]    // ResNet-50's 7x7/2 stem
    [TestCase(3, 224, 32, 3)]    // MobileNetV2's 3x3/2 stem
    public void Avx2TierLeadsStemsWithShiftedDirect(int c, int size, int k, int r)
    {
        using var cpu = Avx2Tier.Backend();
        var p = Problem(1, c, size, size, k, r, 2, [r / 2, r / 2, r / 2, r / 2], 1);
        var names = cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name).ToList();
        Assert.That(names[0], Is.EqualTo(CpuBackend.ShiftedDirect), string.Join(", ", names));
        Assert.That(Run(cpu, p, CpuBackend.ChannelTiled, constant: true).Error, Is.LessThan(Tolerance));
    }
}
