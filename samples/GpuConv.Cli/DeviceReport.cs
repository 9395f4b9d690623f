using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cli.Execution;

namespace GpuConv.Cli;

/// <summary>What compute this machine offers, as <c>gpuconv devices</c> prints it.</summary>
public static class DeviceReport
{
    public static IReadOnlyList<string> CpuLines() =>
    [
        $"CPU: {Environment.ProcessorCount} logical cores, {RuntimeInformation.ProcessArchitecture}, {RuntimeInformation.OSDescription}",
        $"CPU SIMD: {SimdTier()} (Vector<float> holds {Vector<float>.Count} floats; hardware-accelerated: " +
            $"128-bit {Vector128.IsHardwareAccelerated}, 256-bit {Vector256.IsHardwareAccelerated}, 512-bit {Vector512.IsHardwareAccelerated})",
        $".NET: {RuntimeInformation.FrameworkDescription}",
    ];

    /// <summary>The GPU part of the report: devices, driver and libraries found, or why the GPU path is off.</summary>
    public static IReadOnlyList<string> GpuLines()
    {
        var status = GpuConv.Cuda.Discovery.CudaDiscovery.Probe();
        var lines = status.Describe(withAttempts: !status.IsAvailable).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToList();
        using var backends = CliBackends.Open(null);
        lines.Add($"Backends usable now: {string.Join(", ", backends.All.Select(b => b.Name))}");
        return lines;
    }

    /// <summary>The widest SIMD instruction set the JIT will use here (it honours DOTNET_EnableAVX512F=0 etc.).</summary>
    public static string SimdTier()
    {
        if (Avx512F.IsSupported) return "AVX-512F (512-bit)" + (Fma.IsSupported ? " + FMA" : "");
        if (Avx2.IsSupported) return "AVX2 (256-bit)" + (Fma.IsSupported ? " + FMA" : "");
        if (Avx.IsSupported) return "AVX (256-bit)";
        if (Sse2.IsSupported) return "SSE2 (128-bit)";
        if (AdvSimd.IsSupported) return "Arm AdvSIMD/NEON (128-bit)";
        return Vector.IsHardwareAccelerated ? $"{Vector<byte>.Count * 8}-bit vectors" : "none (scalar)";
    }
}
