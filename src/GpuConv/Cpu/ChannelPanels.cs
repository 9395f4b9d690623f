using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu;

/// <summary>
/// Weights in the layout <see cref="ChannelTileKernels"/> stream: per group, per block of 64 output
/// channels, a depth × 64 panel whose row p holds weight p (channel, tap) of the block's 64 channels,
/// zero past the group's last channel. Packing transposes W (K × depth, row-major), so it costs about
/// as much as reading W twice; <see cref="PackedWeightCache"/> keeps the panels of constant weights.
/// </summary>
internal static unsafe class ChannelPanels
{
    const int Width = ChannelTileKernels.Channels;

    /// <summary>Blocks of 64 output channels per group.</summary>
    public static int Blocks(int kPerGroup) => (kPerGroup + Width - 1) / Width;

    /// <summary>Floats of all panels of a weight tensor.</summary>
    public static long Floats(int groups, int kPerGroup, int depth) => (long)groups * Blocks(kPerGroup) * Width * depth;

    /// <summary>Packs every panel of <paramref name="w"/> into <paramref name="dst"/>, one task per panel.</summary>
    public static void PackAll(CpuWorkers workers, float* w, int groups, int kPerGroup, int depth, float* dst)
    {
        int blocks = Blocks(kPerGroup);
        nint src = (nint)w, target = (nint)dst;
        workers.For(groups * blocks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (i, _) =>
        {
            int g = i / blocks, kb = i % blocks;
            PackBlock((float*)src + ((nint)g * kPerGroup + kb * Width) * depth, Math.Min(Width, kPerGroup - kb * Width), depth,
                (float*)target + (nint)i * Width * depth);
        });
    }

    /// <summary>Packs <paramref name="count"/> (≤ 64) consecutive weight rows into one panel, zero-filling the rest of it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackBlock(float* rows, int count, int depth, float* panel)
    {
        if (count < Width) new Span<float>(panel, Width * depth).Clear();
        // Sixteen rows at a time, in runs of 64 weights: the reads stay on 16 streams and the writes on one panel stretch.
        const int Run = 64;
        for (int r0 = 0; r0 < count; r0 += 16)
        {
            int r1 = Math.Min(count, r0 + 16);
            for (int p0 = 0; p0 < depth; p0 += Run)
            {
                int p1 = Math.Min(depth, p0 + Run);
                for (int r = r0; r < r1; r++)
                {
                    float* src = rows + (nint)r * depth;
                    float* d = panel + r;
                    for (int p = p0; p < p1; p++) d[(nint)p * Width] = src[p];
                }
            }
        }
    }
}
