using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A CUDA event with timing enabled: record on a stream, then read elapsed time between two events.</summary>
public sealed class CudaEvent : IDisposable
{
    readonly EventHandle _handle;

    internal CudaEvent(ContextLifetime owner)
    {
        owner.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventCreate(out var e, CuFlags.EventDefault), "cuEventCreate");
        _handle = new EventHandle(owner, e);
    }

    internal nint Handle => _handle.IsClosed ? throw new ObjectDisposedException(nameof(CudaEvent)) : _handle.DangerousGetHandle();

    public void Record(CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _handle.Owner.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventRecord(Handle, stream.Handle), "cuEventRecord");
    }

    public void Synchronize()
    {
        _handle.Owner.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventSynchronize(Handle), "cuEventSynchronize");
    }

    /// <summary>Milliseconds between <paramref name="start"/> and <paramref name="end"/> (both recorded; waits for end).</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        end.Synchronize();
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float ms, start.Handle, end.Handle), "cuEventElapsedTime");
        return ms;
    }

    public void Dispose() => _handle.Dispose();
}
