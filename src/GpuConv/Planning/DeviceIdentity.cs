using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Planning;

/// <summary>
/// The machine a plan was measured on: a plan found on one GPU (or CPU, or library version) says
/// nothing about another, so every field is part of the <see cref="PlanKey"/>.
/// The GPU layer fills the GPU fields (name, compute capability, SM count, driver, cuDNN, cuBLAS);
/// <see cref="ForCpu"/> describes this process's CPU.
/// </summary>
public sealed record DeviceIdentity(
    string Kind,
    string Name,
    string ComputeCapability = "",
    int MultiprocessorCount = 0,
    string DriverVersion = "",
    string CudnnVersion = "",
    string CublasVersion = "",
    string SimdTier = "")
{
    /// <summary>Canonical one-line form used inside plan keys (field order is part of the format).</summary>
    public string Canonical =>
        $"{Kind}|{Name}|cc={ComputeCapability}|units={MultiprocessorCount}|driver={DriverVersion}|cudnn={CudnnVersion}|cublas={CublasVersion}|simd={SimdTier}";

    /// <summary>One line for people: CPU name, cores and SIMD tier, or GPU name, SM count and library versions.</summary>
    public override string ToString() => Kind == "cpu"
        ? $"CPU {Name}, {MultiprocessorCount} logical cores, {SimdTier}"
        : $"GPU {Name} (sm_{ComputeCapability.Replace(".", "")}, {MultiprocessorCount} SMs, driver {DriverVersion}, cuDNN {CudnnVersion}, cuBLAS {CublasVersion})";

    static readonly Lazy<DeviceIdentity> cpu = new(() => new DeviceIdentity(
        "cpu", CpuName(), MultiprocessorCount: Environment.ProcessorCount, SimdTier: DetectSimdTier()));

    /// <summary>This process's CPU: processor name, logical core count and the widest usable SIMD tier.</summary>
    public static DeviceIdentity ForCpu() => cpu.Value;

    /// <summary>The vector width the JIT will actually use (respects DOTNET_EnableAVX512F=0 and friends).</summary>
    public static string DetectSimdTier()
    {
        if (Vector512.IsHardwareAccelerated) return "vector512";
        if (Vector256.IsHardwareAccelerated) return Fma.IsSupported ? "vector256+fma" : "vector256";
        if (Vector128.IsHardwareAccelerated) return "vector128";
        return "scalar";
    }

    static string CpuName()
    {
        try
        {
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo") && CpuInfoName.From(File.ReadLines("/proc/cpuinfo")) is { } name)
                return name;
            if (Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER") is { Length: > 0 } id)
                return id.Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"unknown-{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}";
    }
}
