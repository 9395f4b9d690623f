using System.Runtime.Intrinsics.X86;
using GpuConv.Backends;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Tests.Support;

/// <summary>
/// The cpu backend forced to the Vector256 tier, for the tests of its AVX2 (AVX2 + FMA) paths: on an AVX-512
/// machine it runs them as an AVX2 machine would. Skips only where the CPU (or runtime setting) has no AVX2 + FMA.
/// </summary>
static class Avx2Tier
{
    public static void Require()
    {
        if (!GemmTiers.IsSupported(GemmTier.Vector256) || !Avx2.IsSupported || !Fma.IsSupported)
            Assert.Ignore($"AVX2 + FMA not accelerated here (best tier {GemmTiers.Best})");
    }

    /// <summary>A two-thread backend on Vector256 (skips without AVX2 + FMA).</summary>
    public static CpuBackend Backend()
    {
        Require();
        return new CpuBackend(2, GemmTier.Vector256);
    }
}
