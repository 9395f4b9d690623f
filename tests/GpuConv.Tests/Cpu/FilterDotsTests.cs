using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.BackwardFilter;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Reduction-split's dot-product paths (<see cref="FilterDots"/>, AVX-512) against the float64
/// reference on random non-zero inputs: max |error| / max |reference| and the L2 relative error &lt; 1e-5, at
/// 1, 2 and 3 threads, and bit-identical on a second run; planes with and without a partial last vector, cut
/// into pieces or several to a chunk; channel counts that leave partial 4 × 6 blocks; groups; ranks 1–3; batch 1–9;
/// and its padded path for small-channel kernels (strides, dilation, asymmetric pads, groups, ranks 1–2).
/// </summary>
public class FilterDotsTests
{
    const double Tolerance = 1e-5;

    static void RequireAvx512()
    {
        if (GemmTiers.Best < GemmTier.Vector512 || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.Ignore("the dot-product backward-filter needs AVX-512");
    }

    /// <summary>(name, x shape, w shape, groups): problems the path takes (see <see cref="FilterDots.Applies"/>).</summary>
    static IEnumerable<(string Name, TensorShape X, TensorShape W, int Groups)> Cases()
    {
        yield return ("24 -> 144 at 70x70: planes in two pieces, the second with a partial last vector", new(2, 24, 70, 70), new(144, 24, 1, 1), 1);
        yield return ("32 -> 192 at 29x29: chunks of several images, 9-position last vector", new(9, 32, 29, 29), new(192, 32, 1, 1), 1);
        yield return ("partial 4 x 6 blocks: 7 -> 13 at 29x29", new(3, 7, 29, 29), new(13, 7, 1, 1), 1);
        yield return ("one channel each, 28x28 (no partial vector)", new(2, 1, 28, 28), new(1, 1, 1, 1), 1);
        yield return ("more x channels than dy: 30 -> 5 at 31x33", new(3, 30, 31, 33), new(5, 30, 1, 1), 1);
        yield return ("32 -> 16 at 40x40, batch 5 (x blocks outside)", new(5, 32, 40, 40), new(16, 32, 1, 1), 1);
        yield return ("grouped g3: 18 -> 30 at 30x30", new(2, 18, 30, 30), new(30, 6, 1, 1), 3);
        yield return ("grouped g8: 32 -> 64 at 28x29", new(1, 32, 28, 29), new(64, 4, 1, 1), 8);
        yield return ("batch 1, 16 -> 200 at 90x50: pieces and dy channel ranges", new(1, 16, 90, 50), new(200, 16, 1, 1), 1);
        yield return ("1-d length 5000, 12 -> 20", new(3, 12, 5000), new(20, 12, 1), 1);
        yield return ("3-d 9x10x11, 8 -> 10", new(2, 8, 9, 10, 11), new(10, 8, 1, 1, 1), 1);
        yield return ("14x14 planes: 96 -> 130, batch 7 (chunks of whole planes, 4-position last vector)", new(7, 96, 14, 14), new(130, 96, 1, 1), 1);
        yield return ("15x14 planes: 200 -> 66, batch 2 (x blocks outside)", new(2, 200, 15, 14), new(66, 200, 1, 1), 1);
    }

    static IEnumerable<TestCaseData> CaseData() => Cases().Select(c => new TestCaseData(c.X, c.W, c.Groups).SetName(c.Name));

    static ConvProblem Problem(TensorShape x, TensorShape w, int groups) =>
        ConvProblem.Create(new ConvSpec(Enumerable.Repeat(1, x.Rank - 2).ToArray(), groups: groups), x, w, ConvOp.BackwardFilter);

    static double MaxErrorOverMaxReference(float[] actual, double[] reference)
    {
        double err = 0, max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            err = Math.Max(err, Math.Abs(actual[i] - reference[i]));
            max = Math.Max(max, Math.Abs(reference[i]));
        }
        return err / max;
    }

