namespace GpuConv.Cuda;

/// <summary>The device could not supply the memory even after the pool released its cache.</summary>
public sealed class DeviceOutOfMemoryException(long requestedBytes, DeviceMemoryPoolStatistics statistics)
    : Exception($"out of device memory: could not allocate {requestedBytes} bytes (pool: {statistics.BytesInUse} B in use, cache already released)")
{
    /// <summary>Bytes the failed allocation asked for.</summary>
    public long RequestedBytes { get; } = requestedBytes;
    /// <summary>The pool's counters when the allocation failed.</summary>
    public DeviceMemoryPoolStatistics Statistics { get; } = statistics;
}
