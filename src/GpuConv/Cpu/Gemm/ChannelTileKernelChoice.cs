using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// Which channel-tile microkernels a tier runs: <see cref="ChannelTileKernels"/> (zmm) on Vector512,
/// <see cref="ChannelTileKernels256"/> (ymm, AVX2 + FMA) on Vector256. Both take the same 64-channel panels
/// and tiles, so the drivers (channel-tiled, Winograd) are the same code on either tier.
/// </summary>
internal static unsafe class ChannelTileKernelChoice
{
    /// <summary>True when <paramref name="tier"/> has channel-tile kernels and this CPU runs them.</summary>
    public static bool Supported(GemmTier tier) => tier switch
    {
        GemmTier.Vector512 => Avx512F.IsSupported,
        GemmTier.Vector256 => Avx2.IsSupported && Fma.IsSupported,
        _ => false,
    };

    /// <summary>The kernel for a tile of <paramref name="pixels"/> pixels: 1..6 × 64 channels, or 1..12 × 32 when <paramref name="half"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static delegate*<nint, float*, nint*, nint*, float*, float*, nint, bool, void> For(GemmTier tier, int pixels, bool half) =>
        tier == GemmTier.Vector512
            ? (half ? ChannelTileKernels.ForHalf(pixels) : ChannelTileKernels.For(pixels))
            : (half ? ChannelTileKernels256.ForHalf(pixels) : ChannelTileKernels256.For(pixels));
}
