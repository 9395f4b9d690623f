using System.Text;

namespace GpuConv.Cuda.Discovery;

/// <summary>
/// Whether the GPU path can run, and if not, why — the answer to "why is the GPU path off?".
/// cuBLAS and cuDNN are reported separately: the driver and a device make the GPU available; a
/// backend that needs cuBLAS or cuDNN checks its own field.
/// </summary>
public sealed record GpuStatus
{
    /// <summary>True when the driver loaded, initialised, is new enough and reports at least one device.</summary>
    public bool IsAvailable { get; init; }
    /// <summary>"available" or the reason the GPU path is off (e.g. "libcuda.so.1 not found: tried …").</summary>
    public required string Reason { get; init; }
    /// <summary>Every path tried while looking for the driver, cuBLAS and cuDNN, in order.</summary>
    public IReadOnlyList<LibraryAttempt> Attempts { get; init; } = [];

    /// <summary>CUDA version the driver supports, as cuDriverGetVersion reports it (13000 = 13.0); 0 if unknown.</summary>
    public int DriverVersion { get; init; }
    /// <summary>File the CUDA driver library was loaded from; null if it was not found.</summary>
    public string? DriverPath { get; init; }
    /// <summary>The GPUs the driver reports, by ordinal.</summary>
    public IReadOnlyList<CudaDeviceInfo> Devices { get; init; } = [];

    /// <summary>File cuBLAS was loaded from; null if it was not.</summary>
    public string? CublasPath { get; init; }
    /// <summary>e.g. "13.0.2"; null when cuBLAS is unavailable (see <see cref="CublasReason"/>).</summary>
    public string? CublasVersion { get; init; }
    /// <summary>Why cuBLAS is unavailable; null when it loaded.</summary>
    public string? CublasReason { get; init; }
    /// <summary>Why that copy of cuBLAS was chosen (paired with cuDNN's installation, bounded by the driver's CUDA version); null when none loaded.</summary>
    public string? CublasChoice { get; init; }

    /// <summary>File cuDNN was loaded from; null if it was not.</summary>
    public string? CudnnPath { get; init; }
    /// <summary>e.g. "9.13.0"; null when cuDNN is unavailable (see <see cref="CudnnReason"/>).</summary>
    public string? CudnnVersion { get; init; }
    /// <summary>Why cuDNN is unavailable; null when it loaded.</summary>
    public string? CudnnReason { get; init; }

    /// <summary>True when the GPU is available and cuBLAS loaded (the ptx backend needs it).</summary>
    public bool CublasAvailable => IsAvailable && CublasVersion is not null;
    /// <summary>True when the GPU is available and cuDNN loaded (the cudnn backend needs it).</summary>
    public bool CudnnAvailable => IsAvailable && CudnnVersion is not null;

    /// <summary>"major.minor" of a cuDriverGetVersion number (13000 gives "13.0"); "unknown" for 0 or less.</summary>
    public static string FormatDriverVersion(int v) => v <= 0 ? "unknown" : $"{v / 1000}.{v % 1000 / 10}";

    /// <summary>A human report for `gpuconv devices` and the GPU check logs.</summary>
    public string Describe(bool withAttempts = false)
    {
        var sb = new StringBuilder();
        sb.AppendLine(IsAvailable ? "GPU: available" : $"GPU: off — {Reason}");
        if (DriverPath is not null) sb.AppendLine($"driver: {DriverPath}, CUDA {FormatDriverVersion(DriverVersion)}");
        foreach (var d in Devices) sb.AppendLine("  " + d);
        sb.AppendLine(CublasVersion is not null ? $"cuBLAS {CublasVersion}: {CublasPath}" + (CublasChoice is { } why ? $" ({why})" : "") : $"cuBLAS: off — {CublasReason ?? "not probed"}");
        sb.AppendLine(CudnnVersion is not null ? $"cuDNN {CudnnVersion}: {CudnnPath}" : $"cuDNN: off — {CudnnReason ?? "not probed"}");
        if (withAttempts)
        {
            sb.AppendLine("attempts:");
            foreach (var a in Attempts) sb.AppendLine($"  [{a.Library}] {a}");
        }
        return sb.ToString();
    }
}
