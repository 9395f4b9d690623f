using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Tests.Support;

/// <summary>
/// The tiers with the cpu backend's channel-tile kernels (channel-tiled, and Winograd built on them): AVX-512, or
/// AVX2 + FMA. Tests that run those kernels skip only where the tier has none; where it has, the algorithm must be
/// offered, so a candidate list that lost it fails instead of skipping the tests.
/// </summary>
static class ChannelTileTier
{
    public static bool HasKernels => GemmTiers.Best switch
    {
        GemmTier.Vector512 => Avx512F.IsSupported,
        GemmTier.Vector256 => Avx2.IsSupported && Fma.IsSupported,
        _ => false,
    };

    /// <summary>
    /// "Op/algorithm" keys a test expects to cover, less channel-tiled and both Winograds where this tier has no
    /// channel-tile kernels (the Vector128 tier: NEON on ARM64, SSE-only x86), which the backend then never offers.
    /// </summary>
    public static string[] OnThisTier(params string[] keys) => HasKernels ? keys
        : keys.Where(k => k.Split('/')[^1] is not (CpuBackend.ChannelTiled or CpuBackend.Winograd or CpuBackend.Winograd4x4)).ToArray();

    /// <summary>Skips without the kernels; otherwise asserts the cpu backend offers <paramref name="algorithm"/> for <paramref name="problem"/>.</summary>
    public static void RequireOffered(string algorithm, ConvProblem problem)
    {
        if (!HasKernels)
            Assert.Ignore($"{algorithm} needs AVX-512 or AVX2 + FMA (the Vector512 or Vector256 GEMM tier); this CPU or runtime setting has neither.");
        using var cpu = new CpuBackend(1);
        Assert.That(cpu.GetAlgorithms(problem, ConvPrecision.Strict).Select(a => a.Name), Does.Contain(algorithm), $"offered for {problem} on this tier");
    }
}
