using System.Runtime.CompilerServices;
using GpuConv.Cpu.Columns;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu;

/// <summary>
/// Backward-data (the input gradient, and transposed convolution) on the CPU:
/// col = W[group]ᵀ · dy[n, group], then col2im sums the columns back into dx. Tasks own disjoint
/// channel ranges of dx, so no two write the same element; 1x1 / stride 1 / unpadded needs no col2im
/// (dx = Wᵀ · dy directly). The bias (per channel of dx) is added to each task's channels.
/// Where dx has too few channels for the threads, dx is also split into slabs along one dimension
/// (<see cref="Col2ImSlabs"/>), and column matrices of at most 16 rows take <see cref="SmallRowsGemm"/>.
/// </summary>
internal static unsafe class CpuBackwardData
{
    public static void GemmCol2Im(CpuConvContext ctx)
    {
        int outer = ctx.N * ctx.Groups;
        var (tile, tiles) = ConvTiling.Channels(outer, ctx.Cg, (long)ctx.Kvol * ctx.Cols, ctx.Threads);
        var slabs = Slabs(ctx.G, (long)outer * tiles, ctx.Threads);
        var geometry = ctx.G;
        bool smallRows = SmallRows(tile * ctx.Kvol, ctx.Tier);
        ctx.Workers.For(outer * tiles * slabs.Count, new Col2ImTasks(ctx, geometry, slabs, tile, tiles, smallRows));
    }

    /// <summary>One (image, group, channel tile, slab): Wᵀ · dy into a column matrix, scattered into dx.</summary>
    readonly struct Col2ImTasks(CpuConvContext ctx, ConvGeometry geometry, Col2ImSlabs slabs, int tile, int tiles, bool smallRows) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int si = t % slabs.Count; t /= slabs.Count;
            int ct = t % tiles; t /= tiles;
            int g = t % ctx.Groups, n = t / ctx.Groups;
            int c0 = ct * tile, c1 = Math.Min(ctx.Cg, c0 + tile);
            int rows = (c1 - c0) * ctx.Kvol;
            var slab = slabs.Count == 1 ? Slab.Whole(geometry) : slabs.Of(geometry, si);
            int cols = slab.Columns(geometry);
            float* col = ws.Get(WorkspaceSlot.Columns, (long)rows * Math.Max(cols, 1));
            // A(i, p) = W[g·Kg + p, c0·kvol + i]: Wᵀ restricted to this channel range.
            var a = MatrixView.Transposed(ctx.W + (nint)g * ctx.Kg * ctx.Rows + c0 * ctx.Kvol, ctx.Rows);
            var b = MatrixView.RowMajor(ctx.YPlane(n, g * ctx.Kg) + slab.FirstColumn(geometry), ctx.OutPlane);
            if (smallRows)
            {
                float* panel = ws.Get(WorkspaceSlot.PackA, SmallRowsGemm.PanelFloats(ctx.Kg));
                SmallRowsGemm.PackA(a, rows, ctx.Kg, panel);
                SmallRowsGemm.Multiply(rows, cols, ctx.Kg, panel, b.Pointer, ctx.OutPlane, col, Math.Max(cols, 1),
                    ws.Get(WorkspaceSlot.PackB, SmallRowsGemm.EdgeFloats(ctx.Kg)));
            }
            else
                Sgemm.Multiply(rows, cols, ctx.Kg, a, b, col, Math.Max(cols, 1), false, ctx.Tier, ws);
            int cAbs = g * ctx.Cg + c0;
            Col2Im.Accumulate(geometry, slab, col, Math.Max(cols, 1), c1 - c0, ctx.XPlane(n, cAbs), ctx.Bias == null ? null : ctx.Bias + cAbs);
        }
    }

    /// <summary>
    /// The slabs of gemm-col2im: none while the channel tiles keep the threads busy, else enough for them, of
    /// at most about <see cref="SlabMaxColumns"/> dy positions each.
    /// </summary>
    internal static Col2ImSlabs Slabs(in ConvGeometry g, long channelTasks, int threads)
    {
        long want = (long)ConvTiling.TasksPerThread * threads;
        if (threads <= 1 || channelTasks >= want) return Col2ImSlabs.Whole;
        return Col2ImSlabs.For(g, channelTasks, threads, SlabMaxColumns);
    }

    /// <summary>Tasks of at most 16 column-matrix rows take the in-place small-rows GEMM (AVX-512).</summary>
    internal static bool SmallRows(int rows, GemmTier tier) =>
        rows <= SmallRowsGemm.TileRows && SmallRowsGemm.Supported(tier);

    /// <summary>
    /// Most dy positions per slab when dx is split into slabs. Conv-TasNet's decoder (2 threads, ratios to ORT,
    /// medians of 5 alternated runs): 1024 1.31 / 1.32 (batch 2 / 1), 512 1.28 / 1.11, 2048 1.37 / 1.31.
    /// </summary>
    internal const int SlabMaxColumns = 1024;

    public static void Gemm1x1(CpuConvContext ctx)
    {
        int outer = ctx.N * ctx.Groups;
        var tiling = ConvTiling.For(outer, ctx.Cg, ctx.Cols, ctx.Kg, ctx.Threads, ctx.Tier);
        ctx.Workers.For(tiling.Tasks(outer), new Gemm1x1Tiles(ctx, tiling));
    }

    /// <summary>One (image, group, column tile, row tile) of dx = Wᵀ · dy.</summary>
    readonly struct Gemm1x1Tiles(CpuConvContext ctx, ConvTiling tiling) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            var (n, g, j0, j1, i0, i1) = tiling.TileOf(t, ctx.Groups, ctx.Cg, ctx.Cols);
            var a = MatrixView.Transposed(ctx.W + (nint)g * ctx.Kg * ctx.Cg + i0, ctx.Cg);
            var b = MatrixView.RowMajor(ctx.YPlane(n, g * ctx.Kg) + j0, ctx.OutPlane);
            int cAbs = g * ctx.Cg + i0;
            Sgemm.Multiply(i1 - i0, j1 - j0, ctx.Kg, a, b, ctx.XPlane(n, cAbs) + j0, ctx.InPlane, false, ctx.Tier, ws);
            CpuBias.AddRows(ctx.XPlane(n, 0), ctx.InPlane, ctx.Bias, cAbs, cAbs + (i1 - i0), j0, j1);
        }
    }
}
