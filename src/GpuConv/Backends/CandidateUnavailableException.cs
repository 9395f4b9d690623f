namespace GpuConv.Backends;

/// <summary>
/// A candidate algorithm cannot run this problem right now, though the problem itself is fine: its
/// workspace could not be allocated, or the library refused the algorithm at run time. The planner
/// then moves to the next candidate and remembers the failure for the problem's key.
/// </summary>
public abstract class CandidateUnavailableException(string algorithm, string message, Exception? inner)
    : Exception(message, inner)
{
    /// <summary>The candidate's key (backend/name[+math]) or, for scratch, what the memory was for.</summary>
    public string Algorithm { get; } = algorithm;

    /// <summary>Why, in a few words for plan explanations ("could not allocate 1048576 B of workspace").</summary>
    public abstract string Reason { get; }
}
