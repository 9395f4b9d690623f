namespace GpuConv.Backends;

/// <summary>A candidate's workspace could not be allocated; the planner moves to the next candidate.</summary>
public sealed class WorkspaceAllocationException(string algorithm, long bytes, Exception? inner = null)
    : Exception($"could not allocate {bytes} bytes of workspace for {algorithm}", inner)
{
    public string Algorithm { get; } = algorithm;
    public long Bytes { get; } = bytes;
}
