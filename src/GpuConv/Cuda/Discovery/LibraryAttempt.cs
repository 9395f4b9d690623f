namespace GpuConv.Cuda.Discovery;

/// <summary>What happened when discovery tried one candidate library path.</summary>
public enum AttemptOutcome
{
    /// <summary>No file at that path.</summary>
    Missing,
    /// <summary>The folder itself does not exist (recorded once per folder).</summary>
    FolderMissing,
    /// <summary>The file exists but the loader refused it (wrong architecture, missing dependency…).</summary>
    LoadFailed,
    /// <summary>The library loaded from that path.</summary>
    Loaded,
    /// <summary>The file exists but was not tried (e.g. a cuBLAS for a newer CUDA than the driver supports); the detail says why.</summary>
    Skipped,
}

/// <summary>One step of library discovery: which library, what was tried, and what happened.</summary>
public sealed record LibraryAttempt(string Library, string Candidate, AttemptOutcome Outcome, string? Detail = null)
{
    /// <summary>The candidate path and its outcome, e.g. "/usr/lib/libcuda.so.1 (loaded)".</summary>
    public override string ToString() => Outcome switch
    {
        AttemptOutcome.Loaded => $"{Candidate} (loaded)",
        AttemptOutcome.Missing => $"{Candidate} (missing)",
        AttemptOutcome.FolderMissing => $"{Candidate} (no such folder)",
        AttemptOutcome.Skipped => $"{Candidate} (skipped: {Detail})",
        _ => $"{Candidate} (load failed: {Detail})",
    };
}
