using System.Runtime.Intrinsics.X86;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// Shifted-direct on the Vector256 tier (AVX2 + FMA; <see cref="RowTileKernels256"/>: 6- and 4-channel × 16-pixel row
/// tiles, a last 1, 2, 3 or 5 channels through the zero-padded edge tile, a row's last tile masked) against the float64
/// reference: the stems of MobileNetV2 / EfficientNet-B0 (3 → 32 3x3/2) and ResNet-50 (3 → 64 7x7/2) at small sizes,
/// odd widths, padding, stride 1 and 2, groups, batches, with and without bias, and the activations it fuses
/// (ReLU, ReLU6 in the tiles' stores, SiLU over the rows); the kernels alone write nothing past a tile's columns and
/// hold the bits of a sequential FMA chain. The tier is forced to Vector256, so these run on AVX-512 machines too.
/// </summary>
public class Avx2ShiftedDirectTests
{
    const double Tolerance = 1e-5;

    static ConvProblem Problem(int n, int c, int h, int w, int k, int r, int stride, int[] pads, int groups = 1) =>
        ConvProblem.Create(new ConvSpec([r, r], [stride], [1], padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: groups),
            new TensorShape(n, c, h, w), new TensorShape(k, c / groups, r, r));

    static ConvAlgorithm ShiftedDirect(CpuBackend cpu, ConvProblem p) =>
        cpu.GetAlgorithms(p, ConvPrecision.Strict).SingleOrDefault(a => a.Name == CpuBackend.ShiftedDirect)
            ?? throw new AssertionException($"shifted-direct not offered on tier {cpu.Tier} for {p}");

