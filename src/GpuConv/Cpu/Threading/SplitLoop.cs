namespace GpuConv.Cpu.Threading;

/// <summary>A loop that knows how many tasks its work was split into (the host layers' loops: norms, softmax, copies).</summary>
internal interface ISplitLoop : ICpuLoop
{
    int Tasks { get; }
}

internal static class SplitLoop
{
    /// <summary>
    /// Runs every task of <paramref name="loop"/>: in order on the calling thread (without a workspace: these loops use
    /// none) when there is one task or no workers, else on the workers.
    /// </summary>
    public static void Run<T>(T loop, CpuWorkers? workers) where T : struct, ISplitLoop
    {
        if (loop.Tasks == 1 || workers is null) for (int t = 0; t < loop.Tasks; t++) loop.Run(t, null!);
        else workers.For(loop.Tasks, loop);
    }
}
