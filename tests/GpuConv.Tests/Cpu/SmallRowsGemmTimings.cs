using System.Diagnostics;
using System.Globalization;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// gemm-col2im's GEMM for few rows on one thread, in-process, alternated call by call: the blocked Sgemm
/// (packs A and B) against SmallRowsGemm's 16 × 16 tiles and, for m ≤ 8, its 8 × 32 tiles. C = A · B with
/// A transposed (as Wᵀ is passed), B a 512 × 1024 block of a 4000-wide row-major matrix (dy's slab), m the
/// column matrix's rows. Medians of 41 rounds (µs) and medians of per-round ratios to Sgemm. Explicit.
/// Run: dotnet test -c Release --project tests/GpuConv.Tests -- --filter "FullyQualifiedName~SmallRowsGemmTimings" --output detailed
/// </summary>
[Explicit("a benchmark: needs a quiet machine")]
public class SmallRowsGemmTimings
{
    const int Rounds = 41, K = 512, N = 1024, Ld = 4000;

    [Test]
    public unsafe void Table()
    {
        if (!SmallRowsGemm.Supported(GemmTiers.Best)) Assert.Ignore("AVX-512 not accelerated here");
        var rng = new Random(3);
        var a = Enumerable.Range(0, K * 16).Select(_ => (float)rng.NextDouble()).ToArray();
        var b = Enumerable.Range(0, K * Ld).Select(_ => (float)rng.NextDouble()).ToArray();
        var c = new float[16 * N];
        var panel = new float[SmallRowsGemm.PanelFloats(K)];
        var edge = new float[SmallRowsGemm.EdgeFloats(K)];
        var inv = CultureInfo.InvariantCulture;
        using var pool = new WorkspacePool();
        var ws = pool.Rent();
        TestContext.Out.WriteLine("| rows | Sgemm µs | 16x16 µs | 8x32 µs | 16x16 / Sgemm | 8x32 / Sgemm |");
        TestContext.Out.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (int m in new[] { 2, 4, 8, 12, 16 })
        {
            var times = new List<double>[3] { [], [], [] };
            fixed (float* pa = a, pb = b, pc = c, pp = panel, pe = edge)
            {
                var view = MatrixView.Transposed(pa, 16);
                for (int r = 0; r < Rounds + 3; r++)
                    for (int v = 0; v < 3; v++)
                    {
                        if (v == 2 && m > 8) continue;
                        long t0 = Stopwatch.GetTimestamp();
                        if (v == 0) Sgemm.Multiply(m, N, K, view, MatrixView.RowMajor(pb, Ld), pc, N, false, GemmTiers.Best, ws);
                        else
                        {
                            SmallRowsGemm.PackA(view, m, K, pp);
                            if (v == 1) SmallRowsGemm.Multiply16(m, N, K, pp, pb, Ld, pc, N, pe);
                            else SmallRowsGemm.MultiplyHalf(m, N, K, pp, pb, Ld, pc, N, pe);
                        }
                        double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                        if (r >= 3) times[v].Add(us);
                    }
            }
            static double Median(IEnumerable<double> v) { var l = v.Order().ToList(); return l.Count == 0 ? double.NaN : l[l.Count / 2]; }
            double r16 = Median(times[1].Zip(times[0], (x, y) => x / y)), r8 = Median(times[2].Zip(times[0], (x, y) => x / y));
            TestContext.Out.WriteLine(string.Format(inv, "| {0} | {1:0.0} | {2:0.0} | {3:0.0} | {4:0.00} | {5:0.00} |", m, Median(times[0]), Median(times[1]), Median(times[2]), r16, r8));
        }
        pool.Return(ws);
    }

    /// <summary>B cold (from memory): each call reads the next 1024 columns of a 512 × 32000 B (64 MB, twice the L3); Sgemm against the small-rows GEMM, 16 and 8 rows.</summary>
    [Test]
    public unsafe void Cold()
    {
        if (!SmallRowsGemm.Supported(GemmTiers.Best)) Assert.Ignore("AVX-512 not accelerated here");
        const int Wide = 32000;
        var rng = new Random(3);
        var a = Enumerable.Range(0, K * 16).Select(_ => (float)rng.NextDouble()).ToArray();
        var b = new float[(long)K * Wide];
        for (int i = 0; i < b.Length; i++) b[i] = i % 7;
        var c = new float[16 * N];
        var panel = new float[SmallRowsGemm.PanelFloats(K)];
        var edge = new float[SmallRowsGemm.EdgeFloats(K)];
        using var pool = new WorkspacePool();
        var ws = pool.Rent();
        foreach (int m in new[] { 16, 8 })
        {
            var times = new List<double>[2] { [], [] };
            int block = 0;
            fixed (float* pa = a, pb = b, pc = c, pp = panel, pe = edge)
            {
                var view = MatrixView.Transposed(pa, 16);
                for (int r = 0; r < Rounds + 3; r++)
                    for (int v = 0; v < 2; v++)
                    {
                        float* bb = pb + (block++ % (Wide / N - 1)) * N;
                        long t0 = Stopwatch.GetTimestamp();
                        if (v == 0) Sgemm.Multiply(m, N, K, view, MatrixView.RowMajor(bb, Wide), pc, N, false, GemmTiers.Best, ws);
                        else
                        {
                            SmallRowsGemm.PackA(view, m, K, pp);
                            SmallRowsGemm.Multiply(m, N, K, pp, bb, Wide, pc, N, pe);
                        }
                        if (r >= 3) times[v].Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                    }
            }
            static double Median(IEnumerable<double> v) { var l = v.Order().ToList(); return l[l.Count / 2]; }
            TestContext.Out.WriteLine($"cold B, rows {m}: Sgemm {Median(times[0]):0.0} µs, small-rows {Median(times[1]):0.0} µs");
        }
        pool.Return(ws);
    }
}
