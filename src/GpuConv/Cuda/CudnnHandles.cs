using System.Runtime.InteropServices;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A cuDNN handle bound to one context and stream.</summary>
internal sealed class CudnnHandle : SafeHandle
{
    readonly ICudnnApi _api;
    readonly ContextLifetime? _owner;

    CudnnHandle(ICudnnApi api, ContextLifetime? owner, nint h) : base(0, true) { _api = api; _owner = owner; SetHandle(h); }

    public static CudnnHandle Create(CudaContext context, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var current = context.Lifetime.Enter();
        var api = NativeCudnnApi.Instance;
        CuDnn.Check(NativeTrace.Start(), api.CreateHandle(out var h), "cudnnCreate");
        var handle = new CudnnHandle(api, context.Lifetime, h);
        try { handle.SetStream(stream ?? context.Stream); }
        catch
        {
            handle.Dispose(); // not left to the finalizer
            throw;
        }
        return handle;
    }

    /// <summary>A handle from <paramref name="api"/> with no CUDA context (for fakes).</summary>
    internal static CudnnHandle CreateDetached(ICudnnApi api)
    {
        CuDnn.Check(NativeTrace.Start(), api.CreateHandle(out var h), "cudnnCreate");
        return new CudnnHandle(api, null, h);
    }

    public override bool IsInvalid => handle == 0;
    internal nint Raw => IsClosed ? throw new ObjectDisposedException(nameof(CudnnHandle)) : handle;

    /// <summary>The library the handle came from; descriptors used with it come from the same one.</summary>
    internal ICudnnApi Api => _api;

    public void SetStream(CudaStream stream)
    {
        using var current = _owner?.Enter() ?? default;
        CuDnn.Check(NativeTrace.Start(), _api.SetStream(Raw, stream.Handle), "cudnnSetStream", $"stream=0x{stream.Handle:x}");
    }

    protected override bool ReleaseHandle()
    {
        try
        {
            if (_owner is null) return _api.DestroyHandle(handle) == CudnnStatus.Success;
            if (!_owner.TryEnter(out var current)) return true; // the context is gone, and the handle's state with it
            using (current) return _api.DestroyHandle(handle) == CudnnStatus.Success;
        }
        catch (Exception) { return false; }
    }
}

/// <summary>Base for cuDNN descriptors: host-side objects, created and destroyed without a context.</summary>
internal abstract class CudnnDescriptor : SafeHandle
{
    protected CudnnDescriptor(ICudnnApi api) : base(0, true) => Api = api;
    protected ICudnnApi Api { get; }
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
    public CudnnTensorDescriptor() : this(NativeCudnnApi.Instance) { }

    public CudnnTensorDescriptor(ICudnnApi api) : base(api)
    {
        CuDnn.Check(NativeTrace.Start(), api.CreateTensorDescriptor(out var h), "cudnnCreateTensorDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => Api.DestroyTensorDescriptor(h);
}

internal sealed class CudnnFilterDescriptor : CudnnDescriptor
{
    public CudnnFilterDescriptor() : this(NativeCudnnApi.Instance) { }

    public CudnnFilterDescriptor(ICudnnApi api) : base(api)
    {
        CuDnn.Check(NativeTrace.Start(), api.CreateFilterDescriptor(out var h), "cudnnCreateFilterDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => Api.DestroyFilterDescriptor(h);
}

internal sealed class CudnnConvolutionDescriptor : CudnnDescriptor
{
    public CudnnConvolutionDescriptor() : this(NativeCudnnApi.Instance) { }

    public CudnnConvolutionDescriptor(ICudnnApi api) : base(api)
    {
        CuDnn.Check(NativeTrace.Start(), api.CreateConvolutionDescriptor(out var h), "cudnnCreateConvolutionDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => Api.DestroyConvolutionDescriptor(h);
}

internal sealed class CudnnActivationDescriptor : CudnnDescriptor
{
    public CudnnActivationDescriptor() : this(NativeCudnnApi.Instance) { }

    public CudnnActivationDescriptor(ICudnnApi api) : base(api)
    {
        CuDnn.Check(NativeTrace.Start(), api.CreateActivationDescriptor(out var h), "cudnnCreateActivationDescriptor");
        Adopt(h);
    }

    protected override CudnnStatus Destroy(nint h) => Api.DestroyActivationDescriptor(h);
}
