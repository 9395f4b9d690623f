using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>The SIMD width a GEMM microkernel uses; higher is wider.</summary>
public enum GemmTier
{
    /// <summary>Plain scalar loops.</summary>
    Scalar = 0,
    /// <summary>128-bit vectors (SSE / NEON).</summary>
    Vector128 = 1,
    /// <summary>256-bit vectors (AVX2).</summary>
    Vector256 = 2,
    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512 = 3,
}

/// <summary>
/// Register-tile and cache-block sizes of one tier. MR × NR is the microkernel's register tile
/// (C rows × C columns); KC is the depth of one packed panel (A and B micro-panels stay in L1),
/// MC the rows of A packed per block (sized for L2), NC the columns of B packed per block (L3).
/// </summary>
internal readonly record struct GemmBlocking(int MR, int NR, int KC, int MC, int NC)
{
    public static GemmBlocking For(GemmTier tier) => tier switch
    {
        // 12 × 32 = 24 zmm accumulators + 2 B vectors + 1 broadcast of 32 registers.
        GemmTier.Vector512 => new(12, 32, 256, 144, 2048),
        // 6 × 16 = 12 ymm accumulators + 2 B vectors + 1 broadcast of 16 registers.
        GemmTier.Vector256 => new(6, 16, 256, 144, 2048),
        // 6 × 8 = 12 xmm accumulators + 2 + 1 of 16 registers.
        GemmTier.Vector128 => new(6, 8, 256, 144, 2048),
        _ => new(4, 4, 256, 144, 2048),
    };

    /// <summary>
    /// The blocking for a GEMM with <paramref name="m"/> rows: on the Vector512 tier an 8-row tile
    /// (16 accumulators) when it pads m less than the 12-row one (m = 64: 64 rows instead of 72).
    /// </summary>
    public static GemmBlocking For(GemmTier tier, int m)
    {
        var b = For(tier);
        if (tier == GemmTier.Vector512 && m % 12 != 0 && (m + 7) / 8 * 8 < (m + 11) / 12 * 12)
            return b with { MR = 8 };
        return b;
    }
}

internal static class GemmTiers
{
    /// <summary>The widest tier the runtime accelerates (honours DOTNET_EnableAVX512F / EnableAVX2 / EnableHWIntrinsic).</summary>
    public static GemmTier Best { get; } =
        Vector512.IsHardwareAccelerated ? GemmTier.Vector512 :
        Vector256.IsHardwareAccelerated ? GemmTier.Vector256 :
        Vector128.IsHardwareAccelerated ? GemmTier.Vector128 : GemmTier.Scalar;

    /// <summary>True when <paramref name="tier"/> can run here (it is at or below <see cref="Best"/>).</summary>
    public static bool IsSupported(GemmTier tier) => tier <= Best;
}
