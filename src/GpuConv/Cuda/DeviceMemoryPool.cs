namespace GpuConv.Cuda;

/// <summary>
/// A caching device-memory pool, so repeated inference does not call cuMemAlloc/cuMemFree on the hot
/// path. Requests are rounded up to a size class (multiples of 512 B up to 1 MiB, then quarter steps
/// between powers of two, so at most 25% waste) and a returned block is kept for the next request of
/// the same class. <see cref="Trim"/> gives cached blocks back to the driver; an allocation that fails
/// for lack of memory trims and tries once more. Thread-safe.
/// <para>
/// A block comes back when its owner has issued its last work on it, which may still be queued: reusing
/// it is ordered behind that work on the same stream, but freeing it is not. So every free of a block
/// that was handed out first waits for the device (the allocator's WaitForPendingWork, cuCtxSynchronize),
/// rather than relying on cuMemFree to wait.
/// </para>
/// </summary>
public sealed class DeviceMemoryPool : IDisposable
{
    /// <summary>Size-class step below <see cref="SmallLimit"/>, in bytes.</summary>
    public const long SmallStep = 512;
    /// <summary>Requests up to this many bytes round up to a multiple of <see cref="SmallStep"/>; larger ones to quarter steps between powers of two.</summary>
    public const long SmallLimit = 1 << 20;

    readonly IDeviceAllocator _allocator;
    readonly Dictionary<long, Stack<ulong>> _cache = new();
    readonly object _gate = new();
    long _bytesInUse, _bytesCached, _peak, _nativeAllocs, _nativeFrees, _rents, _hits;
    int _blocksInUse, _blocksCached;
    bool _disposed;

    internal DeviceMemoryPool(IDeviceAllocator allocator) => _allocator = allocator;

    /// <summary>The size class a request of <paramref name="bytes"/> is served from.</summary>
    public static long SizeClass(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (bytes <= SmallLimit)
            return (bytes + SmallStep - 1) / SmallStep * SmallStep;
        // Quarter steps between powers of two: 1 MiB, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4 …
        long pow = 1L << (int)(63 - long.LeadingZeroCount(bytes - 1)); // largest power of two < bytes (bytes > 1 MiB)
        long step = pow / 4;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>A block of at least <paramref name="bytes"/> bytes; dispose it to give it back.</summary>
    public DeviceBuffer Rent(long bytes)
    {
        ulong pointer = RentBlock(bytes, out long size);
        return new DeviceBuffer(this, pointer, bytes, size);
    }

    /// <summary>
    /// A block of at least <paramref name="bytes"/> bytes without a <see cref="DeviceBuffer"/> around it (no object per rent):
    /// the caller gives it back exactly once with <see cref="Return"/>(pointer, <paramref name="size"/>). For scratch leases.
    /// </summary>
    internal ulong RentBlock(long bytes, out long size)
    {
        if (bytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "a device buffer needs at least one byte.");
        size = SizeClass(bytes);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _rents++;
            ulong pointer;
            if (_cache.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                pointer = stack.Pop();
                _hits++;
                _blocksCached--;
                _bytesCached -= size;
            }
            else
            {
                pointer = AllocateNative(size);
            }
            _blocksInUse++;
            _bytesInUse += size;
            _peak = Math.Max(_peak, _bytesInUse);
            return pointer;
        }
    }

    ulong AllocateNative(long size)
    {
        if (!_allocator.TryAllocate(size, out var pointer))
        {
            TrimLocked();
            if (!_allocator.TryAllocate(size, out pointer))
                throw new DeviceOutOfMemoryException(size, StatisticsLocked());
        }
        _nativeAllocs++;
        return pointer;
    }

    /// <summary>Called by <see cref="DeviceBuffer"/> once (dispose or finalizer), and by a scratch lease for a <see cref="RentBlock"/> block.</summary>
    internal void Return(ulong pointer, long size)
    {
        lock (_gate)
        {
            _blocksInUse--;
            _bytesInUse -= size;
            if (_disposed)
            {
                _allocator.WaitForPendingWork();
                _nativeFrees++;
                _allocator.Free(pointer);
                return;
            }
            if (!_cache.TryGetValue(size, out var stack))
                _cache[size] = stack = new Stack<ulong>();
            stack.Push(pointer);
            _blocksCached++;
            _bytesCached += size;
        }
    }

    /// <summary>Frees every cached (unused) block back to the driver, after waiting for the device to finish the work queued so far.</summary>
    public void Trim()
    {
        lock (_gate) TrimLocked();
    }

    void TrimLocked()
    {
        if (_blocksCached == 0) return; // nothing to free: no device-wide wait
        _allocator.WaitForPendingWork();
        foreach (var (size, stack) in _cache)
            while (stack.Count > 0)
            {
                var pointer = stack.Pop();
                _blocksCached--;
                _bytesCached -= size;
                _nativeFrees++;
                _allocator.Free(pointer);
            }
    }

    /// <summary>A snapshot of the pool's counters.</summary>
    public DeviceMemoryPoolStatistics Statistics
    {
        get { lock (_gate) return StatisticsLocked(); }
    }

    DeviceMemoryPoolStatistics StatisticsLocked() =>
        new(_bytesInUse, _bytesCached, _peak, _blocksInUse, _blocksCached, _nativeAllocs, _nativeFrees, _rents, _hits);

    /// <summary>Frees the cache; blocks still rented are freed when they come back (each after waiting for the device).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            TrimLocked();
        }
    }
}
