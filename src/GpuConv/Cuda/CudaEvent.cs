using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A CUDA event with timing enabled: record on a stream, then read elapsed time between two events.</summary>
public sealed class CudaEvent : IDisposable
{
    readonly EventHandle _handle;

    internal CudaEvent(ContextLifetime owner)
    {
        using var current = owner.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuEventCreate(out var e, CuFlags.EventDefault), "cuEventCreate");
        _handle = new EventHandle(owner, e);
    }

    internal nint Handle => _handle.IsClosed ? throw new ObjectDisposedException(nameof(CudaEvent)) : _handle.DangerousGetHandle();

    /// <summary>Records the event on <paramref name="stream"/> (it completes when the stream's earlier work has).</summary>
    public void Record(CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var current = _handle.Owner.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuEventRecord(Handle, stream.Handle), "cuEventRecord");
    }

    /// <summary>Waits on the host until the recorded event has completed.</summary>
    public void Synchronize()
    {
        using var current = _handle.Owner.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuEventSynchronize(Handle), "cuEventSynchronize");
    }

    /// <summary>Milliseconds between <paramref name="start"/> and <paramref name="end"/> (both recorded; waits for end).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        using var current = end._handle.Owner.Enter();
        end.Synchronize();
        nint s = start.Handle, e = end.Handle;
        float ms = 0;
        long started = NativeTrace.Start();
        var status = ElapsedTime.Invoke(f => f(out ms, s, e));
        CudaDriver.Check(started, status, ElapsedTime.Name, $"{ms:0.###} ms");
        return ms;
    }

    delegate CuResult ElapsedTimeFunction(out float milliseconds, nint start, nint end);

    static readonly EntryPointFallback<ElapsedTimeFunction> ElapsedTime = new(
        CudaDriver.cuEventElapsedTime_v2, "cuEventElapsedTime_v2", CudaDriver.cuEventElapsedTime, "cuEventElapsedTime");

    /// <summary>Destroys the event.</summary>
    public void Dispose() => _handle.Dispose();
}
