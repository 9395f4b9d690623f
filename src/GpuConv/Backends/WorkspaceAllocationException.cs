namespace GpuConv.Backends;

/// <summary>A candidate's workspace could not be allocated; the planner moves to the next candidate.</summary>
public sealed class WorkspaceAllocationException(string algorithm, long bytes, Exception? inner = null)
    : CandidateUnavailableException(algorithm, $"could not allocate {bytes} bytes of workspace for {algorithm}", inner)
{
    /// <summary>Size of the workspace that could not be allocated, in bytes.</summary>
    public long Bytes { get; } = bytes;
    /// <inheritdoc/>
    public override string Reason => $"could not allocate {Bytes} B of workspace";
}
