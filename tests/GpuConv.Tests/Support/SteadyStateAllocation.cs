using GpuConv.Backends;
using GpuConv.Conv;

namespace GpuConv.Tests.Support;

/// <summary>
/// Managed bytes one CPU-backend run allocates once it is in its steady state: 20 runs first (workspaces
/// grown, weights prepared, code compiled), then the average over <c>calls</c> runs on this thread.
/// What is left per call is each fork-join job and its closures, at most <see cref="BytesPerJob"/>.
/// </summary>
static class SteadyStateAllocation
{
    /// <summary>The bound per fork-join job a run issues (CpuAllocationTests measured 160–590 bytes).</summary>
    public const long BytesPerJob = 640;

    public static double BytesPerCall(CpuBackend cpu, ConvProblem p, ConvAlgorithm algorithm, ConvTensors tensors, int calls = 100)
    {
        for (int i = 0; i < 20; i++) cpu.Run(p, algorithm, tensors);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < calls; i++) cpu.Run(p, algorithm, tensors);
        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)calls;
    }
}
