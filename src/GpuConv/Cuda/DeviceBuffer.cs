using System.Runtime.InteropServices;

namespace GpuConv.Cuda;

/// <summary>
/// A block of device memory rented from a <see cref="DeviceMemoryPool"/>. Disposing it (or, as a last
/// resort, finalising it) returns the block to the pool exactly once.
/// </summary>
public sealed class DeviceBuffer : SafeHandle
{
    readonly DeviceMemoryPool _pool;

    internal DeviceBuffer(DeviceMemoryPool pool, ulong pointer, long bytes, long capacity) : base(0, ownsHandle: true)
    {
        _pool = pool;
        Bytes = bytes;
        Capacity = capacity;
        SetHandle((nint)pointer);
    }

    /// <summary>
    /// Device memory the application owns (allocated outside GpuConv): disposing the buffer only stops
    /// its use here; the memory is never returned to a pool or freed.
    /// </summary>
    internal static DeviceBuffer Borrow(ulong pointer, long bytes) => new(pointer, bytes);

    DeviceBuffer(ulong pointer, long bytes) : base(0, ownsHandle: false)
    {
        _pool = null!; // never used: a handle that is not owned is never released
        Bytes = bytes;
        Capacity = bytes;
        SetHandle((nint)pointer);
    }

    /// <summary>The CUdeviceptr; throws once disposed.</summary>
    public ulong Pointer => IsClosed ? throw new ObjectDisposedException(nameof(DeviceBuffer)) : (ulong)handle;

    /// <summary>Bytes requested.</summary>
    public long Bytes { get; }

    /// <summary>Bytes of the size class actually reserved (≥ <see cref="Bytes"/>).</summary>
    public long Capacity { get; }

    /// <summary>True when the pointer is 0.</summary>
    public override bool IsInvalid => handle == 0;

    /// <summary>Returns the block to its pool (never called for borrowed memory).</summary>
    protected override bool ReleaseHandle()
    {
        try
        {
            _pool.Return((ulong)handle, Capacity);
            return true;
        }
        catch (Exception) { return false; } // never from a finalizer
    }
}
