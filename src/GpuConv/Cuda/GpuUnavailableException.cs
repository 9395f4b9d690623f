namespace GpuConv.Cuda;

/// <summary>The GPU path cannot run here; the message is discovery's reason.</summary>
public sealed class GpuUnavailableException(string reason) : Exception($"GPU unavailable: {reason}")
{
    /// <summary>Why discovery found no usable GPU (driver, device or library missing).</summary>
    public string Reason { get; } = reason;
}
