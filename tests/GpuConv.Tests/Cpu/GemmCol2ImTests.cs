using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Columns;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backend's gemm-col2im where dx has few channels: dx split into slabs (Col2ImSlabs) so that every
/// thread has work, and the in-place small-rows GEMM (≤ 16 column-matrix rows, AVX-512) — against
/// ReferenceConv.BackwardData in float64 on random non-zero inputs, into a dx filled with NaN.
/// fp32 max relative error bound: 1e-5 (sums of at most a few thousand products).
/// </summary>
public class GemmCol2ImTests
{
    const double Tolerance = BackwardDataCheck.Tolerance;

    static double Check(CpuBackend cpu, ConvProblem p, int seed, bool bias, bool constant) =>
        BackwardDataCheck.WorstError(cpu, p, CpuBackend.GemmCol2Im, seed, bias, constant);

    /// <summary>The slabs and the GEMM gemm-col2im runs <paramref name="p"/> with on <paramref name="threads"/> threads.</summary>
    static (Col2ImSlabs Slabs, bool SmallRows) PathOf(ConvProblem p, int threads, GemmTier tier)
    {
        int outer = p.N * p.Groups;
        var (tile, tiles) = ConvTiling.Channels(outer, p.CPerGroup, p.KernelVolume * p.YShape.SpatialSize, threads);
        return (CpuBackwardData.Slabs(ConvGeometry.Of(p), (long)outer * tiles, threads), CpuBackwardData.SmallRows(tile * (int)p.KernelVolume, tier));
    }

    /// <summary>Column-matrix rows of gemm-col2im's first channel tile (the most any of its tasks has).</summary>
    static int TaskRows(ConvProblem p, int threads) =>
        ConvTiling.Channels(p.N * p.Groups, p.CPerGroup, p.KernelVolume * p.YShape.SpatialSize, threads).Tile * (int)p.KernelVolume;

    /// <summary>
    /// Few dx channels (1–3 per group) and many dy channels: strides 1–4 below, at and above the kernel (1–6),
    /// dilation, asymmetric pads, output padding, groups, batch 1–2, ranks 1–3, bias on and off; each case on
    /// 3 threads (slabs) and on 1 (whole planes). The sweep must reach the slabs with both GEMMs.
    /// </summary>
    [Test]
    public void RandomFewChannelConvolutionsMatchReference()
    {
        using var cpu3 = new CpuBackend(maxDegreeOfParallelism: 3);
        using var cpu1 = new CpuBackend(maxDegreeOfParallelism: 1);
        var rng = new Random(8080);
        var failures = new List<string>();
        int ran = 0, slabbed = 0, small = 0, smallHalf = 0, slabbedLarge = 0, strided = 0, strideAbove = 0, dilated = 0, grouped = 0, withOutputPadding = 0, asymmetric = 0, batched = 0;
        var ranks = new int[4];
        var dims = new int[3];
        double worst = 0;
        for (int i = 0; ran < 150 && i < 1000; i++)
        {
            int rank = 1 + i % 3;
            int[] R(Func<int> f) => Enumerable.Range(0, rank).Select(_ => f()).ToArray();
            var kernel = R(() => rng.Next(1, 7));
            var stride = R(() => rng.Next(1, 5));
            var dil = R(() => rng.Next(4) == 0 ? 2 : 1);
            var pb = Enumerable.Range(0, rank).Select(d => rng.Next(0, (kernel[d] - 1) * dil[d] + 1)).ToArray();
            var pe = Enumerable.Range(0, rank).Select(d => rng.Next(0, (kernel[d] - 1) * dil[d] + 1)).ToArray();
            var op = Enumerable.Range(0, rank).Select(d => rng.Next(0, Math.Max(stride[d], dil[d]))).ToArray();
            // Long 1-d signals, rows of 2-d images, a short outer extent for some 3-d ones (slabs along H or W).
            int[] input = rank switch
            {
                1 => new[] { rng.Next(1, 400) },
                2 => new[] { rng.Next(1, 40), rng.Next(1, 30) },
                _ => new[] { rng.Next(3) == 0 ? 1 : rng.Next(1, 12), rng.Next(1, 10), rng.Next(1, 10) },
            };
            int groups = rng.Next(4) == 0 ? rng.Next(2, 4) : 1;
            int cin = groups * rng.Next(1, 40), coutPerGroup = rng.Next(1, 4), n = rng.Next(1, 3);
            ConvProblem p;
            try { p = BackwardDataCheck.Transposed(kernel, stride, pb, pe, op, dil, groups, n, cin, coutPerGroup, input); }
            catch (ArgumentException) { continue; }
            ran++;
            ranks[rank]++;
            var path = PathOf(p, 3, GemmTiers.Best);
            if (path.Slabs.Count > 1)
            {
                slabbed++;
                dims[path.Slabs.Dim]++;
                if (path.SmallRows) small++; else slabbedLarge++;
                if (path.SmallRows && TaskRows(p, 3) <= 8) smallHalf++;
            }
            if (stride.Any(s => s > 1)) strided++;
            if (stride.Zip(kernel).Any(sk => sk.First > sk.Second)) strideAbove++;
            if (dil.Any(d => d > 1)) dilated++;
            if (groups > 1) grouped++;
            if (op.Any(o => o > 0)) withOutputPadding++;
            if (!pb.SequenceEqual(pe)) asymmetric++;
            if (n > 1) batched++;
            foreach (var cpu in new[] { cpu3, cpu1 })
            {
                double e = Check(cpu, p, i, bias: i % 2 == 0, constant: i % 4 < 2);
                worst = Math.Max(worst, e);
                if (!(e < Tolerance)) failures.Add($"{p} ({cpu.MaxDegreeOfParallelism} threads, {path.Slabs}): {e:E2}");
            }
        }
        TestContext.Out.WriteLine($"{ran} ran, worst {worst:E2}; ranks {ranks[1]}/{ranks[2]}/{ranks[3]}, slabbed {slabbed} (along D/H/W {dims[0]}/{dims[1]}/{dims[2]}; "
            + $"small-rows GEMM {small} ({smallHalf} of them ≤ 8 rows: 8 × 32 tiles), blocked GEMM {slabbedLarge}), strided {strided} (stride above the kernel {strideAbove}), dilated {dilated}, grouped {grouped}, "
            + $"output padding {withOutputPadding}, asymmetric {asymmetric}, batch 2 {batched}");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(ran, Is.EqualTo(150));
        Assert.That(ranks[1] > 0 && ranks[2] > 0 && ranks[3] > 0 && strideAbove > 0 && dilated > 0 && grouped > 0 && withOutputPadding > 0
            && asymmetric > 0 && batched > 0, "the sweep covers every feature");
        Assert.That(dims[0] > 0 && dims[1] > 0 && dims[2] > 0 && slabbedLarge > 0, "slabs along each dimension, and with the blocked GEMM");
        if (SmallRowsGemm.Supported(GemmTiers.Best))
            Assert.That(small > smallHalf && smallHalf > 0, "slabs with the small-rows GEMM, both tile shapes");
    }

