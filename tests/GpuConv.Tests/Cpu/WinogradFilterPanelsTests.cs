using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Threading;
using GpuConv.Cpu.Winograd;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Winograd3x3.TransformWeightsToPanels (eight filters per transform, written straight as channel panels) against the
/// one-filter transform (TransformFilter, element ξ of U at ξ · step) packed by ChannelPanels, as the constant-weights
/// path did before: the same bits, for both variants, with groups, K/g that ends in a part-filled panel, and runs of
/// input channels split over the workers. The panel lanes past K/g are not compared (no output reads them).
/// </summary>
public unsafe class WinogradFilterPanelsTests
{
    static readonly object[] Shapes = [new[] { 1, 64, 3, 1 }, new[] { 2, 70, 5, 2 }, new[] { 3, 8, 17, 3 }, new[] { 1, 130, 64, 2 }];

    /// <summary>Each variant on each (groups, K/g, C/g, threads) of <see cref="Shapes"/>.</summary>
    static IEnumerable<TestCaseData> Cases() =>
        from variant in new[] { "F4x4", "F2x2" }
        from int[] s in Shapes
        select new TestCaseData(variant, s[0], s[1], s[2], s[3]);

    [TestCaseSource(nameof(Cases))]
    public void GivesTheOneFilterTransformsBits(string variant, int groups, int kPerGroup, int cPerGroup, int threads)
    {
        if (variant == "F4x4") Check<F4x4>(groups, kPerGroup, cPerGroup, threads);
        else Check<F2x2>(groups, kPerGroup, cPerGroup, threads);
    }

    static void Check<T>(int groups, int kPerGroup, int cPerGroup, int threads) where T : struct, IWinogradTiles
    {
        int k = groups * kPerGroup, xis = (T.Tile + 2) * (T.Tile + 2);
        var rng = new Random(k * 31 + cPerGroup);
        // Magnitudes over several decades, signs mixed: the transforms' adds and scalings meet rounding everywhere.
        var w = Enumerable.Range(0, k * cPerGroup * 9).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-3, 4)))).ToArray();
        long floats = Winograd3x3.PanelFloats<T>(groups, kPerGroup, cPerGroup);
        var expected = new float[floats];
        var actual = Enumerable.Repeat(float.NaN, (int)floats).ToArray();
        var u = new float[xis * k * cPerGroup];
        using var workers = new CpuWorkers(threads);
        fixed (float* pw = w, pu = u, pe = expected, pa = actual)
        {
            nint step = (nint)k * cPerGroup;
            for (int kk = 0; kk < k; kk++)
                for (int c = 0; c < cPerGroup; c++)
                    T.TransformFilter(pw + ((nint)kk * cPerGroup + c) * 9, pu + (nint)kk * cPerGroup + c, step);
            ChannelPanels.PackAll(workers, pu, xis * groups, kPerGroup, cPerGroup, pe);
            Winograd3x3.TransformWeightsToPanels<T>(workers, pw, groups, kPerGroup, cPerGroup, pa);
        }
        int blocks = ChannelPanels.Blocks(kPerGroup), width = 64, mismatches = 0;
        string first = "";
        for (int panel = 0; panel < xis * groups * blocks; panel++)
            for (int c = 0; c < cPerGroup; c++)
                for (int lane = 0; lane < width && panel % blocks * width + lane < kPerGroup; lane++)
                {
                    long i = ((long)panel * cPerGroup + c) * width + lane;
                    if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])) continue;
                    if (mismatches++ == 0) first = $"panel {panel}, c {c}, lane {lane}: {expected[i]:R} expected, {actual[i]:R} written";
                }
        Assert.That(mismatches, Is.Zero, first);
    }
}
