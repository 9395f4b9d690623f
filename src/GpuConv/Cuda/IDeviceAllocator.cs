using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>Where the pool gets raw device memory; a seam so pool bookkeeping is tested without a GPU.</summary>
internal interface IDeviceAllocator
{
    /// <summary>False when the device is out of memory; other failures throw.</summary>
    bool TryAllocate(long bytes, out ulong pointer);

    void Free(ulong pointer);
}

/// <summary>cuMemAlloc_v2 / cuMemFree_v2 in one context.</summary>
internal sealed class CudaDeviceAllocator(ContextLifetime owner) : IDeviceAllocator
{
    public bool TryAllocate(long bytes, out ulong pointer)
    {
        owner.MakeCurrent();
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
        if (!owner.TryMakeCurrent()) return;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemFree_v2(pointer), "cuMemFree_v2", $"0x{pointer:x}");
    }
}
