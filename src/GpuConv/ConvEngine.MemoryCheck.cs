using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The up-front memory check: a problem whose tensors (and the chosen plan's workspace) cannot fit the memory
/// that would hold them is refused with <see cref="ProblemTooLargeException"/> before anything is allocated,
/// instead of growing until the process or the device gives out.
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>What the host (this process) may still take; a seam so tests can pretend memory is short.</summary>
    internal Func<long> HostAvailableBytes { get; set; } = ConvProblem.AvailableInProcess;

    /// <summary>
    /// Calls whose tensors and workspace come to less than this are not checked up front: asking the device
    /// for its free memory (cuMemGetInfo) on every small call would cost more than many small convolutions,
    /// and if memory is that short the allocation itself fails with an out-of-memory exception, which is
    /// just as clean. A seam so tests can check every call.
    /// </summary>
    internal long MemoryCheckFloorBytes { get; set; } = 64L << 20;

    /// <summary>
    /// Throws <see cref="ProblemTooLargeException"/> (naming the estimated and the available bytes) when the tensors of
    /// <paramref name="problem"/> (see <see cref="ConvProblem.EstimatedBytes"/>) cannot be made in <see cref="Memory"/>:
    /// free device memory on the GPU path, what this process may still take on the CPU path. Every operation of the
    /// engine makes this check itself (and again with the plan's workspace); call it to refuse a problem before
    /// making its inputs.
    /// </summary>
    public void EnsureFits(ConvProblem problem)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(problem);
        EnsureFits(problem, Memory, present: [], plan: null, always: true);
    }

    /// <summary>
    /// The check for one call: the problem's estimate, less the tensors of the call that already exist in
    /// <paramref name="memory"/> (<paramref name="present"/>; the bias is not part of the estimate), plus the
    /// workspace of <paramref name="plan"/> when it is known, against what <paramref name="memory"/> can still hold.
    /// </summary>
    void EnsureFits(ConvProblem problem, IMemorySpace memory, ReadOnlySpan<Tensor?> present, Plan? plan, bool always = false)
    {
        long workspace = plan?.WorkspaceBytes ?? 0;
        if (!always && problem.EstimatedBytes < MemoryCheckFloorBytes - workspace) return;
        double need = problem.EstimatedBytes;
        for (int i = 0; i < present.Length; i++)
        {
            var t = present[i];
            if (t is null || t.Memory != memory.Kind || present[..i].Contains(t)) continue; // each tensor once
            need -= (double)t.Shape.ElementCount * sizeof(float);
        }
        need = Math.Max(need, 0) + workspace;
        long available = AvailableBytes(memory);
        if (need <= available) return;
        string where = memory.Kind == MemoryKind.Host ? "this process" : "the device's free memory";
        if (plan is not null)
            where += $" (for plan {plan.Algorithm.Key}, whose {workspace} bytes of workspace are counted)";
        throw new ProblemTooLargeException(problem, need >= long.MaxValue ? long.MaxValue : (long)need, available, where);
    }

    /// <summary>Bytes <paramref name="memory"/> can still hold: the process's share of host memory, or the device's free memory.</summary>
    long AvailableBytes(IMemorySpace memory)
    {
        if (memory.Kind == MemoryKind.Host)
            return Math.Max(0, HostAvailableBytes());
        // The GPU layer reports free device memory (plus its pool's idle blocks) through the backend set.
        var backend = Backends.FirstOrDefault(b => ReferenceEquals(b.Memory, memory));
        return backend is not null && backendSet.AvailableWorkspace?.Invoke(backend) is { } free ? Math.Max(0, free) : long.MaxValue;
    }
}
