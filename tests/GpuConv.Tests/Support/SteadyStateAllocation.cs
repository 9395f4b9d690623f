using GpuConv.Backends;
using GpuConv.Conv;

namespace GpuConv.Tests.Support;

/// <summary>
/// Managed bytes one CPU-backend run allocates on the calling thread once it is in its steady state: 20 runs first
/// (workspaces grown, weights prepared, code compiled), then the smallest per-call mean of five rounds, so a one-off
/// (a method compiled during one round) is not read as a cost of every call. The CPU backend's warm runs allocate
/// nothing (its parallel loops take struct bodies; CpuConvolutionAllocationTests counts every thread).
/// </summary>
static class SteadyStateAllocation
{
    public static double BytesPerCall(CpuBackend cpu, ConvProblem p, ConvAlgorithm algorithm, ConvTensors tensors, int calls = 100)
    {
        for (int i = 0; i < 20; i++) cpu.Run(p, algorithm, tensors);
        int perRound = Math.Max(1, calls / 5);
        double fewest = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < perRound; i++) cpu.Run(p, algorithm, tensors);
            fewest = Math.Min(fewest, (GC.GetAllocatedBytesForCurrentThread() - before) / (double)perRound);
        }
        return fewest;
    }
}
