using GpuConv.Conv;

namespace GpuConv.Planning;

/// <summary>What became of one candidate (or of a whole backend, for Unsupported and Filtered rows).</summary>
public enum CandidateStatus
{
    /// <summary>The candidate the plan uses.</summary>
    Chosen,
    /// <summary>Allowed, but another candidate ranked higher or ran faster.</summary>
    Lost,
    /// <summary>The backend cannot run this problem at all.</summary>
    Unsupported,
    /// <summary>The backend was excluded by the backend filter (e.g. <c>--backend</c>).</summary>
    Filtered,
    /// <summary>Its workspace is above the workspace limit or the memory available.</summary>
    OverWorkspaceLimit,
    /// <summary>Results may differ run to run, and determinism was asked for.</summary>
    NonDeterministic,
    /// <summary>Its math mode (e.g. TF32) is not allowed by the precision policy.</summary>
    Precision,
    /// <summary>It threw while being timed, or failed to allocate its workspace earlier for this key.</summary>
    Failed,
}

/// <summary>One row of <see cref="Planner.Explain"/>: a candidate, its rank or time, and its fate.</summary>
public sealed record CandidateRow(
    string Backend,
    string Algorithm,
    long WorkspaceBytes,
    int? Rank,
    double? TimeMs,
    CandidateStatus Status,
    string Reason);

/// <summary>The whole candidate table for one problem, with the plan the table led to (null if none was allowed).</summary>
public sealed record PlanExplanation(
    ConvProblem Problem,
    PlanKey Key,
    PlanPolicy Policy,
    Plan? Chosen,
    IReadOnlyList<CandidateRow> Rows)
{
    /// <summary>A plain-text table, one line per candidate (for the CLI and logs).</summary>
    public string Format()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{Problem}  [policy {Policy}]");
        sb.AppendLine(Chosen is null ? "  no candidate allowed" : $"  plan: {Chosen}");
        const string header = "  {0,-10} {1,-28} {2,14} {3,6} {4,10} {5,-19} {6}";
        sb.AppendLine(string.Format(header, "backend", "algorithm", "workspace(B)", "rank", "time(ms)", "status", "reason"));
        foreach (var r in Rows)
            sb.AppendLine(string.Format(header, r.Backend, r.Algorithm, r.WorkspaceBytes, r.Rank?.ToString() ?? "-",
                r.TimeMs is double t ? t.ToString("0.###") : "-", r.Status, r.Reason));
        return sb.ToString();
    }

    /// <summary>The same table as <see cref="Format"/>, so that printing the explanation shows the candidates.</summary>
    public override string ToString() => Format();
}
