using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu;

/// <summary>
/// Forward convolution on the CPU: y[n, group] = W[group] · col(x[n, group]) per image and group,
/// cut into (image, group, column tile, row tile) tasks. The column matrix is never stored: the GEMM
/// packs its B panels straight from x (<see cref="Im2ColSource"/>), and for 1x1 / stride 1 / unpadded
/// it reads x in place (the column matrix is the input). Each task adds the bias to its output tile
/// while it is still in cache. Depthwise has its own direct kernel.
/// </summary>
internal static unsafe class CpuForward
{
    public static void Im2ColGemm(CpuConvContext ctx, bool pointwise)
    {
        int outer = ctx.N * ctx.Groups;
        var tiling = ConvTiling.For(outer, ctx.Kg, ctx.Cols, pointwise ? ctx.Cg : ctx.Rows, ctx.Threads, ctx.Tier);
        nint shared = 0;
        long sharedStride = 0;
        if (PrepackedB.Worth(tiling, ctx.Tier))
        {
            sharedStride = PrepackedB.Stride(tiling, ctx.Rows, ctx.Tier);
            shared = pointwise
                ? (nint)PrepackedB.Pack(ctx, tiling, outer, ctx.Rows, ctx.Cols, (o, j0) =>
                    new ViewSource(MatrixView.RowMajor(ctx.XPlane(o / ctx.Groups, o % ctx.Groups * ctx.Cg) + j0, ctx.InPlane)))
                : (nint)PrepackedB.Pack(ctx, tiling, outer, ctx.Rows, ctx.Cols, (o, j0) =>
                    new Im2ColSource(ctx.G, ctx.XPlane(o / ctx.Groups, o % ctx.Groups * ctx.Cg), j0));
        }
        ctx.Workers.For(tiling.Tasks(outer), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            int rt = t % tiling.RowTiles; t /= tiling.RowTiles;
            int ct = t % tiling.ColTiles; t /= tiling.ColTiles;
            int g = t % ctx.Groups, n = t / ctx.Groups;
            int j0 = ct * tiling.ColTile, j1 = Math.Min(ctx.Cols, j0 + tiling.ColTile);
            int i0 = rt * tiling.RowTile, i1 = Math.Min(ctx.Kg, i0 + tiling.RowTile);
            float* x = ctx.XPlane(n, g * ctx.Cg);
            int k0 = g * ctx.Kg + i0;
            var a = MatrixView.RowMajor(ctx.W + (nint)k0 * ctx.Rows, ctx.Rows);
            float* y = ctx.YPlane(n, k0) + j0;
            if (shared != 0)
                Sgemm.MultiplyPacked(i1 - i0, j1 - j0, ctx.Rows, a, (float*)shared + sharedStride * ((long)(n * ctx.Groups + g) * tiling.ColTiles + ct), y, ctx.OutPlane, false, ctx.Tier, ws);
            else if (pointwise)
                Sgemm.Multiply(i1 - i0, j1 - j0, ctx.Rows, a, MatrixView.RowMajor(x + j0, ctx.InPlane), y, ctx.OutPlane, false, ctx.Tier, ws);
            else
                Sgemm.Multiply(i1 - i0, j1 - j0, ctx.Rows, a, new Im2ColSource(ctx.G, x, j0), y, ctx.OutPlane, false, ctx.Tier, ws);
            CpuBias.AddRows(ctx.YPlane(n, 0), ctx.OutPlane, ctx.Bias, k0, k0 + (i1 - i0), j0, j1);
        });
    }

    /// <summary>Depthwise (groups == C): tasks over (image, input channel); each writes its channel's output planes.</summary>
    public static void Depthwise(CpuConvContext ctx)
    {
        int planes = ctx.N * ctx.C;
        int tasks = Math.Min(planes, ctx.Threads * 8);
        long scratch = DepthwiseDirect.ScratchFloats(ctx.G);
        int mult = ctx.Kg;
        ctx.Workers.For(tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            int p0 = (int)((long)planes * t / tasks), p1 = (int)((long)planes * (t + 1) / tasks);
            float* rows = ws.Get(WorkspaceSlot.Rows, scratch);
            int* tables = (int*)ws.Get(WorkspaceSlot.Tables, DepthwiseDirect.TableInts(ctx.G));
            DepthwiseDirect.Prepare(ctx.G, rows, tables);
            for (int pl = p0; pl < p1; pl++)
            {
                int n = pl / ctx.C, c = pl % ctx.C;
                int k0 = c * mult;
                DepthwiseDirect.Channel(ctx.G, ctx.XPlane(n, c), ctx.W + (nint)k0 * ctx.Kvol, ctx.YPlane(n, k0),
                    ctx.Bias == null ? null : ctx.Bias + k0, mult, rows, tables);
            }
        });
    }
}
