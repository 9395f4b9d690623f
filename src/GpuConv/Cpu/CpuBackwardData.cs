using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu;

/// <summary>
/// Backward-data (the input gradient, and transposed convolution) on the CPU:
/// col = W[group]ᵀ · dy[n, group], then col2im sums the columns back into dx. Tasks own disjoint
/// channel ranges of dx, so no two write the same element; 1x1 / stride 1 / unpadded needs no col2im
/// (dx = Wᵀ · dy directly). The bias (per channel of dx) is added to each task's channels.
/// </summary>
internal static unsafe class CpuBackwardData
{
    public static void GemmCol2Im(CpuConvContext ctx)
    {
        int outer = ctx.N * ctx.Groups;
        var (tile, tiles) = ConvTiling.Channels(outer, ctx.Cg, (long)ctx.Kvol * ctx.Cols, ctx.Threads);
        ctx.Workers.For(outer * tiles, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            int ct = t % tiles; t /= tiles;
            int g = t % ctx.Groups, n = t / ctx.Groups;
            int c0 = ct * tile, c1 = Math.Min(ctx.Cg, c0 + tile);
            int rows = (c1 - c0) * ctx.Kvol;
            float* col = ws.Get(WorkspaceSlot.Columns, (long)rows * ctx.Cols);
            // A(i, p) = W[g·Kg + p, c0·kvol + i]: Wᵀ restricted to this channel range.
            var a = MatrixView.Transposed(ctx.W + (nint)g * ctx.Kg * ctx.Rows + c0 * ctx.Kvol, ctx.Rows);
            var b = MatrixView.RowMajor(ctx.YPlane(n, g * ctx.Kg), ctx.OutPlane);
            Sgemm.Multiply(rows, ctx.Cols, ctx.Kg, a, b, col, ctx.Cols, false, ctx.Tier, ws);
            int cAbs = g * ctx.Cg + c0;
            Col2Im.Accumulate(ctx.G, col, ctx.Cols, c1 - c0, ctx.XPlane(n, cAbs));
            CpuBias.AddRows(ctx.XPlane(n, 0), ctx.InPlane, ctx.Bias, cAbs, g * ctx.Cg + c1, 0, (int)ctx.InPlane);
        });
    }

    public static void Gemm1x1(CpuConvContext ctx)
    {
        int outer = ctx.N * ctx.Groups;
        var tiling = ConvTiling.For(outer, ctx.Cg, ctx.Cols, ctx.Kg, ctx.Threads, ctx.Tier);
        ctx.Workers.For(tiling.Tasks(outer), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            var (n, g, j0, j1, i0, i1) = tiling.TileOf(t, ctx.Groups, ctx.Cg, ctx.Cols);
            var a = MatrixView.Transposed(ctx.W + (nint)g * ctx.Kg * ctx.Cg + i0, ctx.Cg);
            var b = MatrixView.RowMajor(ctx.YPlane(n, g * ctx.Kg) + j0, ctx.OutPlane);
            int cAbs = g * ctx.Cg + i0;
            Sgemm.Multiply(i1 - i0, j1 - j0, ctx.Kg, a, b, ctx.XPlane(n, cAbs) + j0, ctx.InPlane, false, ctx.Tier, ws);
            CpuBias.AddRows(ctx.XPlane(n, 0), ctx.InPlane, ctx.Bias, cAbs, cAbs + (i1 - i0), j0, j1);
        });
    }
}
