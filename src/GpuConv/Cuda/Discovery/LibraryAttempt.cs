namespace GpuConv.Cuda.Discovery;

public enum AttemptOutcome
{
    /// <summary>No file at that path.</summary>
    Missing,
    /// <summary>The folder itself does not exist (recorded once per folder).</summary>
    FolderMissing,
    /// <summary>The file exists but the loader refused it (wrong architecture, missing dependency…).</summary>
    LoadFailed,
    Loaded,
}

/// <summary>One step of library discovery: which library, what was tried, and what happened.</summary>
public sealed record LibraryAttempt(string Library, string Candidate, AttemptOutcome Outcome, string? Detail = null)
{
    public override string ToString() => Outcome switch
    {
        AttemptOutcome.Loaded => $"{Candidate} (loaded)",
        AttemptOutcome.Missing => $"{Candidate} (missing)",
        AttemptOutcome.FolderMissing => $"{Candidate} (no such folder)",
        _ => $"{Candidate} (load failed: {Detail})",
    };
}
