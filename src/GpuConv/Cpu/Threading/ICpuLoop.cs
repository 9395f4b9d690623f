namespace GpuConv.Cpu.Threading;

/// <summary>
/// The body of a parallel loop on <see cref="CpuWorkers"/>: a struct holding what its tasks read, so that
/// handing it to the workers allocates nothing (a lambda allocates its closure and delegate on every call).
/// Implementations are readonly structs (CpuLoopShapeTests checks): all threads run one copy per job, so a field a
/// task wrote would race with the other tasks; per-task state lives in locals or the workspace, shared results in
/// the arrays or pointers the struct holds.
/// </summary>
internal interface ICpuLoop
{
    /// <summary>Runs task <paramref name="task"/> with the running thread's workspace.</summary>
    void Run(int task, WorkspaceSet workspace);
}

/// <summary>A delegate as a loop body, for callers off the warm path (tests, one-off work); allocates as the delegate does.</summary>
internal readonly struct DelegateLoop(Action<int, WorkspaceSet> body) : ICpuLoop
{
    public void Run(int task, WorkspaceSet workspace) => body(task, workspace);
}
