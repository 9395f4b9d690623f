namespace GpuConv.Cuda;

/// <summary>The GPU path cannot run here; the message is discovery's reason.</summary>
public sealed class GpuUnavailableException(string reason) : Exception($"GPU unavailable: {reason}")
{
    public string Reason { get; } = reason;
}