    /// <summary>
    /// Conv-TasNet's decoder (ConvTranspose1d 512 → 1, k16 s8, 3999 frames → 32000 samples) at batch 1 and 2 and a
    /// 2-d and a 3-d layer with 3 output channels (DCGAN's last layer shape, a 3-d 4x4x4 s2), bias on.
    /// </summary>
    [TestCase(1, 512, 1, new[] { 3999 }, new[] { 16 }, new[] { 8 }, new[] { 0 })]
    [TestCase(2, 512, 1, new[] { 3999 }, new[] { 16 }, new[] { 8 }, new[] { 0 })]
    [TestCase(1, 64, 3, new[] { 64, 64 }, new[] { 4, 4 }, new[] { 2, 2 }, new[] { 1, 1 })]
    [TestCase(1, 32, 2, new[] { 24, 6, 8 }, new[] { 4, 4, 4 }, new[] { 2, 2, 2 }, new[] { 1, 1, 1 })]
    public void LayerShapesMatchReference(int n, int cin, int cout, int[] input, int[] kernel, int[] stride, int[] pad)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var zeros = new int[input.Length];
        var ones = zeros.Select(_ => 1).ToArray();
        var p = BackwardDataCheck.Transposed(kernel, stride, pad, pad, zeros, ones, 1, n, cin, cout, input);
        Assert.That(PathOf(p, 2, GemmTiers.Best).Slabs.Count, Is.GreaterThan(1), "split into slabs");
        Assert.That(Check(cpu, p, n + cin, bias: true, constant: true), Is.LessThan(Tolerance));
    }

    /// <summary>Lower SIMD tiers: the slabs with the blocked GEMM (the small-rows kernel is AVX-512 only).</summary>
    [TestCase(GemmTier.Vector256)]
    [TestCase(GemmTier.Vector128)]
    [TestCase(GemmTier.Scalar)]
    public void LowerTiersMatchReference(GemmTier tier)
    {
        // Vector256 is x86's AVX2: on ARM64 (NEON) the widest tier is Vector128.
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here (best {GemmTiers.Best})");
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2, tier: tier);
        var p = BackwardDataCheck.Transposed([16], [8], [0], [0], [3], [1], 1, 1, 40, 1, [300]);
        Assert.That(PathOf(p, 2, tier).SmallRows, Is.False);
        Assert.That(Check(cpu, p, 1, bias: true, constant: true), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// The slabs of random geometries partition dx along their dimension, and each slab's dy range [O0, O1) holds
    /// every dy position that reaches one of its dx positions (checked by brute force; the positions outside it
    /// reach none, or the border slabs would miss or double contributions).
    /// </summary>
    [Test]
    public void SlabsPartitionDxAndCoverTheirDyPositions()
    {
        var rng = new Random(77);
        int checkedSlabs = 0;
        for (int i = 0; i < 300; i++)
        {
            int k = rng.Next(1, 9), s = rng.Next(1, 6), d = rng.Next(1, 3), outW = rng.Next(1, 300);
            int pad = rng.Next(0, (k - 1) * d + 1), op = rng.Next(0, Math.Max(s, d));
            int inW = (outW - 1) * s + (k - 1) * d + 1 - 2 * pad + op;
            if (inW < 1) continue;
            var g = new ConvGeometry(1, 1, inW, 1, 1, outW, 1, 1, k, 1, 1, s, 1, 1, d, 0, 0, pad);
            var slabs = Col2ImSlabs.For(g, 1, rng.Next(2, 9), rng.Next(16, 200));
            if (slabs.Count == 1) continue;   // the whole plane (Slab.Whole), not a split
            int next = 0;
            for (int j = 0; j < slabs.Count; j++)
            {
                var slab = slabs.Of(g, j);
                Assert.That(slab.Dim, Is.EqualTo(2));
                Assert.That(slab.Lo, Is.EqualTo(next), "slabs are contiguous");
                next = slab.Hi;
                for (int o = 0; o < outW; o++)
                {
                    bool reaches = Enumerable.Range(0, k).Any(t => o * s - pad + t * d is var x && x >= slab.Lo && x < slab.Hi);
                    bool inRange = o >= slab.O0 && o < slab.O1;
                    if (reaches) Assert.That(inRange, Is.True, $"{g} slab {slab}: dy {o} reaches it but is outside");
                }
                Assert.That(slab.Columns(g), Is.EqualTo(slab.O1 - slab.O0));
                checkedSlabs++;
            }
            Assert.That(next, Is.EqualTo(inW), "slabs cover dx");
        }
        Assert.That(checkedSlabs, Is.GreaterThan(300));
    }

    /// <summary>
    /// The small-rows GEMM alone against a float64 product: every row count 1–24 (8 × 32, 16 × 16 and 24 × 16 tiles),
    /// widths around its 16-column tile (ragged last tile), depths 1–300, B with a leading dimension wider than its columns.
    /// </summary>
    [Test]
    public unsafe void SmallRowsGemmMatchesFloat64Product()
    {
        if (!SmallRowsGemm.Supported(GemmTiers.Best)) Assert.Ignore("AVX-512 not accelerated here: the small-rows GEMM does not run");
        var rng = new Random(5);
        double worst = 0;
        foreach (int m in Enumerable.Range(1, SmallRowsGemm.MaxRows))
        foreach (int n in new[] { 1, 15, 16, 17, 33, 100 })
        {
            int k = rng.Next(1, 300), ldb = n + rng.Next(0, 5), lda = m + rng.Next(0, 3);
            var a = Enumerable.Range(0, k * lda).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var b = Enumerable.Range(0, k * ldb).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var c = Enumerable.Repeat(float.NaN, m * n + 3).ToArray();
            var panel = new float[SmallRowsGemm.PanelFloats(k)];
            var edge = new float[SmallRowsGemm.EdgeFloats(k)];
            fixed (float* pa = a, pb = b, pc = c, pp = panel, pe = edge)
            {
                // A stored transposed (A(i, p) at p·lda + i), as gemm-col2im passes Wᵀ.
                SmallRowsGemm.PackA(MatrixView.Transposed(pa, lda), m, k, pp);
                SmallRowsGemm.Multiply(m, n, k, pp, pb, ldb, pc, n, pe);
            }
            var expected = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++) sum += (double)a[p * lda + i] * b[p * ldb + j];
                    expected[i * n + j] = sum;
                }
            double e = ErrorMetrics.Compare(c.AsSpan(0, m * n), expected).MaxRelative;
            worst = Math.Max(worst, double.IsFinite(e) ? e : double.PositiveInfinity);
            Assert.That(c[m * n], Is.NaN, "nothing written past C");
        }
        TestContext.Out.WriteLine($"worst {worst:E2}");
        Assert.That(worst, Is.LessThan(Tolerance));
    }
}
