namespace GpuConv.Cuda;

/// <summary>A snapshot of a <see cref="DeviceMemoryPool"/>: bytes are size-class bytes (what was really allocated).</summary>
public readonly record struct DeviceMemoryPoolStatistics(
    long BytesInUse,
    long BytesCached,
    long PeakBytesInUse,
    int BlocksInUse,
    int BlocksCached,
    long NativeAllocations,
    long NativeFrees,
    long Rents,
    long CacheHits)
{
    /// <summary>Device bytes the pool holds from the driver right now.</summary>
    public long BytesReserved => BytesInUse + BytesCached;
}