    /// <summary>act(conv + bias) of the float64 reference against the backend's fused run; the worse error of two runs (y NaN-filled before each).</summary>
    static double Error(CpuBackend cpu, ConvProblem p, bool withBias, Activation act, int seed = 7)
    {
        var algo = ShiftedDirect(cpu, p);
        var (x, w) = (HostTensor.Random(p.XShape, seed), HostTensor.Random(p.WShape, seed + 1));
        var b = HostTensor.Random(new TensorShape(p.K), seed + 2);
        for (int i = 0; i < b.Data.Length; i++) b.Data[i] *= 4f;   // both sides of ReLU6's 6 and SiLU's curve
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], withBias ? b.Data : default);
        for (int i = 0; i < expected.Length; i++) expected[i] = CpuFusedActivationTests.Act(act, expected[i]);
        var y = new HostTensor(p.YShape);
        IFusedBiasActivation fused = cpu;
        double worst = 0;
        for (int run = 0; run < 2; run++)
        {
            Array.Fill(y.Data, float.NaN);
            var t = new ConvTensors(x, w, y, withBias ? b : null) { ConstantWeights = run == 1 };
            if (act == Activation.Identity) cpu.Run(p, algo, t);
            else Assert.That(fused.TryRunBiasActivation(p, algo, t, act), Is.True, "the cpu backend fuses the activation");
            double e = ErrorMetrics.Compare(y.Data, expected).MaxRelative;
            worst = Math.Max(worst, double.IsFinite(e) ? e : double.PositiveInfinity);
        }
        return worst;
    }

    // Channel splits: 32 = 4 × 6 + 4 + 4, 64 = 10 × 6 + 4, 16 = 6 + 6 + 4, 13 = 6 + 6 + edge 1, 10 = 6 + 4, 11 = 6 + edge 5,
    // 3 (edge only), 20 = 6 + 6 + 4 + 4; widths 16 (one whole tile), 17, 23, 31 (masked last tiles of 1, 7, 15 pixels), 40, 56, 57.
    [TestCase(1, 3, 64, 64, 32, 3, 2, new[] { 1, 1, 1, 1 }, 1)]       // MobileNetV2 / EfficientNet-B0 stem, 32 × 32 out
    [TestCase(2, 3, 45, 61, 32, 3, 2, new[] { 1, 1, 1, 1 }, 1)]       // the same, odd sizes: 23 × 31 out, batch 2
    [TestCase(1, 3, 64, 80, 64, 7, 2, new[] { 3, 3, 3, 3 }, 1)]       // ResNet-50 stem, 32 × 40 out
    [TestCase(1, 3, 47, 113, 64, 7, 2, new[] { 3, 3, 3, 3 }, 1)]      // the same, odd: 24 × 57 out
    [TestCase(1, 3, 20, 17, 16, 3, 1, new[] { 1, 1, 1, 1 }, 1)]       // stride 1, 17 wide
    [TestCase(1, 4, 19, 23, 13, 3, 1, new[] { 1, 0, 0, 1 }, 1)]       // asymmetric padding, edge 1, 23 wide
    [TestCase(2, 5, 21, 40, 10, 5, 1, new[] { 2, 2, 2, 2 }, 1)]       // 5x5, 6 + 4
    [TestCase(1, 2, 18, 33, 11, 3, 2, new[] { 0, 1, 2, 0 }, 1)]       // stride 2 unpadded top, edge 5, 16 wide
    [TestCase(1, 3, 12, 31, 3, 3, 1, new[] { 1, 1, 1, 1 }, 1)]        // 3 channels: the edge tile only, 31 wide
    [TestCase(1, 6, 15, 56, 40, 3, 1, new[] { 1, 1, 1, 1 }, 2)]       // groups: 20 a group, 56 wide
    [TestCase(1, 16, 9, 20, 24, 4, 1, new[] { 0, 0, 0, 0 }, 1)]       // depth 256 (MaxDepth), unpadded, 17 wide
    public void MatchesReference(int n, int c, int h, int w, int k, int r, int stride, int[] pads, int groups)
    {
        using var cpu = Avx2Tier.Backend();
        var p = Problem(n, c, h, w, k, r, stride, pads, groups);
        Assert.Multiple(() =>
        {
            foreach (bool bias in new[] { true, false })
                Assert.That(Error(cpu, p, bias, Activation.Identity), Is.LessThan(Tolerance), $"{p}, bias {bias}");
            foreach (var act in new[] { Activation.Relu, Activation.Relu6, Activation.Silu, Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid, Activation.Gelu, Activation.GeluTanh })
                Assert.That(Error(cpu, p, withBias: true, act), Is.LessThan(Tolerance), $"{p}, {act}");
        });
    }

    /// <summary>Other thread counts cut the output rows into other runs, each padding its own window of the input.</summary>
    [TestCase(1)]
    [TestCase(3)]
    public void StemsMatchReferenceOnAnyThreadCount(int threads)
    {
        Avx2Tier.Require();
        using var cpu = new CpuBackend(threads, GemmTier.Vector256);
        foreach (var p in new[] { Problem(1, 3, 96, 96, 64, 7, 2, [3, 3, 3, 3]), Problem(2, 3, 57, 83, 32, 3, 2, [1, 1, 1, 1]) })
            Assert.That(Error(cpu, p, withBias: true, Activation.Relu6), Is.LessThan(Tolerance), p.ToString());
    }

    /// <summary>
    /// A 6- or 4-row tile alone for every column count 1..16: the first <c>cols</c> floats of each of its rows hold the bits of
    /// bias + a sequential FMA chain from zero (MathF.FusedMultiplyAdd, p in order), and nothing else of y changes: not the
    /// row's floats past cols (the next row's start when y's rows are cols apart), not the rows past the tile's.
    /// </summary>
    [TestCase(6)]
    [TestCase(4)]
    public unsafe void TileHoldsTheFmaChainsBitsAndWritesNothingPastIt(int mr)
    {
        Avx2Tier.Require();
        const int depth = 27, ldb = 40;
        var rng = new Random(3);
        float[] a = Enumerable.Range(0, mr * depth).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, depth * ldb + 16).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] bias = Enumerable.Range(0, mr).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // B row p starts at an odd offset per row (as taps in a phase plane do): p * ldb + p % 3.
        nint[] offsets = Enumerable.Range(0, depth).Select(p => (nint)(p * ldb + p % 3)).ToArray();
        for (int cols = 1; cols <= 16; cols++)
        {
            int ldy = cols;   // rows packed tight: a store past cols lands in the next row (or past the tile)
            var y = new float[(mr + 1) * ldy + 16];
            Array.Fill(y, float.NaN);
            fixed (float* pa = a, pb = b, pbias = bias, py = y)
            fixed (nint* po = offsets)
            {
                if (mr == 6) RowTileKernels256.Tile6x16<NoActivation>(depth, pa, depth, pb, po, py, ldy, pbias, cols);
                else RowTileKernels256.Tile4x16<NoActivation>(depth, pa, depth, pb, po, py, ldy, pbias, cols);
            }
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < cols; j++)
                {
                    float s = 0;
                    for (int p = 0; p < depth; p++) s = MathF.FusedMultiplyAdd(a[i * depth + p], b[offsets[p] + j], s);
                    Assert.That(BitConverter.SingleToInt32Bits(y[i * ldy + j]), Is.EqualTo(BitConverter.SingleToInt32Bits(s + bias[i])),
                        $"{mr} x 16, cols {cols}: y[{i}, {j}]");
                }
            for (int at = mr * ldy; at < y.Length; at++)
                Assert.That(float.IsNaN(y[at]), Is.True, $"{mr} x 16, cols {cols}: wrote {y[at]} {at - mr * ldy} floats past the tile");
        }
    }

    /// <summary>
    /// On an AVX-512 machine the ymm tiles give the zmm tiles' results bit for bit: each output the same sequential FMA chain
    /// from zero over the same taps in the same order, then the bias and the activation.
    /// </summary>
    [Test]
    public void SameResultsAsTheAvx512Path()
    {
        if (!GemmTiers.IsSupported(GemmTier.Vector512) || !Avx512F.IsSupported) Assert.Ignore("needs AVX-512 to compare with");
        using var narrow = Avx2Tier.Backend();
        using var wide = new CpuBackend(2, GemmTier.Vector512);
        foreach (var p in new[] { Problem(1, 3, 64, 80, 64, 7, 2, [3, 3, 3, 3]), Problem(2, 3, 45, 61, 13, 3, 2, [1, 1, 1, 1]) })
        {
            var (x, w) = (HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2));
            var b = HostTensor.Random(new TensorShape(p.K), 3);
            var (y1, y2) = (new HostTensor(p.YShape), new HostTensor(p.YShape));
            narrow.Run(p, ShiftedDirect(narrow, p), new ConvTensors(x, w, y1, b));
            wide.Run(p, ShiftedDirect(wide, p), new ConvTensors(x, w, y2, b));
            Assert.That(y1.Data, Is.EqualTo(y2.Data), p.ToString());
        }
    }

    /// <summary>Offered on Vector256 with AVX2 + FMA where it is on Vector512 (shallow, rows of 16 pixels or more), not below, and not for deep sums or narrow rows.</summary>
    [Test]
    public void OfferedOnAvx2WhereItApplies()
    {
        using var cpu = Avx2Tier.Backend();
        var stem = Problem(1, 3, 224, 224, 64, 7, 2, [3, 3, 3, 3]);
        var deep = Problem(1, 64, 56, 56, 64, 3, 1, [1, 1, 1, 1]);           // depth 576
        var narrowRows = Problem(1, 3, 20, 20, 16, 7, 2, [3, 3, 3, 3]);      // 10 pixels a row
        Assert.That(cpu.GetAlgorithms(stem, ConvPrecision.Strict).Select(a => a.Name), Does.Contain(CpuBackend.ShiftedDirect));
        foreach (var p in new[] { deep, narrowRows })
            Assert.That(cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Does.Not.Contain(CpuBackend.ShiftedDirect), p.ToString());
        foreach (var tier in new[] { GemmTier.Vector128, GemmTier.Scalar }.Where(GemmTiers.IsSupported))
        {
            using var lower = new CpuBackend(1, tier);
            Assert.That(lower.GetAlgorithms(stem, ConvPrecision.Strict).Select(a => a.Name), Does.Not.Contain(CpuBackend.ShiftedDirect), tier.ToString());
        }
    }
}
