using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>
/// The primary context every handle of one <see cref="CudaContext"/> belongs to. Handles keep a
/// reference so that their release (possibly on the finalizer thread) can make the context current
/// first — and skip the native call once the context is gone, because destroying the context already
/// freed what they owned.
/// </summary>
internal sealed class ContextLifetime(nint context, int device)
{
    volatile bool _alive = true;

    public nint Context { get; } = context;
    public int Device { get; } = device;
    public bool IsAlive => _alive;

    /// <summary>Binds the context to the calling thread (cheap, thread-local); every context-bound driver call goes through here.</summary>
    public void MakeCurrent()
    {
        if (!_alive) throw new ObjectDisposedException(nameof(CudaContext), "the CUDA context was disposed.");
        // Not traced: it precedes nearly every call and would double the trace's length.
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(Context), "cuCtxSetCurrent");
    }

    /// <summary>For release paths: make current if still alive, never throw.</summary>
    public bool TryMakeCurrent() => _alive && CudaDriver.cuCtxSetCurrent(Context) == CuResult.Success;

    public void MarkDead() => _alive = false;
}
