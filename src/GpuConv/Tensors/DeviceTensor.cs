using GpuConv.Cuda;

namespace GpuConv.Tensors;

/// <summary>
/// A float32 tensor in device memory (row-major, NC[D]HW), backed by a block from its context's pool.
/// Every copy is an asynchronous copy on a stream: the given one, or with none the runtime's own stream
/// (the one kernels and cuDNN/cuBLAS run on — never the legacy NULL stream, which that non-blocking
/// stream does not wait for). Without a stream a copy is finished when the call returns (the stream is
/// synchronised). With a stream it is ordered on it; span/array uploads stay safe because the driver
/// stages pageable memory before returning, and span downloads synchronise the stream before returning
/// (the span is only pinned for the call). For overlap use a <see cref="PinnedHostBuffer"/>.
/// Dispose returns the memory to the pool; the buffer's finalizer does it as a last resort.
/// </summary>
public sealed unsafe class DeviceTensor : Tensor, IDisposable
{
    readonly IDeviceRuntime _runtime;
    readonly DeviceBuffer _buffer;

    internal DeviceTensor(IDeviceRuntime runtime, TensorShape shape) : base(shape)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _buffer = runtime.Pool.Rent(checked(shape.ElementCount * sizeof(float)));
    }

    /// <summary>A tensor over memory the application owns (<see cref="DeviceBuffer.Borrow"/>): never freed here.</summary>
    internal DeviceTensor(IDeviceRuntime runtime, TensorShape shape, DeviceBuffer borrowed) : base(shape)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _buffer = borrowed ?? throw new ArgumentNullException(nameof(borrowed));
    }

    /// <summary>A view of <paramref name="source"/>'s memory with another shape of the same element count (ConvEngine.Reshape).</summary>
    internal DeviceTensor(DeviceTensor source, TensorShape shape)
        : this(source._runtime, shape, DeviceBuffer.Borrow(source.Pointer, source.ByteCount)) => _viewOf = source;

    // The tensor whose memory a view uses: once it is disposed the memory is back in the pool, so the view is unusable too.
    readonly DeviceTensor? _viewOf;

    /// <summary>The tensor whose memory this one views (null when it owns or borrows its own).</summary>
    internal DeviceTensor? ViewOf => _viewOf;

    /// <summary>The device this tensor's memory belongs to (the engine checks it is its own).</summary>
    internal IDeviceRuntime Runtime => _runtime;

    /// <summary>Always <see cref="MemoryKind.Device"/>.</summary>
    public override MemoryKind Memory => MemoryKind.Device;

    /// <summary>Number of floats.</summary>
    public long ElementCount => Shape.ElementCount;
    /// <summary>Size in bytes (4 per element).</summary>
    public long ByteCount => Shape.ElementCount * sizeof(float);

    /// <summary>The CUdeviceptr of element 0; throws <see cref="ObjectDisposedException"/> once disposed.</summary>
    public ulong Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _buffer.Pointer;
        }
    }

    /// <summary>True once disposed (its memory is back in the pool, or no longer used if borrowed); a view also once the tensor it views is.</summary>
    public bool IsDisposed => _buffer.IsClosed || (_viewOf?.IsDisposed ?? false);

    /// <summary>Uploads <paramref name="source"/> (same element count, else <see cref="ArgumentException"/>). Without a stream it has landed on return; with one it is ordered on that stream.</summary>
    public void CopyFrom(ReadOnlySpan<float> source, CudaStream? stream = null)
    {
        CheckLength(source.Length, nameof(source));
        var dst = Pointer;
        fixed (float* p = source)
        {
            _runtime.CopyHostToDevice(dst, p, ByteCount, stream);
            // A pageable upload may return before its DMA lands: "synchronous" means landed.
            if (stream is null) _runtime.Synchronize(null);
        }
    }

    /// <summary>Uploads <paramref name="source"/>, which must have this tensor's shape (else <see cref="ArgumentException"/>); stream rule as for the span overload.</summary>
    public void CopyFrom(HostTensor source, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckShape(source.Shape, nameof(source));
        CopyFrom(source.Data, stream);
    }

    /// <summary>Asynchronous upload from page-locked memory: keep <paramref name="source"/> alive until the stream is synchronised.</summary>
    public void CopyFrom(PinnedHostBuffer source, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(stream);
        CheckLength(source.Length, nameof(source));
        _runtime.CopyHostToDevice(Pointer, source.Pointer, ByteCount, stream);
    }

    /// <summary>Copies device tensor <paramref name="source"/> (same shape) into this one; without a stream it is finished on return.</summary>
    public void CopyFrom(DeviceTensor source, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckShape(source.Shape, nameof(source));
        _runtime.CopyDeviceToDevice(Pointer, source.Pointer, ByteCount, stream);
        if (stream is null) _runtime.Synchronize(null);
    }

    /// <summary>Downloads into <paramref name="destination"/> (same element count); the stream is synchronised before return.</summary>
    public void CopyTo(Span<float> destination, CudaStream? stream = null)
    {
        CheckLength(destination.Length, nameof(destination));
        var src = Pointer;
        fixed (float* p = destination)
        {
            _runtime.CopyDeviceToHost(p, src, ByteCount, stream);
            // The span is pinned only inside this block and read by the caller right after.
            _runtime.Synchronize(stream);
        }
    }

    /// <summary>Asynchronous download into page-locked memory: read it after synchronising the stream.</summary>
    public void CopyTo(PinnedHostBuffer destination, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(stream);
        CheckLength(destination.Length, nameof(destination));
        _runtime.CopyDeviceToHost(destination.Pointer, Pointer, ByteCount, stream);
    }

    /// <summary>A new host array with the tensor's contents (synchronous).</summary>
    public float[] Download()
    {
        var data = new float[Shape.ElementCountInt];
        CopyTo(data);
        return data;
    }

    /// <summary>A new host tensor with this tensor's shape and contents (synchronous).</summary>
    public HostTensor ToHost() => new(Shape, Download());

    void CheckLength(long length, string parameter)
    {
        if (length != Shape.ElementCount)
            throw new ArgumentException($"{parameter} has {length} elements but {this} holds {Shape.ElementCount}.", parameter);
    }

    void CheckShape(TensorShape other, string parameter)
    {
        if (!other.Equals(Shape))
            throw new ArgumentException($"{parameter} has shape {other} but {this} has shape {Shape}.", parameter);
    }

    /// <summary>Returns the memory to the pool (borrowed memory and a view's are only released from use, never freed). Idempotent.</summary>
    public new void Dispose() => _buffer.Dispose();

    /// <summary>"DeviceTensor" plus the shape.</summary>
    public override string ToString() => $"DeviceTensor{Shape}";
}
