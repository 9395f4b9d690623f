using System.Runtime.InteropServices;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>Base for handles that must be released with their context current.</summary>
internal abstract class ContextBoundHandle : SafeHandle
{
    protected ContextBoundHandle(ContextLifetime owner, nint handle) : base(0, ownsHandle: true)
    {
        Owner = owner;
        SetHandle(handle);
    }

    public ContextLifetime Owner { get; }
    public override bool IsInvalid => handle == 0;

    protected sealed override bool ReleaseHandle()
    {
        try
        {
            if (!Owner.TryEnter(out var current)) return true; // the context is gone, and what it held with it
            using (current) return Release(handle) == CuResult.Success;
        }
        catch (Exception) { return false; } // never from a finalizer
    }

    protected abstract CuResult Release(nint h);
}

/// <summary>A retained primary context (cuDevicePrimaryCtxRetain / cuDevicePrimaryCtxRelease_v2).</summary>
internal sealed class PrimaryContextHandle : SafeHandle
{
    readonly int _device;

    PrimaryContextHandle(int device, nint ctx) : base(0, true) { _device = device; SetHandle(ctx); }

    public static PrimaryContextHandle Retain(int device)
    {
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuDevicePrimaryCtxRetain(out var ctx, device), "cuDevicePrimaryCtxRetain");
        return new PrimaryContextHandle(device, ctx);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        try { return CudaDriver.cuDevicePrimaryCtxRelease_v2(_device) == CuResult.Success; }
        catch (Exception) { return false; }
    }
}

internal sealed class StreamHandle(ContextLifetime owner, nint h) : ContextBoundHandle(owner, h)
{
    protected override CuResult Release(nint h) => CudaDriver.cuStreamDestroy_v2(h);
}

internal sealed class EventHandle(ContextLifetime owner, nint h) : ContextBoundHandle(owner, h)
{
    protected override CuResult Release(nint h) => CudaDriver.cuEventDestroy_v2(h);
}

internal sealed class ModuleHandle(ContextLifetime owner, nint h) : ContextBoundHandle(owner, h)
{
    protected override CuResult Release(nint h) => CudaDriver.cuModuleUnload(h);
}

internal sealed unsafe class PinnedHostHandle(ContextLifetime owner, nint h) : ContextBoundHandle(owner, h)
{
    protected override CuResult Release(nint h) => CudaDriver.cuMemFreeHost((void*)h);
}
