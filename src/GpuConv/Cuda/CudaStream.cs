using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A CUDA stream (non-blocking: it does not synchronise with the legacy default stream).</summary>
public sealed class CudaStream : IDisposable
{
    readonly StreamHandle _handle;

    internal CudaStream(ContextLifetime owner)
    {
        using var current = owner.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuStreamCreate(out var s, CuFlags.StreamNonBlocking), "cuStreamCreate");
        _handle = new StreamHandle(owner, s);
    }

    /// <summary>The raw CUstream, for binding calls (cuBLAS/cuDNN SetStream, launches, async copies).</summary>
    internal nint Handle => _handle.IsClosed ? throw new ObjectDisposedException(nameof(CudaStream)) : _handle.DangerousGetHandle();

    /// <summary>Waits on the host until all work queued on the stream has finished; throws <see cref="CudaException"/> on a device error.</summary>
    public void Synchronize()
    {
        using var current = _handle.Owner.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuStreamSynchronize(Handle), "cuStreamSynchronize");
    }

    /// <summary>Destroys the stream.</summary>
    public void Dispose() => _handle.Dispose();
}
