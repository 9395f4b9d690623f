using System.Runtime.CompilerServices;
using GpuConv.Cpu.BackwardFilter;
using GpuConv.Cpu.Columns;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu;

/// <summary>
/// Backward-filter (the weight gradient) on the CPU: dW[group] = Σₙ dy[n, group] · col(x[n, group])ᵀ.
/// Tasks own disjoint (group, channel range, output-channel range) blocks of dW and sum the batch in
/// a fixed order (deterministic, no reduction buffers); 1x1 / stride 1 / unpadded reads xᵀ in place. B (the
/// columns, transposed) is packed by <see cref="DyRunSource"/>'s 8 × 8 transposes.
/// </summary>
internal static unsafe class CpuBackwardFilter
{
    public static void Im2ColGemm(CpuConvContext ctx, bool pointwise)
    {
        int outer = ctx.Groups;
        var (tile, tiles) = ConvTiling.Channels(outer, ctx.Cg, pointwise ? 1 : (long)ctx.Kvol * ctx.Cols, ctx.Threads);
        // Few channel tiles (e.g. an RGB stem): split the output channels as well.
        var blk = GemmBlocking.For(ctx.Tier);
        int kTiles = 1, kTile = ctx.Kg;
        int want = ConvTiling.TasksPerThread * ctx.Threads;
        if (ctx.Threads > 1 && outer * tiles < want && ctx.Kg > blk.MR)
        {
            kTiles = Math.Min((want + outer * tiles - 1) / (outer * tiles), (ctx.Kg + blk.MR - 1) / blk.MR);
            kTile = ((ctx.Kg + kTiles - 1) / kTiles + blk.MR - 1) / blk.MR * blk.MR;
            kTiles = (ctx.Kg + kTile - 1) / kTile;
        }
        ctx.Workers.For(outer * tiles * kTiles, new FilterTiles(ctx, tile, tiles, kTiles, kTile, pointwise));
    }

    /// <summary>One (group, channel tile, output-channel tile) of dW, summed over the images.</summary>
    readonly struct FilterTiles(CpuConvContext ctx, int tile, int tiles, int kTiles, int kTile, bool pointwise) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int kt = t % kTiles; t /= kTiles;
            int ct = t % tiles, g = t / tiles;
            int c0 = ct * tile, c1 = Math.Min(ctx.Cg, c0 + tile);
            int k0 = g * ctx.Kg + kt * kTile, k1 = Math.Min(g * ctx.Kg + ctx.Kg, k0 + kTile);
            int rows = (c1 - c0) * ctx.Kvol;
            float* dw = ctx.W + (nint)k0 * ctx.Rows + c0 * ctx.Kvol;
            for (int n = 0; n < ctx.N; n++)
            {
                float* x = ctx.XPlane(n, g * ctx.Cg + c0);
                float* cols = x;
                nint ld = ctx.InPlane;
                if (!pointwise)
                {
                    cols = ws.Get(WorkspaceSlot.Columns, (long)rows * ctx.Cols);
                    Im2ColFast.Fill(ctx.G, x, c1 - c0, 0, ctx.Cols, cols, ctx.Cols);
                    ld = ctx.Cols;
                }
                // B = colᵀ (x's planes for 1x1): its rows packed as B's columns by the run packer's 8 × 8
                // transposes (one run of Cols positions, no gaps), not the GEMM's scalar packing of a
                // transposed view. ResNet-50 / MobileNetV2, 2 threads, old / new: 14 × 14 and 7 × 7 3x3 at
                // batch 1 1.03–1.4, at batch 8 1.05–1.1; 1x1 on 14 × 14 and 7 × 7 1.0–1.4 (one 7 × 7 row
                // 0.8 at batch 8, noisy).
                var b = new DyRunSource(cols, ld, 0, ctx.Cols, 1, ctx.Cols, 1, ctx.Cols, 0);
                var a = MatrixView.RowMajor(ctx.YPlane(n, k0), ctx.OutPlane);
                Sgemm.Multiply(k1 - k0, rows, ctx.Cols, a, b, dw, ctx.Rows, accumulate: n > 0, ctx.Tier, ws);
            }
        }
    }
}
