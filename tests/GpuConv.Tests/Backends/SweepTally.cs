using GpuConv.Conv;

namespace GpuConv.Tests.Backends;

/// <summary>
/// Algorithm runs of a sweep, counted per op and spatial rank, so the sweep can assert at the end that
/// it ran what it meant to run (an op or a rank with no runs means something was silently skipped).
/// </summary>
public sealed class SweepTally
{
    readonly int[,] _runs = new int[Enum.GetValues<ConvOp>().Length, ConvSpec.MaxRank + 1];

    public void Count(ConvProblem p) => _runs[(int)p.Op, p.Rank]++;

    public int Runs(ConvOp op, int rank) => _runs[(int)op, rank];

    public int Total => _runs.Cast<int>().Sum();

    /// <summary>Fails unless every op in <paramref name="ops"/> ran at least once at every rank in <paramref name="ranks"/>.</summary>
    public void AssertRan(IEnumerable<ConvOp> ops, IEnumerable<int> ranks)
    {
        TestContext.Out.WriteLine($"algorithm runs: {this}");
        foreach (var op in ops)
            foreach (int rank in ranks)
                Assert.That(Runs(op, rank), Is.GreaterThan(0), $"no {op} run at rank {rank} ({this})");
    }

    public override string ToString() => string.Join("; ", Enum.GetValues<ConvOp>()
        .Where(op => Enumerable.Range(1, ConvSpec.MaxRank).Any(r => Runs(op, r) > 0))
        .Select(op => $"{op} " + string.Join("/", Enumerable.Range(1, ConvSpec.MaxRank).Select(r => Runs(op, r))) + " (ranks 1/2/3)"));
}
