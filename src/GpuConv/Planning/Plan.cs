using GpuConv.Backends;

namespace GpuConv.Planning;

/// <summary>How a plan was arrived at.</summary>
public enum PlanSource
{
    /// <summary>First allowed candidate by backend priority, then the backend's own ranking.</summary>
    Heuristic,
    /// <summary>Fastest candidate when every allowed one was timed.</summary>
    Exhaustive,
    /// <summary>Read back from the plan cache (and re-checked against the current candidates).</summary>
    Cache,
    /// <summary>The previous choice failed to allocate its workspace; this is the next candidate.</summary>
    Fallback,
}

/// <summary>
/// The planner's answer for one problem: which backend runs it with which algorithm, its workspace and
/// math, why it was chosen, and (for timed plans) the median time measured.
/// </summary>
public sealed record Plan(
    string Backend,
    ConvAlgorithm Algorithm,
    PlanSource Source,
    string Why,
    double? TimeMs = null)
{
    /// <summary>Workspace the chosen algorithm allocates, in bytes.</summary>
    public long WorkspaceBytes => Algorithm.WorkspaceBytes;
    /// <summary>The chosen algorithm's math mode.</summary>
    public MathMode Math => Algorithm.Math;

    /// <summary>Algorithm key, source, time if measured, workspace and why, on one line.</summary>
    public override string ToString() =>
        $"{Algorithm.Key} ({Source}{(TimeMs is double t ? $", {t:0.###} ms" : "")}, workspace {WorkspaceBytes} B): {Why}";
}
