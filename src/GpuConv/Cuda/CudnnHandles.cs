using System.Runtime.InteropServices;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A cuDNN handle bound to one context and stream.</summary>
internal sealed class CudnnHandle : SafeHandle
{
    readonly ContextLifetime _owner;

    CudnnHandle(ContextLifetime owner, nint h) : base(0, true) { _owner = owner; SetHandle(h); }

    public static CudnnHandle Create(CudaContext context, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.MakeCurrent();
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnCreate(out var h), "cudnnCreate");
        var handle = new CudnnHandle(context.Lifetime, h);
        handle.SetStream(stream ?? context.Stream);
        return handle;
    }

    public override bool IsInvalid => handle == 0;
    internal nint Raw => IsClosed ? throw new ObjectDisposedException(nameof(CudnnHandle)) : handle;

    public void SetStream(CudaStream stream)
    {
        _owner.MakeCurrent();
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnSetStream(Raw, stream.Handle), "cudnnSetStream");
    }

    protected override bool ReleaseHandle()
    {
        try { return !_owner.TryMakeCurrent() || CuDnn.cudnnDestroy(handle) == CudnnStatus.Success; }
        catch (Exception) { return false; }
    }
}

/// <summary>Base for cuDNN descriptors: host-side objects, created and destroyed without a context.</summary>
internal abstract class CudnnDescriptor : SafeHandle
{
    protected CudnnDescriptor() : base(0, true) { }
    public override bool IsInvalid => handle == 0;
    internal nint Raw => IsClosed ? throw new ObjectDisposedException(GetType().Name) : handle;
    protected void Adopt(nint h) => SetHandle(h);

    protected sealed override bool ReleaseHandle()
    {
        try { return Destroy(handle) == CudnnStatus.Success; }
        catch (Exception) { return false; }
    }

    protected abstract CudnnStatus Destroy(nint h);
}

internal sealed class CudnnTensorDescriptor : CudnnDescriptor
{
    public CudnnTensorDescriptor()
    {
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnCreateTensorDescriptor(out var h), "cudnnCreateTensorDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => CuDnn.cudnnDestroyTensorDescriptor(h);
}

internal sealed class CudnnFilterDescriptor : CudnnDescriptor
{
    public CudnnFilterDescriptor()
    {
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnCreateFilterDescriptor(out var h), "cudnnCreateFilterDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => CuDnn.cudnnDestroyFilterDescriptor(h);
}

internal sealed class CudnnConvolutionDescriptor : CudnnDescriptor
{
    public CudnnConvolutionDescriptor()
    {
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnCreateConvolutionDescriptor(out var h), "cudnnCreateConvolutionDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => CuDnn.cudnnDestroyConvolutionDescriptor(h);
}

internal sealed class CudnnActivationDescriptor : CudnnDescriptor
{
    public CudnnActivationDescriptor()
    {
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnCreateActivationDescriptor(out var h), "cudnnCreateActivationDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => CuDnn.cudnnDestroyActivationDescriptor(h);
}
