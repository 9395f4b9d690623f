using System.Runtime.Intrinsics.X86;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using Path = GpuConv.Cpu.Depthwise.DepthwiseFilterGradient.FilterGradientPath;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The planar depthwise 3x3 weight-gradient kernels (<see cref="DepthwiseFilterGradient3x3"/> on the Vector512 tier for
/// outputs wider than 8 columns, <see cref="DepthwiseFilterGradient3x3Avx2"/> for narrower ones there and for every
/// shape with the tier forced to Vector256, so both run on AVX-512 machines)
/// against the float64 reference on random non-zero inputs: max |error| / max |reference| and the L2 relative error
/// under 1e-5 (as BackwardFilterTests: fp32 sums over up to a few thousand products per weight). Shapes: stride 1
/// and 2 (each direction), padding 0, 1, 2 and asymmetric, odd widths and heights (strips with a partial last vector,
/// row blocks with leftover rows, planes shorter than a block), widths past two strips, batches, channel multiplier
/// 1 and 2. Each case first asserts the path is selected where the tier's instructions exist: it fails, not skips,
/// when the planar kernel is not taken; it skips only where the CPU (or the runtime's settings, as in
/// SimdTierChildProcessTests' child) lacks the instructions.
/// </summary>
public class DepthwiseFilterGradientPlanarTests
{
    const double Tolerance = 1e-5;

    // n, c, multiplier, h, w, stride (h, w), pads (top, left, bottom, right)
    static IEnumerable<TestCaseData> Shapes()
    {
        yield return Case(1, 16, 1, 28, 28, 1, 1, 1, 1, 1, 1);          // MobileNetV2-like, stride 1
        yield return Case(2, 5, 1, 19, 37, 1, 1, 1, 1, 1, 1);           // odd sizes, three strips (AVX-512) / five (AVX2)
        yield return Case(3, 4, 1, 13, 17, 2, 2, 1, 1, 1, 1);           // stride 2, odd plane
        yield return Case(1, 6, 1, 28, 28, 2, 2, 1, 1, 1, 1);           // MobileNetV2-like, stride 2
        yield return Case(2, 3, 1, 22, 35, 2, 2, 0, 1, 1, 1);           // stride 2, asymmetric pads
        yield return Case(1, 4, 1, 11, 20, 1, 1, 0, 0, 0, 0);           // unpadded
        yield return Case(2, 3, 1, 10, 26, 1, 1, 2, 2, 2, 2);           // padding 2 (rows and columns read by few taps)
        yield return Case(1, 4, 1, 3, 18, 1, 1, 1, 1, 1, 1);            // fewer rows than a block
        yield return Case(2, 4, 1, 9, 40, 1, 2, 1, 1, 1, 1);            // stride 1 rows, stride 2 columns
        yield return Case(1, 4, 1, 21, 19, 2, 1, 1, 0, 1, 2);           // stride 2 rows, stride 1 columns, asymmetric
        yield return Case(2, 6, 2, 15, 18, 1, 1, 1, 1, 1, 1);           // multiplier 2
        yield return Case(1, 5, 2, 17, 23, 2, 2, 1, 1, 0, 0);           // multiplier 2, stride 2
        yield return Case(2, 32, 1, 9, 9, 1, 1, 1, 1, 1, 1);            // 9 output columns: the AVX-512 kernel's narrowest
        yield return Case(1, 3, 1, 7, 7, 1, 1, 1, 1, 1, 1);             // 7 × 7: the 8-lane kernel on AVX-512 too
        yield return Case(2, 4, 1, 14, 14, 2, 2, 1, 1, 1, 1);           // 14 × 14 → 7 × 7: the 8-lane kernel on AVX-512 too
        yield return Case(2, 20, 1, 6, 5, 1, 1, 1, 1, 1, 1);            // 5 columns, 6 rows (one AVX2 row block and one more)
        yield return Case(1, 7, 2, 8, 16, 2, 2, 1, 1, 1, 1);            // 8 output columns, multiplier 2
        yield return Case(1, 2, 1, 112, 112, 2, 2, 1, 1, 1, 1);         // MobileNetV2's widest stride-2 plane
    }

    static TestCaseData Case(int n, int c, int m, int h, int w, int sh, int sw, int pt, int pl, int pb, int pr) =>
        new TestCaseData(n, c, m, h, w, new[] { sh, sw }, new[] { pt, pl, pb, pr })
            .SetArgDisplayNames($"n{n} c{c} m{m} {h}x{w} s{sh}{sw} p{pt}{pl}{pb}{pr}");

    static ConvProblem Problem(int n, int c, int m, int h, int w, int[] stride, int[] pads) =>
        ConvProblem.Create(new ConvSpec([3, 3], stride, [1, 1], padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: c),
            new TensorShape(n, c, h, w), new TensorShape(c * m, 1, 3, 3), ConvOp.BackwardFilter);

    /// <summary>
    /// The path <paramref name="tier"/> must take for <paramref name="p"/>: 16 lanes on AVX-512 for outputs wider than 8
    /// columns, else 8; the per-channel kernel for stride-1 planes of ≥ 56 output columns whose x and dy exceed 16 MiB.
    /// </summary>
    static Path Expected(ConvProblem p, GemmTier tier)
    {
        bool streams = p.Spec.Stride.All(s => s == 1) && p.YShape[3] >= 56 &&
            (p.XShape.ElementCount + p.YShape.ElementCount) * sizeof(float) > 16L << 20;
        if (streams) return Path.PerChannel;
        return tier == GemmTier.Vector512 && p.YShape[3] > 8 ? Path.Planar3x3 : Path.Planar3x3Avx2;
    }

    /// <summary>Skips where the CPU lacks the tier's instructions; otherwise the backend for the tier.</summary>
    static CpuBackend Backend(GemmTier tier, int threads)
    {
        bool has = tier switch
        {
            GemmTier.Vector512 => Avx512F.IsSupported && GemmTiers.IsSupported(GemmTier.Vector512),
            _ => Avx2.IsSupported && Fma.IsSupported && GemmTiers.IsSupported(GemmTier.Vector256),
        };
        if (!has) Assert.Ignore($"tier {tier} not accelerated here (best tier {GemmTiers.Best})");
        return new CpuBackend(threads, tier);
    }

    static void AssertSelected(ConvProblem p, GemmTier tier) =>
        Assert.That(DepthwiseFilterGradient.PathFor(ConvGeometry.Of(p), p.KPerGroup, p.C, p.N, tier), Is.EqualTo(Expected(p, tier)), $"path for {p} on {tier}");

    static float[] Run(CpuBackend cpu, ConvProblem p, HostTensor x, HostTensor dy, float[]? initial = null)
    {
        var dw = initial is null ? HostTensor.Random(p.WShape, 99) : new HostTensor(p.WShape, (float[])initial.Clone());
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict)[0];
        Assert.That(algo.Name, Is.EqualTo(CpuBackend.DirectDepthwise), "the planner's first candidate");
        cpu.Run(p, algo, new ConvTensors(x, dw, dy) { Accumulate = initial is not null });
        return dw.Data;
    }

    static void AssertClose(float[] actual, double[] expected, string what)
    {
        double err = 0, max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            err = Math.Max(err, Math.Abs(actual[i] - expected[i]));
            max = Math.Max(max, Math.Abs(expected[i]));
        }
        var report = ErrorMetrics.Compare(actual, expected);
        Assert.That(err / max < Tolerance && report.L2Relative < Tolerance, $"{what}: max err / max ref {err / max:E2}, {report}");
    }

    [TestCaseSource(nameof(Shapes))]
    public void Avx512MatchesTheReference(int n, int c, int m, int h, int w, int[] stride, int[] pads) =>
        MatchesTheReference(GemmTier.Vector512, Problem(n, c, m, h, w, stride, pads));

    [TestCaseSource(nameof(Shapes))]
    public void Avx2MatchesTheReference(int n, int c, int m, int h, int w, int[] stride, int[] pads) =>
        MatchesTheReference(GemmTier.Vector256, Problem(n, c, m, h, w, stride, pads));

    /// <summary>Against the reference at 1 and 3 threads (bit-identical: tasks own whole channels), then accumulating (beta = 1).</summary>
    static void MatchesTheReference(GemmTier tier, ConvProblem p)
    {
        using var one = Backend(tier, 1);
        using var three = new CpuBackend(3, tier);
        AssertSelected(p, tier);
        var x = HostTensor.Random(p.XShape, 1);
        var dy = HostTensor.Random(p.YShape, 2);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        float[] a = Run(one, p, x, dy), b = Run(three, p, x, dy);
        AssertClose(a, reference, $"{tier}, 1 thread");
        Assert.That(b, Is.EqualTo(a), $"{tier}: 3 threads give the same bits as 1");
        // Accumulate: dW = dW₀ + the gradient.
        float[] initial = HostTensor.Random(p.WShape, 7).Data;
        float[] summed = Run(three, p, x, dy, initial);
        AssertClose(summed, reference.Select((r, i) => r + initial[i]).ToArray(), $"{tier}, accumulate");
    }

    /// <summary>
    /// A ±Inf / NaN in x reaches exactly the taps whose sums read it, as in the direct sum: the kernels' masked loads
    /// keep x lanes that only padding-side or past-the-last-output lanes would meet at zero (a zero dy lane times Inf
    /// would make NaN). The value goes to every column in turn (first and last rows, and a middle one), with left and
    /// right pads 0 or 1: unread columns, columns read by some taps only, and strips with a partial last vector.
    /// </summary>
    [TestCase(GemmTier.Vector512, 1, 1, 0)]
    [TestCase(GemmTier.Vector512, 1, 0, 0)]
    [TestCase(GemmTier.Vector512, 1, 0, 1)]
    [TestCase(GemmTier.Vector512, 2, 1, 0)]
    [TestCase(GemmTier.Vector512, 2, 0, 0)]
    [TestCase(GemmTier.Vector512, 2, 0, 1)]
    [TestCase(GemmTier.Vector256, 1, 1, 0)]
    [TestCase(GemmTier.Vector256, 1, 0, 0)]
    [TestCase(GemmTier.Vector256, 1, 0, 1)]
    [TestCase(GemmTier.Vector256, 2, 1, 0)]
    [TestCase(GemmTier.Vector256, 2, 0, 0)]
    [TestCase(GemmTier.Vector256, 2, 0, 1)]
    public void NonFiniteXReachesOnlyTheTapsThatReadIt(GemmTier tier, int stride, int leftPad, int rightPad)
    {
        using var cpu = Backend(tier, 2);
        const int h = 12, w = 37;
        var p = Problem(2, 3, 1, h, w, [stride, stride], [1, leftPad, 1, rightPad]);
        AssertSelected(p, tier);
        var dy = HostTensor.Random(p.YShape, 2);
        int mismatches = 0, nonFinite = 0;
        foreach (float value in new[] { float.PositiveInfinity, float.NaN })
            foreach (int row in new[] { 0, 5, h - 1 })
                for (int col = 0; col < w; col++)
                {
                    var x = HostTensor.Random(p.XShape, 1);
                    x.Data[(1 * 3 + 1) * h * w + row * w + col] = value;     // image 1, channel 1
                    double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
                    float[] dw = Run(cpu, p, x, dy);
                    for (int i = 0; i < reference.Length; i++)
                    {
                        if (!double.IsFinite(reference[i])) nonFinite++;
                        if ((!double.IsFinite(reference[i]) || !float.IsFinite(dw[i])) && !((double)dw[i]).Equals(reference[i]))
                            mismatches++;
                    }
                    Assert.That(mismatches, Is.Zero, $"{value} at row {row}, column {col}: dW {string.Join(' ', dw)} against {string.Join(' ', reference)}");
                }
        Assert.That(nonFinite, Is.GreaterThan(0), "some taps read the value");
    }

    /// <summary>
    /// MobileNetV2's depthwise layers take the planar kernels, except the two wide stride-1 ones at batch 8 (data past
    /// 16 MiB: per channel); fails if the selection changes.
    /// </summary>
    [TestCase(GemmTier.Vector512)]
    [TestCase(GemmTier.Vector256)]
    public void MobileNetV2LayersTakeThePlanarKernels(GemmTier tier)
    {
        using var cpu = Backend(tier, 1);
        var layers = new (int C, int H, int S)[] { (32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2), (384, 14, 1), (576, 14, 1), (576, 14, 2), (960, 7, 1) };
        foreach (var (c, h, s) in layers)
            foreach (int n in new[] { 1, 8 })
            {
                var p = Problem(n, c, 1, h, h, [s, s], [1, 1, 1, 1]);
                AssertSelected(p, tier);
                bool planar = !(s == 1 && h >= 56 && n == 8);
                Assert.That(Expected(p, tier) is Path.Planar3x3 or Path.Planar3x3Avx2, Is.EqualTo(planar), $"{p}");
            }
    }

    /// <summary>The per-channel kernel that wide stride-1 planes past 16 MiB take matches the reference too (one such shape).</summary>
    [Test]
    public void WideStrideOnePlanesPastTheCacheRunPerChannel()
    {
        using var cpu = new CpuBackend(2);
        var p = Problem(3, 16, 1, 300, 300, [1, 1], [1, 1, 1, 1]);    // x + dy 34.6 MB
        Assert.That(DepthwiseFilterGradient.PathFor(ConvGeometry.Of(p), 1, p.C, p.N, cpu.Tier), Is.EqualTo(Path.PerChannel));
        var x = HostTensor.Random(p.XShape, 1);
        var dy = HostTensor.Random(p.YShape, 2);
        AssertClose(Run(cpu, p, x, dy), ReferenceConv.BackwardFilter(p, x.Data, dy.Data), "per channel");
    }
}
