using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.ChannelTiled;

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
        workers.For(groups * blocks, new PanelTasks(blocks, kPerGroup, depth, src, target));
    }

    /// <summary>One panel: 64 rows of one group's weights.</summary>
    readonly struct PanelTasks(int blocks, int kPerGroup, int depth, nint src, nint target) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int i, WorkspaceSet _)
        {
            int g = i / blocks, kb = i % blocks;
            PackBlock((float*)src + ((nint)g * kPerGroup + kb * Width) * depth, depth, Math.Min(Width, kPerGroup - kb * Width), depth,
                (float*)target + (nint)i * Width * depth);
        }
    }

    /// <summary>
    /// Packs the first <paramref name="depth"/> floats of <paramref name="count"/> (≤ 64) weight rows <paramref name="stride"/>
    /// apart into one panel of <paramref name="depth"/> rows, zero-filling the rest of it: a whole panel, or (rows
    /// starting inside W's rows) a K chunk of one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackBlock(float* rows, nint stride, int count, int depth, float* panel)
    {
        if (count < Width) new Span<float>(panel, Width * depth).Clear();
        // panel[p · 64 + r] = rows[r · stride + p]: a transpose, in 16 × 16 register tiles.
        BlockTranspose.ToPlanes(rows, stride, count, depth, panel, Width, null);
    }
}
