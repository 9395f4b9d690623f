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

    /// <summary>
    /// Makes the context current on the calling thread until the returned scope is disposed, which puts back whatever the
    /// caller had current (its own context, another device's, or none): GpuConv never leaves the caller's thread changed.
    /// Every context-bound driver, cuDNN and cuBLAS call runs inside one. When the context is already current (an outer
    /// scope, or the caller's own choice) this costs one cuCtxGetCurrent and restores nothing; otherwise a
    /// cuCtxSetCurrent before and one after. Both are thread-local bindings (no device work; NVIDIA documents no cost).
    /// </summary>
    public CurrentContextScope Enter()
    {
        if (!_alive) throw new ObjectDisposedException(nameof(CudaContext), "the CUDA context was disposed.");
        // Not traced: it precedes nearly every call and would double the trace's length.
        CudaDriver.Check(CudaDriver.cuCtxGetCurrent(out var previous), "cuCtxGetCurrent");
        if (previous == Context) return default;
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(Context), "cuCtxSetCurrent");
        return new CurrentContextScope(previous);
    }

    /// <summary>For release paths: <see cref="Enter"/> if still alive, never throw; false when the context is gone or cannot be made current.</summary>
    public bool TryEnter(out CurrentContextScope scope)
    {
        scope = default;
        if (!_alive || CudaDriver.cuCtxGetCurrent(out var previous) != CuResult.Success) return false;
        if (previous == Context) return true;
        if (CudaDriver.cuCtxSetCurrent(Context) != CuResult.Success) return false;
        scope = new CurrentContextScope(previous);
        return true;
    }

    /// <summary>Leaves the context current on the calling thread (the public <see cref="CudaContext.MakeCurrent"/>: the caller asked for it).</summary>
    public void MakeCurrent()
    {
        if (!_alive) throw new ObjectDisposedException(nameof(CudaContext), "the CUDA context was disposed.");
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(Context), "cuCtxSetCurrent");
    }

    public void MarkDead() => _alive = false;
}

/// <summary>
/// The caller's current context, put back on dispose (see <see cref="ContextLifetime.Enter"/>); default: nothing to put back.
/// A struct, so a scope costs no allocation. A failed restore is ignored: the caller's context was destroyed meanwhile
/// (nothing to restore to), or a sticky device error the next call reports anyway — and a dispose must not hide the
/// exception that ended the scope.
/// </summary>
internal readonly struct CurrentContextScope : IDisposable
{
    readonly nint _previous;
    readonly bool _restore;

    internal CurrentContextScope(nint previous)
    {
        _previous = previous;
        _restore = true;
    }

    public void Dispose()
    {
        if (_restore) CudaDriver.cuCtxSetCurrent(_previous);
    }
}