    [TestCaseSource(nameof(CaseData))]
    public void MatchesTheReferenceAtOneTwoAndThreeThreads(TensorShape xShape, TensorShape wShape, int groups)
    {
        RequireAvx512();
        var p = Problem(xShape, wShape, groups);
        Assert.That(FilterDots.Applies(p, GemmTier.Vector512), p.ToString());
        var x = HostTensor.Random(p.XShape, 41);
        var dy = HostTensor.Random(p.YShape, 42);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        double worst = 0;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var cpu = new CpuBackend(threads, GemmTier.Vector512);
            var a = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ReductionSplit);
            var dw = HostTensor.Random(p.WShape, 43);      // overwritten, not accumulated into
            cpu.Run(p, a, new ConvTensors(x, dw, dy));
            double maxRel = MaxErrorOverMaxReference(dw.Data, reference);
            var report = ErrorMetrics.Compare(dw.Data, reference);
            worst = Math.Max(worst, maxRel);
            Assert.That(maxRel < Tolerance && report.L2Relative < Tolerance, $"{threads} threads, {FilterDots.Plan.Of(p, threads)}: max err / max ref {maxRel:E2}, {report}");
            // Repeatable at a fixed thread count.
            var again = new HostTensor(p.WShape);
            cpu.Run(p, a, new ConvTensors(x, again, dy));
            Assert.That(again.Data, Is.EqualTo(dw.Data), $"repeat at {threads} threads");
        }
        TestContext.Out.WriteLine($"{p}: worst max err / max ref {worst:E2}");
    }

    [Test]
    public void TheCasesCoverEveryWayToCutTheReduction()
    {
        var plans = Cases().Select(c => (c.Name, Plan: FilterDots.Plan.Of(Problem(c.X, c.W, c.Groups), 2))).ToList();
        Assert.That(Cases().All(c => FilterDots.Plan.Of(Problem(c.X, c.W, c.Groups), 1) is { Slices: 1, KRanges: 1 }), "one thread: one slice, writing dW itself");
        foreach (var (name, plan) in plans) TestContext.Out.WriteLine($"{name}: {plan}");
        Assert.That(plans.Count(c => c.Plan.Pieces > 1), Is.GreaterThanOrEqualTo(2), "planes cut into pieces");
        Assert.That(plans.Count(c => c.Plan.ImagesPerChunk > 1), Is.GreaterThanOrEqualTo(2), "chunks of several images");
        Assert.That(plans.Count(c => c.Plan.Slices > 1), Is.GreaterThanOrEqualTo(3), "slices with partial sums");
        Assert.That(plans.Count(c => c.Plan.KRanges > 1), Is.GreaterThanOrEqualTo(2), "dy channel ranges");
    }

    /// <summary>
    /// The size rule: MobileNetV2's 56 × 56 24 → 144 and 14 × 14 96 → 576 take the path; ResNet-50's 56 × 56 64 → 256
    /// and 14 × 14 1024 → 256, MobileNetV2's 7 × 7 160 → 960 and other tiers do not.
    /// </summary>
    [Test]
    public void TheRuleTakesTheMeasuredLayersOnly()
    {
        RequireAvx512();
        Assert.That(FilterDots.Applies(Problem(new(8, 24, 56, 56), new(144, 24, 1, 1), 1), GemmTier.Vector512), Is.True);
        Assert.That(FilterDots.Applies(Problem(new(8, 96, 14, 14), new(576, 96, 1, 1), 1), GemmTier.Vector512), Is.True);
        Assert.That(FilterDots.Applies(Problem(new(8, 1024, 14, 14), new(256, 1024, 1, 1), 1), GemmTier.Vector512), Is.False);
        Assert.That(FilterDots.Applies(Problem(new(8, 160, 7, 7), new(960, 160, 1, 1), 1), GemmTier.Vector512), Is.False);
        var stem = ConvProblem.Create(new ConvSpec([7, 7], stride: [2], padBegin: [3]), new TensorShape(8, 3, 224, 224), new TensorShape(64, 3, 7, 7), ConvOp.BackwardFilter);
        var l2 = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(8, 128, 28, 28), new TensorShape(128, 128, 3, 3), ConvOp.BackwardFilter);
        Assert.That(FilterDots.Applies(stem, GemmTier.Vector512), Is.True, "ResNet-50's stem");
        Assert.That(FilterDots.Applies(l2, GemmTier.Vector512), Is.False, "ResNet-50's 128-channel 3x3");
        Assert.That(FilterDots.Applies(Problem(new(8, 64, 56, 56), new(256, 64, 1, 1), 1), GemmTier.Vector512), Is.False);
        Assert.That(FilterDots.Applies(Problem(new(8, 24, 56, 56), new(144, 24, 1, 1), 1), GemmTier.Vector256), Is.False);
    }

    /// <summary>(name, spec, x shape, w shape): kernels larger than 1x1 that the padded path takes.</summary>
    static IEnumerable<(string Name, ConvSpec Spec, TensorShape X, TensorShape W)> PaddedCases()
    {
        yield return ("stem-like 7x7/2 p3, 3 -> 24 at 70x66", new ConvSpec([7, 7], stride: [2], padBegin: [3]), new(2, 3, 70, 66), new(24, 3, 7, 7));
        yield return ("3x3 dilation 2 p2, 8 -> 13 at 100x101 (partial blocks, two chunks per image)", new ConvSpec([3, 3], padBegin: [2], dilation: [2]), new(1, 8, 100, 101), new(13, 8, 3, 3));
        yield return ("5x5/2 asymmetric pads, 4 -> 48 at 70x80", new ConvSpec([5, 5], stride: [2], padBegin: [2, 1], padEnd: [1, 2]), new(2, 4, 70, 80), new(48, 4, 5, 5));
        yield return ("5x3 stride (2,1) unpadded, 5 -> 7, batch 1", new ConvSpec([5, 3], stride: [2, 1]), new(1, 5, 41, 50), new(7, 5, 5, 3));
        yield return ("grouped g2 3x3 p1, 16 -> 12 (8 per group)", new ConvSpec([3, 3], padBegin: [1], groups: 2), new(2, 16, 20, 40), new(12, 8, 3, 3));
        yield return ("1-d k7 s3 dil 2, 6 -> 10, length 1000", new ConvSpec([7], stride: [3], padBegin: [5], padEnd: [2], dilation: [2]), new(4, 6, 1000), new(10, 6, 7));
        yield return ("3x3 p1, 2 -> 200 at 16x40 (dy channel ranges, x blocks outside)", new ConvSpec([3, 3], padBegin: [1]), new(1, 2, 16, 40), new(200, 2, 3, 3));
    }

    static IEnumerable<TestCaseData> PaddedCaseData() => PaddedCases().Select(c => new TestCaseData(c.Spec, c.X, c.W).SetName("padded: " + c.Name));

    [TestCaseSource(nameof(PaddedCaseData))]
    public void ThePaddedPathMatchesTheReferenceAtOneTwoAndThreeThreads(ConvSpec spec, TensorShape xShape, TensorShape wShape)
    {
        RequireAvx512();
        var p = ConvProblem.Create(spec, xShape, wShape, ConvOp.BackwardFilter);
        Assert.That(FilterDots.Applies(p, GemmTier.Vector512), p.ToString());
        var x = HostTensor.Random(p.XShape, 61);
        var dy = HostTensor.Random(p.YShape, 62);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var cpu = new CpuBackend(threads, GemmTier.Vector512);
            var a = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ReductionSplit);
            var dw = HostTensor.Random(p.WShape, 63);
            cpu.Run(p, a, new ConvTensors(x, dw, dy));
            double maxRel = MaxErrorOverMaxReference(dw.Data, reference);
            var report = ErrorMetrics.Compare(dw.Data, reference);
            Assert.That(maxRel < Tolerance && report.L2Relative < Tolerance, $"{threads} threads, {FilterDots.PaddedPlan.Of(p, threads)}: max err / max ref {maxRel:E2}, {report}");
            var again = new HostTensor(p.WShape);
            cpu.Run(p, a, new ConvTensors(x, again, dy));
            Assert.That(again.Data, Is.EqualTo(dw.Data), $"repeat at {threads} threads");
        }
    }

    [Test]
    public void ThePaddedCasesCoverEveryWayToCutTheReduction()
    {
        var plans = PaddedCases().Select(c => FilterDots.PaddedPlan.Of(ConvProblem.Create(c.Spec, c.X, c.W, ConvOp.BackwardFilter), 2)).ToList();
        Assert.That(plans.Count(pl => pl.ChunksPerImage > 1), Is.GreaterThanOrEqualTo(1), "images in several chunks");
        Assert.That(plans.Count(pl => pl.Slices > 1), Is.GreaterThanOrEqualTo(3), "slices");
        Assert.That(plans.Count(pl => pl.KRanges > 1), Is.GreaterThanOrEqualTo(1), "dy channel ranges");
    }

    /// <summary>
    /// ±Inf / NaN in x on the padded path: it sums real output positions only (no gap columns), so the
    /// NaN / ±Inf counts are the direct sum's, with no finiteness check first.
    /// </summary>
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NaN)]
    public void ThePaddedPathGivesTheDirectSumsNonFiniteValues(float value)
    {
        RequireAvx512();
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 4, 20, 40), new TensorShape(12, 4, 3, 3), ConvOp.BackwardFilter);
        Assert.That(FilterDots.Applies(p, GemmTier.Vector512));
        var x = HostTensor.Random(p.XShape, 71);
        x.Data[(1 * 4 + 2) * 800 + 7 * 40 + 39] = value;       // the last column: a stride-1 layout's gap columns read it
        var dy = HostTensor.Random(p.YShape, 72);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        int refNaN = reference.Count(double.IsNaN), refInf = reference.Count(double.IsInfinity);
        Assert.That(refNaN + refInf, Is.GreaterThan(0).And.LessThan(reference.Length));
        AssertSameNonFiniteAsDirectSum(2, p, x, dy, reference, refNaN, refInf);
    }

    /// <summary>
    /// ±Inf / NaN in x or dy, at a plane's partial last vector and inside a whole one: the same NaN / ±Inf
    /// counts as the direct sum (the masked tail reads no lanes past the plane, whose ±Inf would meet zeros).
    /// </summary>
    [TestCase(float.PositiveInfinity, true, 52 * 16 + 2)]
    [TestCase(float.NaN, false, 52 * 16 + 2)]
    [TestCase(float.NegativeInfinity, false, 5)]
    [TestCase(float.PositiveInfinity, true, 20)]
    public void NonFiniteInputsGiveTheDirectSumsNonFiniteValues(float value, bool inX, int position)
    {
        RequireAvx512();
        // 29 × 29 planes: 52 whole vectors and one of 9 positions; the value goes into image 1, channel 2.
        const int Plane = 29 * 29;
        var p = Problem(new TensorShape(3, 10, 29, 29), new TensorShape(14, 10, 1, 1), 1);
        Assert.That(FilterDots.Applies(p, GemmTier.Vector512));
        var x = HostTensor.Random(p.XShape, 51);
        var dy = HostTensor.Random(p.YShape, 52);
        if (inX) x.Data[(1 * 10 + 2) * Plane + position] = value;
        else dy.Data[(1 * 14 + 2) * Plane + position] = value;
        // The neighbouring plane's first values are non-finite too: a read past a plane's end would show.
        if (inX) x.Data[(1 * 10 + 3) * Plane] = float.NaN; else dy.Data[(1 * 14 + 3) * Plane] = float.NaN;
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        int refNaN = reference.Count(double.IsNaN), refInf = reference.Count(double.IsInfinity);
        Assert.That(refNaN + refInf, Is.GreaterThan(0).And.LessThan(reference.Length));
        foreach (int threads in new[] { 1, 2 })
            AssertSameNonFiniteAsDirectSum(threads, p, x, dy, reference, refNaN, refInf);
    }

    /// <summary>reduction-split's dW on <paramref name="threads"/> threads: the reference's NaN and ±Inf counts, and within tolerance elsewhere.</summary>
    static void AssertSameNonFiniteAsDirectSum(int threads, ConvProblem p, HostTensor x, HostTensor dy, double[] reference, int refNaN, int refInf)
    {
        using var cpu = new CpuBackend(threads, GemmTier.Vector512);
        var a = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ReductionSplit);
        var dw = new HostTensor(p.WShape);
        cpu.Run(p, a, new ConvTensors(x, dw, dy));
        Assert.That(dw.Data.Count(float.IsNaN), Is.EqualTo(refNaN), "NaN count");
        Assert.That(dw.Data.Count(float.IsInfinity), Is.EqualTo(refInf), "±Inf count");
        double error = ErrorMetrics.Compare(dw.Data, reference).MaxRelative;
        Assert.That(double.IsFinite(error) && error < Tolerance, $"max rel error {error}");
    }
}
