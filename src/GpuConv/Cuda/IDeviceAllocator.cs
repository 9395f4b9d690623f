using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>Where the pool gets raw device memory; a seam so pool bookkeeping is tested without a GPU.</summary>
internal interface IDeviceAllocator
{
    /// <summary>False when the device is out of memory; other failures throw.</summary>
    bool TryAllocate(long bytes, out ulong pointer);

    /// <summary>Gives a block back to the driver; the caller has made sure no queued work still uses it (<see cref="WaitForPendingWork"/>).</summary>
    void Free(ulong pointer);

    /// <summary>
    /// Returns once no work queued on the device (any stream) can still read or write memory from this
    /// allocator. A pooled block goes back to the pool when its owner is done issuing work, not when the
    /// device is done running it; the pool calls this before it frees such blocks.
    /// </summary>
    void WaitForPendingWork();
}

/// <summary>cuMemAlloc_v2 / cuMemFree_v2 in one context; pending work is waited for with cuCtxSynchronize.</summary>
internal sealed class CudaDeviceAllocator(ContextLifetime owner) : IDeviceAllocator
{
    public bool TryAllocate(long bytes, out ulong pointer)
    {
        using var current = owner.Enter();
        long started = NativeTrace.Start();
        var status = CudaDriver.cuMemAlloc_v2(out pointer, (nuint)bytes);
        NativeTrace.Record(started, "cuMemAlloc_v2", NativeText.StatusLabel(status), $"bytes={bytes} -> 0x{pointer:x}");
        if (status == CuResult.ErrorOutOfMemory) return false;
        CudaDriver.Check(status, "cuMemAlloc_v2");
        return true;
    }

    public void Free(ulong pointer)
    {
        // Once the context is destroyed its memory is gone with it: nothing left to free.
        if (!owner.TryEnter(out var current)) return;
        using var restore = current;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemFree_v2(pointer), "cuMemFree_v2", $"0x{pointer:x}");
    }

    public void WaitForPendingWork()
    {
        // The whole context, not one stream: a returned block may have been used on any stream of it.
        // A destroyed context has nothing left running (and nothing left to free).
        if (!owner.TryEnter(out var current)) return;
        using var restore = current;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize(before freeing pooled blocks)");
    }
}
