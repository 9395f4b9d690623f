using GpuConv.Cpu.Gemm;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The GEMM at sizes just below, at and above every register-tile and vector width (and the cache
/// blocks), for every tier this machine accelerates, plain and transposed, against a naive double GEMM.
/// <see cref="SimdTierChildProcessTests"/> re-runs this namespace with wider tiers switched off.
/// </summary>
public class SgemmSimdTests
{
    /// <summary>Set by the child-process tests to the tier the runtime must pick with its features switched off.</summary>
    public const string ExpectedTierVariable = "GPUCONV_EXPECT_GEMM_TIER";

    static readonly int[] EdgeSizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129, 143, 144, 145, 255, 256, 257, 259];

    public static IEnumerable<GemmTier> Tiers => Enum.GetValues<GemmTier>();

    [Test]
    public void ActiveTierIsTheExpectedOne()
    {
        var expected = Environment.GetEnvironmentVariable(ExpectedTierVariable);
        if (expected is not null)
            Assert.That(Sgemm.ActiveTier, Is.EqualTo(Enum.Parse<GemmTier>(expected)), $"{ExpectedTierVariable}={expected}");
        else
            Assert.That(Sgemm.ActiveTier, Is.EqualTo(
                System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? GemmTier.Vector512 :
                System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? GemmTier.Vector256 :
                System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? GemmTier.Vector128 : GemmTier.Scalar));
        TestContext.Out.WriteLine($"active GEMM tier: {Sgemm.ActiveTier}");
    }

    [Test]
    public void EdgeSizesMatchNaiveDouble([ValueSource(nameof(Tiers))] GemmTier tier, [Values] bool transposeA, [Values] bool transposeB, [Values] bool accumulate)
    {
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here (best {GemmTiers.Best})");
        // A fixed seed per case (HashCode.Combine is seeded randomly per process: the data differed between runs).
        var rng = new Random((int)tier * 8 + (transposeA ? 4 : 0) + (transposeB ? 2 : 0) + (accumulate ? 1 : 0));
        var failures = new List<string>();
        int cases = 0;
        // Every small size on each axis with the others random, then random triples over the whole list.
        var triples = new List<(int, int, int)>();
        foreach (var s in EdgeSizes.Where(v => v <= 33))
        {
            triples.Add((s, Pick(rng), Pick(rng) % 70));
            triples.Add((Pick(rng), s, Pick(rng) % 70));
            triples.Add((Pick(rng) % 70, Pick(rng) % 70, s));
        }
        for (int i = 0; i < 24; i++) triples.Add((Pick(rng), Pick(rng), Pick(rng)));
        foreach (var (m, n, k) in triples)
        {
            cases++;
            double err = Check(m, n, k, transposeA, transposeB, accumulate, tier, rng, threads: 1);
            if (!(err < 1e-5)) failures.Add($"m={m} n={n} k={k}: {err:E2}");
        }
        Assert.That(failures, Is.Empty, $"{failures.Count} of {cases} sizes fail on {tier}: {string.Join("; ", failures.Take(10))}");
    }

    [Test]
    public void WideAndParallelMatchNaiveDouble([ValueSource(nameof(Tiers))] GemmTier tier)
    {
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here (best {GemmTiers.Best})");
        var rng = new Random(5);
        // n beyond one NC block (2048); a tall one split by rows; a wide one split by columns.
        Assert.That(Check(13, 2100, 37, false, false, false, tier, rng, threads: 1), Is.LessThan(1e-5));
        Assert.That(Check(301, 40, 130, true, false, true, tier, rng, threads: 3), Is.LessThan(1e-5));
        Assert.That(Check(50, 700, 90, false, true, false, tier, rng, threads: 3), Is.LessThan(1e-5));
    }

    static int Pick(Random rng) => EdgeSizes[rng.Next(EdgeSizes.Length)];

    /// <summary>Runs one GEMM with padded leading dimensions and returns the max error relative to the largest Σ|a||b| (+|c|).</summary>
    static double Check(int m, int n, int k, bool ta, bool tb, bool accumulate, GemmTier tier, Random rng, int threads)
    {
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + 3, ldb = bCols + 1, ldc = n + 2;
        var a = Random(rng, Math.Max(aRows * lda, 1));
        var b = Random(rng, Math.Max(bRows * ldb, 1));
        var c = Random(rng, Math.Max(m * ldc, 1));
        var expected = new double[m * n];
        // Error scale: the largest Σ|a||b| (+|c|), the bound float rounding is proportional to. The largest
        // |result| alone can be near zero when a short sum cancels (m = n = 1, k = 15 read 1.08e-5 once).
        double scale = 1e-30;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = accumulate ? c[i * ldc + j] : 0, abs = Math.Abs(s);
                for (int p = 0; p < k; p++)
                {
                    double product = (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    s += product;
                    abs += Math.Abs(product);
                }
                expected[i * n + j] = s;
                scale = Math.Max(scale, abs);
            }
        var padding = (float[])c.Clone();
        Sgemm.Multiply(m, n, k, a, lda, ta, b, ldb, tb, c, ldc, accumulate, threads, tier);
        double maxDiff = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
                maxDiff = Math.Max(maxDiff, Math.Abs(c[i * ldc + j] - expected[i * n + j]));
            // Columns between n and ldc are not part of C and must be left alone.
            for (int j = n; j < ldc && i * ldc + j < c.Length; j++)
                if (c[i * ldc + j] != padding[i * ldc + j]) return double.PositiveInfinity;
        }
        return m * n == 0 ? 0 : (double.IsNaN(maxDiff) ? double.PositiveInfinity : maxDiff / scale);
    }

    static float[] Random(Random rng, int length)
    {
        var v = new float[length];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }
}
