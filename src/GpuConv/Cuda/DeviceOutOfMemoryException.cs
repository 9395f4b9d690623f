namespace GpuConv.Cuda;

/// <summary>The device could not supply the memory even after the pool released its cache.</summary>
public sealed class DeviceOutOfMemoryException(long requestedBytes, DeviceMemoryPoolStatistics statistics)
    : Exception($"out of device memory: could not allocate {requestedBytes} bytes (pool: {statistics.BytesInUse} B in use, cache already released)")
{
    public long RequestedBytes { get; } = requestedBytes;
    public DeviceMemoryPoolStatistics Statistics { get; } = statistics;
}
