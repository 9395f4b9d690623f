using GpuConv.Backends;

namespace GpuConv.Planning;

/// <summary>
/// A plan as remembered by the <see cref="PlanCache"/>: names only, never trusted as-is. The planner
/// turns it back into a <see cref="Plan"/> only if a current, allowed candidate has the same backend,
/// algorithm name, id and math mode (workspace and determinism come from that live candidate).
/// <see cref="Candidates"/> lists the algorithms the backends offered when the plan was made: when a build
/// offers others (a new algorithm), the choice is made again rather than kept from a narrower field.
/// Null for entries written before it was recorded (kept as they are).
/// </summary>
public sealed record CachedPlan(
    string Backend,
    string Algorithm,
    int AlgorithmId,
    MathMode Math,
    long WorkspaceBytes,
    double? TimeMs,
    PlanSource Source,
    string Why,
    DateTime SavedUtc,
    string? Candidates = null)
{
    /// <summary>The cache entry for <paramref name="plan"/>, stamped <paramref name="savedUtc"/>, chosen among <paramref name="candidates"/>.</summary>
    public static CachedPlan From(Plan plan, DateTime savedUtc, string? candidates = null) => new(
        plan.Backend, plan.Algorithm.Name, plan.Algorithm.Id, plan.Algorithm.Math, plan.Algorithm.WorkspaceBytes,
        plan.TimeMs, plan.Source, plan.Why, savedUtc, candidates);

    /// <summary>True when <paramref name="candidate"/> is the algorithm this entry names.</summary>
    public bool Matches(ConvAlgorithm candidate) =>
        string.Equals(candidate.Backend, Backend, StringComparison.Ordinal) &&
        string.Equals(candidate.Name, Algorithm, StringComparison.Ordinal) &&
        candidate.Id == AlgorithmId && candidate.Math == Math;

    /// <summary>"backend/algorithm", with "+math" when the math mode is not strict (as <see cref="ConvAlgorithm.Key"/>).</summary>
    public string AlgorithmKey => Math == MathMode.Strict ? $"{Backend}/{Algorithm}" : $"{Backend}/{Algorithm}+{Math}";
}
