namespace GpuConv.Cuda;

/// <summary>What the driver reports about one GPU.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, int MultiprocessorCount, long TotalMemoryBytes)
{
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";

    public override string ToString() =>
        $"GPU {Ordinal}: {Name}, compute {ComputeCapability}, {MultiprocessorCount} SMs, {TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB";
}
