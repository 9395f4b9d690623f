using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu;

/// <summary>
/// When an output is split into several row tiles (few output positions, many channels: the late
/// layers of a network at batch 1), every row-tile task would pack the same B. Packing it once into a
/// shared buffer first — itself in parallel, one task per (GEMM, column tile, K block) — and letting the
/// row tiles share it removes that repeated work.
/// </summary>
internal static unsafe class PrepackedB
{
    /// <summary>
    /// Worth it when row tiles share a B that fits one column block of the driver — for a plain-matrix B
    /// (1x1 convolutions: a strided copy to pack) only when more than four tiles share it. The packing
    /// pass is a fork-join of its own, and repacking a cheap B in each of 2–4 tasks was faster
    /// (MobileNetV2's 1x1 layers on two threads: 0.83–0.86x ORT shared, 0.96–1.01x repacked); an
    /// im2col or shifted B (nine taps per channel) is worth sharing between any two tiles.
    /// </summary>
    public static bool Worth(ConvTiling t, GemmTier tier, bool plainB) =>
        t.RowTiles > (plainB ? 4 : 1) && t.ColTile <= GemmBlocking.For(tier).NC;

    /// <summary>Floats between the packed B of consecutive (outer, column tile) pairs.</summary>
    public static long Stride(ConvTiling t, int k, GemmTier tier) => Sgemm.PackedBFloats(t.ColTile, k, tier);

    /// <summary>
    /// Packs B of every (outer index, column tile) into the run's shared buffer and returns it; the B of
    /// pair (o, ct) starts at o·ColTiles + ct strides. <paramref name="source"/> gives the B source of
    /// outer index o starting at column j0.
    /// </summary>
    public static float* Pack<TB, TSources>(CpuConvContext ctx, ConvTiling t, int outer, int k, int cols, TSources source)
        where TB : struct, IPackSource where TSources : struct, IPackSources<TB>
    {
        long stride = Stride(t, k, ctx.Tier);
        nint buffer = (nint)ctx.Shared.Get(WorkspaceSlot.PackB, stride * outer * t.ColTiles);
        int blocks = Sgemm.KBlocks(k, ctx.Tier);
        ctx.Workers.For(outer * t.ColTiles * blocks, new PackTasks<TB, TSources>(ctx, t, k, cols, source, stride, buffer, blocks));
        return (float*)buffer;
    }

    readonly struct PackTasks<TB, TSources>(CpuConvContext ctx, ConvTiling t, int k, int cols, TSources source, long stride, nint buffer, int blocks) : ICpuLoop
        where TB : struct, IPackSource where TSources : struct, IPackSources<TB>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int i, WorkspaceSet _)
        {
            int block = i % blocks, pair = i / blocks;
            int ct = pair % t.ColTiles, o = pair / t.ColTiles;
            int j0 = ct * t.ColTile, j1 = Math.Min(cols, j0 + t.ColTile);
            Sgemm.PackBBlock(source.At(o, j0), j1 - j0, k, ctx.Tier, block, (float*)buffer + stride * pair);
        }
    }
}

/// <summary>The B source of each outer index (image, group) of a convolution's GEMMs, from column j0 on.</summary>
internal interface IPackSources<TB> where TB : struct, IPackSource
{
    TB At(int outer, int j0);
}
