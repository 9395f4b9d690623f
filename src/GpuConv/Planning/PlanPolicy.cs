namespace GpuConv.Planning;

/// <summary>How the planner picks among the allowed candidates.</summary>
public enum PlanPolicy
{
    /// <summary>Backends by priority, then each backend's own ranking (cuDNN's heuristics); nothing is timed.</summary>
    Heuristic,
    /// <summary>Time every allowed candidate on scratch tensors and take the fastest median (as cudnnFind, across backends).</summary>
    Exhaustive,
    /// <summary>Use the plan cache; on a miss plan heuristically and remember the answer.</summary>
    Cached,
}
