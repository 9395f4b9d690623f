using System.Collections.Concurrent;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Cuda;

/// <summary>
/// One GPU's primary context and everything made in it: streams, events, pinned buffers, PTX modules,
/// the device-memory pool. Each call makes the context current on the calling thread first, so the
/// object can be used from any thread. Disposing it frees everything it made, then releases the context.
/// </summary>
public sealed unsafe class CudaContext : IDisposable, IDeviceRuntime
{
    readonly PrimaryContextHandle _primary;
    readonly ConcurrentDictionary<IDisposable, byte> _owned = new();
    readonly Lazy<PtxModuleCache> _kernels;
    int _disposed;

    CudaContext(CudaDeviceInfo device, PrimaryContextHandle primary)
    {
        Device = device;
        _primary = primary;
        Lifetime = new ContextLifetime(primary.DangerousGetHandle(), device.Ordinal);
        Pool = new DeviceMemoryPool(new CudaDeviceAllocator(Lifetime));
        Stream = CreateStream();
        _kernels = new Lazy<PtxModuleCache>(() => Own(new PtxModuleCache(Lifetime)));
    }

    /// <summary>Opens device <paramref name="ordinal"/>; throws <see cref="GpuUnavailableException"/> with discovery's reason when there is no usable GPU.</summary>
    public static CudaContext Open(int ordinal = 0)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) throw new GpuUnavailableException(status.Reason);
        if (ordinal < 0 || ordinal >= status.Devices.Count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"device ordinal must be in [0, {status.Devices.Count}).");
        var device = status.Devices[ordinal];
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuDeviceGet(out int dev, ordinal), "cuDeviceGet");
        return new CudaContext(device, PrimaryContextHandle.Retain(dev));
    }

    /// <summary>The GPU this context runs on.</summary>
    public CudaDeviceInfo Device { get; }
    internal ContextLifetime Lifetime { get; }

    /// <summary>The context's own stream (non-blocking), used when a caller gives none.</summary>
    public CudaStream Stream { get; }

    /// <summary>The caching pool device tensors of this context are rented from.</summary>
    public DeviceMemoryPool Pool { get; }

    /// <summary>The embedded PTX kernels, loaded into this context on first use.</summary>
    internal PtxModuleCache Kernels => _kernels.Value;

    /// <summary>
    /// Makes this (primary) context current on the calling thread and leaves it there (for code of the caller's that wants it).
    /// GpuConv's own calls do not need it: each makes the context current for its duration and then puts back whatever the
    /// thread had current.
    /// </summary>
    public void MakeCurrent() => Lifetime.MakeCurrent();

    /// <summary>Waits until all work on the context's device has finished (cuCtxSynchronize); throws <see cref="CudaException"/> on a device error.</summary>
    public void Synchronize()
    {
        using var current = Lifetime.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>Free and total device memory (cuMemGetInfo_v2).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        using var current = Lifetime.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemGetInfo_v2(out var free, out var total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    /// <summary>A new non-blocking stream, disposed with the context at the latest.</summary>
    public CudaStream CreateStream() => Own(new CudaStream(Lifetime));
    /// <summary>A new timing event, disposed with the context at the latest.</summary>
    public CudaEvent CreateEvent() => Own(new CudaEvent(Lifetime));
    /// <summary><paramref name="elements"/> page-locked host floats, freed with the context at the latest.</summary>
    public PinnedHostBuffer AllocatePinned(int elements) => Own(new PinnedHostBuffer(Lifetime, elements));

    /// <summary>A device tensor of the shape from this context's pool (contents unspecified).</summary>
    public DeviceTensor Allocate(TensorShape shape) => new(this, shape);

    /// <summary>A device tensor holding a copy of <paramref name="host"/>.</summary>
    public DeviceTensor Upload(HostTensor host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var t = Allocate(host.Shape);
        t.CopyFrom(host.Data);
        return t;
    }

    T Own<T>(T item) where T : IDisposable
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _owned.TryAdd(item, 0);
        return item;
    }

    // --- IDeviceRuntime: every copy is async on a stream (null: this context's own stream) ---
    // A copy on the legacy NULL stream would not be ordered with the non-blocking Stream that kernels
    // and cuDNN/cuBLAS use: a pageable upload may return before its DMA lands, and device-to-device
    // copies are not host-synchronous at all.

    void IDeviceRuntime.CopyHostToDevice(ulong destination, void* source, long bytes, CudaStream? stream)
    {
        using var current = Lifetime.Enter();
        var s = stream ?? Stream;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemcpyHtoDAsync_v2(destination, source, (nuint)bytes, s.Handle), "cuMemcpyHtoDAsync_v2",
            $"dst=0x{destination:x} bytes={bytes} stream=0x{s.Handle:x}");
    }

    void IDeviceRuntime.CopyDeviceToHost(void* destination, ulong source, long bytes, CudaStream? stream)
    {
        using var current = Lifetime.Enter();
        var s = stream ?? Stream;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemcpyDtoHAsync_v2(destination, source, (nuint)bytes, s.Handle), "cuMemcpyDtoHAsync_v2",
            $"src=0x{source:x} bytes={bytes} stream=0x{s.Handle:x}");
    }

    void IDeviceRuntime.CopyDeviceToDevice(ulong destination, ulong source, long bytes, CudaStream? stream)
    {
        using var current = Lifetime.Enter();
        var s = stream ?? Stream;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemcpyDtoDAsync_v2(destination, source, (nuint)bytes, s.Handle), "cuMemcpyDtoDAsync_v2",
            $"dst=0x{destination:x} src=0x{source:x} bytes={bytes} stream=0x{s.Handle:x}");
    }

    void IDeviceRuntime.Synchronize(CudaStream? stream) => (stream ?? Stream).Synchronize();

    /// <summary>Synchronises the device, frees streams, events, pinned buffers and pool cache this context made, and releases the primary context. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            if (Lifetime.TryEnter(out var current))
                using (current) CudaDriver.cuCtxSynchronize();
        }
        catch (Exception) { /* disposing anyway */ }
        foreach (var item in _owned.Keys)
            item.Dispose();
        _owned.Clear();
        // After a device error the pool's wait before freeing fails; releasing the context frees its memory anyway.
        try { Pool.Dispose(); }
        catch (CudaException) { }
        Lifetime.MarkDead();
        _primary.Dispose();
    }

    /// <summary>"CudaContext(" plus the device description.</summary>
    public override string ToString() => $"CudaContext({Device})";
}
