namespace GpuConv.Cuda;

/// <summary>What the driver reports about one GPU.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, int MultiprocessorCount, long TotalMemoryBytes)
{
    /// <summary>"major.minor", e.g. "9.0" for an H100/H200.</summary>
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";

    /// <summary>One line: ordinal, name, compute capability, SM count and memory in GiB.</summary>
    public override string ToString() =>
        $"GPU {Ordinal}: {Name}, compute {ComputeCapability}, {MultiprocessorCount} SMs, {TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB";
}
