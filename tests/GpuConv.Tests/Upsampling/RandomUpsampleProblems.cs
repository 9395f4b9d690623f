using GpuConv.Tensors;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// Random upsamples for the tests: the mode's rank (nearest modes 1–3), by size (up or down) or by factor (integer,
/// non-integer, below 1, with and without recompute_scale_factor), align_corners either way for the linear modes; small
/// planes so the interpreter runs them quickly, more than one plane.
/// </summary>
static class RandomUpsampleProblems
{
    static readonly double[] Factors = [2.0, 3.0, 1.5, 1.7, 2.1, 2.5, 0.5, 0.6, 0.75, 1.1, 1.0, 1.3];

    public static IEnumerable<UpsampleMode> Modes => Enum.GetValues<UpsampleMode>();

    /// <summary>The spatial rank of <paramref name="mode"/> (the nearest modes: <paramref name="nearestRank"/>).</summary>
    public static int RankOf(UpsampleMode mode, int nearestRank) => mode switch
    {
        UpsampleMode.Linear => 1,
        UpsampleMode.Bilinear => 2,
        UpsampleMode.Trilinear => 3,
        _ => nearestRank,
    };

    public static (UpsampleSpec Spec, TensorShape Input) Create(int seed, UpsampleMode mode, int nearestRank)
    {
        var rng = new Random(seed);
        int rank = RankOf(mode, nearestRank);
        int maxIn = rank == 3 ? 4 : rank == 2 ? 7 : 12;
        var dims = new int[rank + 2];
        dims[0] = rng.Next(1, 3);
        dims[1] = rng.Next(1, 4);
        for (int d = 0; d < rank; d++) dims[2 + d] = rng.Next(1, maxIn + 1);
        var input = new TensorShape(dims);
        bool linear = mode is UpsampleMode.Linear or UpsampleMode.Bilinear or UpsampleMode.Trilinear;
        bool align = linear && rng.Next(2) == 0;
        while (true)
        {
            UpsampleSpec spec;
            if (rng.Next(2) == 0)
            {
                var size = new int[rank];
                for (int d = 0; d < rank; d++) size[d] = rng.Next(1, 2 * maxIn + 2);
                spec = UpsampleSpec.ToSize(mode, size, align);
            }
            else
            {
                var scale = new double[rank];
                for (int d = 0; d < rank; d++) scale[d] = Factors[rng.Next(Factors.Length)];
                spec = UpsampleSpec.ByScale(mode, scale, align, recomputeScaleFactor: rng.Next(4) == 0);
            }
            bool fits = true;
            for (int d = 0; d < rank; d++) fits &= spec.OutputSize(d, dims[2 + d]) >= 1;
            if (fits) return (spec, input);
        }
    }

    /// <summary>Every mode × rank, <paramref name="seeds"/> seeds each.</summary>
    public static IEnumerable<TestCaseData> Cases(int seeds)
    {
        foreach (var mode in Modes)
            for (int rank = 1; rank <= 3; rank++)
            {
                if (RankOf(mode, rank) != rank) continue;
                for (int seed = 0; seed < seeds; seed++)
                    yield return new TestCaseData(mode, rank, seed).SetArgDisplayNames(mode.ToString(), $"rank {rank}", $"seed {seed}");
            }
    }
}
