using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The blocked GEMM hands few-row products with a row-major B to <see cref="SmallRowsGemm"/> (B read in place, not
/// packed; up to 48 rows, in passes of 24 on AVX-512 and of 6 on AVX2 by <see cref="SmallRowsGemm256"/>): the route must
/// give the packing driver's bits, since the convolutions that take it (gemm-1x1, the fused inverted residual's
/// projection) are held bit for bit to other paths, and it must be taken where it is meant to.
/// </summary>
public class SgemmSmallRowsRouteTests
{
    [TestCase(GemmTier.Vector512)]
    [TestCase(GemmTier.Vector256)]
    public unsafe void FewRowsWithBInPlaceGiveThePackedDriversBits(GemmTier tier)
    {
        if (!GemmTiers.IsSupported(tier) || !(SmallRowsGemm.Supported(tier) || SmallRowsGemm256.Supported(tier)))
            Assert.Ignore($"{tier} not accelerated here (best {GemmTiers.Best}): its small-rows route is not taken");
        var rng = new Random(11);
        using var pool = new WorkspacePool();
        var ws = pool.Rent();
        int routed = 0, compared = 0;
        var failures = new List<string>();
        foreach (int m in Enumerable.Range(1, Sgemm.SmallRowsMaxRows + 1))
        foreach (int k in new[] { 1, 7, 32, 144, 256, 257 })
        foreach (int n in new[] { 15, 16, 17, 100, 301 })
        {
            int lda = k + rng.Next(0, 3), ldb = n + rng.Next(0, 5);
            var a = Random(rng, m * lda);
            var b = Random(rng, k * ldb);
            var routedC = Enumerable.Repeat(float.NaN, m * n + 1).ToArray();
            var packedC = Enumerable.Repeat(float.NaN, m * n + 1).ToArray();
            fixed (float* pa = a, pb = b, pr = routedC, pp = packedC)
            {
                var av = MatrixView.RowMajor(pa, lda);
                var bv = MatrixView.RowMajor(pb, ldb);
                if (Sgemm.SmallRowsApply(m, n, k, bv, accumulate: false, tier)) routed++;
                Sgemm.Multiply(m, n, k, av, bv, pr, n, false, tier, ws);
                Sgemm.Multiply(m, n, k, av, new ViewSource(bv), pp, n, false, tier, ws);   // always packs B
            }
            compared++;
            for (int i = 0; i < m * n; i++)
                if (BitConverter.SingleToInt32Bits(routedC[i]) != BitConverter.SingleToInt32Bits(packedC[i]))
                {
                    failures.Add($"m={m} n={n} k={k}: element {i} {routedC[i]:R} against {packedC[i]:R}");
                    break;
                }
            if (!float.IsNaN(routedC[m * n])) failures.Add($"m={m} n={n} k={k}: written past C");
        }
        TestContext.Out.WriteLine($"{compared} products, {routed} through the small-rows route");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        // Rows 1–48 (in passes of up to 24), depth ≤ 256 (one K block) and n ≥ 16: 48 × 5 × 4 of the 49 × 6 × 5.
        Assert.That(routed, Is.EqualTo(Sgemm.SmallRowsMaxRows * 5 * 4), "the route is taken for every few-row, one-block, tile-wide product");
    }

    [Test]
    public unsafe void TheRouteIsNotTakenWhereItWouldChangeTheSumsOrTheContract()
    {
        var tier = GemmTiers.Best;
        if (!(SmallRowsGemm.Supported(tier) || SmallRowsGemm256.Supported(tier))) Assert.Ignore($"no small-rows route on {tier}");
        var view = MatrixView.RowMajor((float*)16, 100);
        Assert.Multiple(() =>
        {
            Assert.That(Sgemm.SmallRowsApply(16, 100, 64, view, accumulate: true, tier), Is.False, "C += A·B keeps the blocked driver");
            Assert.That(Sgemm.SmallRowsApply(16, 100, 64, MatrixView.Transposed((float*)16, 100), false, tier), Is.False, "a transposed B is packed");
            Assert.That(Sgemm.SmallRowsApply(16, 100, 257, view, false, tier), Is.False, "two K blocks sum in another order");
            Assert.That(Sgemm.SmallRowsApply(Sgemm.SmallRowsMaxRows + 1, 100, 64, view, false, tier), Is.False, "49 rows");
            Assert.That(Sgemm.SmallRowsApply(16, 15, 64, view, false, tier), Is.False, "narrower than one tile");
            Assert.That(Sgemm.SmallRowsApply(16, 100, 64, view, false, GemmTier.Vector128), Is.False, "not on the Vector128 tier");
            Assert.That(Sgemm.SmallRowsApply(16, 100, 64, view, false, tier), Is.True, "a few-row, one-block product with B in place");
        });
    }

    static float[] Random(Random rng, int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
