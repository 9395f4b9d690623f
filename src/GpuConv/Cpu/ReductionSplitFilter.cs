using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu;

/// <summary>
/// Backward-filter as dWᵀ = col(x) · dyᵀ per group, the reduction (images × output pixels) cut into
/// chunks that an L2 holds: a chunk's column matrix (a block of C/g × taps rows) is built by im2col and read
/// by the GEMM in place as its A operand (1x1: x's planes themselves), and dy's chunk is B, read along its rows
/// (dy is the smaller operand: im2col-gemm took colᵀ as B and gathered it column by column).
/// Where dW has few row blocks for the threads (a stem: 64 × 147; a 64-channel 3x3: 64 × 576), the
/// reduction is split too: slice s of S sums its contiguous range of chunks into a partial dWᵀ of its own,
/// and a last pass adds the S partials in order s = 0..S−1 while transposing into dW. S depends only on the
/// problem and the thread count, so a result is repeatable run to run at a fixed thread count (and may
/// differ in the last bits between thread counts).
/// </summary>
internal static unsafe class ReductionSplitFilter
{
    /// <summary>Floats of a row block's dWᵀ (rows × K/g) a task keeps hot while it runs through its chunks.</summary>
    const int OutputBudgetFloats = 64 * 1024;
    /// <summary>Floats of a chunk's column matrix (rows × pixels): with the packed dy it stays in a 1 MiB L2.</summary>
    const int ColumnBudgetFloats = 96 * 1024;

    /// <summary>How one problem is cut: channels per row block, row blocks, pixels per chunk, chunks per image, slices.</summary>
    internal readonly record struct Plan(int Tile, int RowBlocks, int Chunk, int ChunksPerImage, int Slices)
    {
        public static Plan Of(ConvProblem p, int threads)
        {
            int kvol = (int)p.KernelVolume, cg = p.CPerGroup, kg = p.KPerGroup;
            int cols = (int)p.YShape.SpatialSize;
            int tile = (int)Math.Clamp(OutputBudgetFloats / ((long)kvol * kg), 1, cg);
            int blocks = (cg + tile - 1) / tile;
            tile = (cg + blocks - 1) / blocks;
            blocks = (cg + tile - 1) / tile;
            long rows = (long)tile * kvol;
            int chunk = (int)Math.Clamp(ColumnBudgetFloats / rows / 16 * 16, 16, Math.Max(cols, 1));
            int perImage = (cols + chunk - 1) / chunk;
            chunk = (cols + perImage - 1) / perImage;          // equal chunks, not full ones and a thin last one
            long units = (long)p.Groups * blocks, want = (long)ConvTiling.TasksPerThread * threads;
            int slices = threads > 1 && units < want ? (int)Math.Min((want + units - 1) / units, (long)p.N * perImage) : 1;
            return new Plan(tile, blocks, chunk, perImage, Math.Max(slices, 1));
        }

        public int Rows(int kvol) => Tile * kvol;
    }

    /// <summary>Per-worker floats: a chunk's column matrix and the GEMM's packing buffers.</summary>
    public static long TaskFloats(ConvProblem p, Plan plan, GemmTier tier)
    {
        int rows = plan.Rows((int)p.KernelVolume);
        return (long)rows * plan.Chunk + Sgemm.PackFloats(rows, p.KPerGroup, plan.Chunk, tier);
    }

    /// <summary>Shared floats: the slices' partial dWᵀ.</summary>
    public static long SharedFloats(ConvProblem p, Plan plan) => (long)plan.Slices * p.WShape.ElementCount;

    public static void Run(CpuConvContext ctx, bool pointwise)
    {
        var p = ctx.Problem;
        var plan = Plan.Of(p, ctx.Threads);
        int kvol = ctx.Kvol, kg = ctx.Kg, R = ctx.Rows, slices = plan.Slices;
        int chunks = ctx.N * plan.ChunksPerImage;
        float* partials = ctx.Shared.Get(WorkspaceSlot.PackB, SharedFloats(p, plan));
        long groupFloats = (long)R * kg;
        ctx.Workers.For(ctx.Groups * plan.RowBlocks * slices, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            int s = t % slices; t /= slices;
            int rb = t % plan.RowBlocks, g = t / plan.RowBlocks;
            int c0 = rb * plan.Tile, c1 = Math.Min(ctx.Cg, c0 + plan.Tile);
            int rows = (c1 - c0) * kvol;
            float* dwT = partials + (s * ctx.Groups + g) * groupFloats + (long)c0 * kvol * kg;
            int q0 = (int)((long)chunks * s / slices), q1 = (int)((long)chunks * (s + 1) / slices);
            float* col = pointwise ? null : ws.Get(WorkspaceSlot.Columns, (long)rows * plan.Chunk);
            for (int q = q0; q < q1; q++)
            {
                int n = q / plan.ChunksPerImage, j0 = q % plan.ChunksPerImage * plan.Chunk, j1 = Math.Min(ctx.Cols, j0 + plan.Chunk);
                float* x = ctx.XPlane(n, g * ctx.Cg + c0);
                MatrixView a;
                if (pointwise)
                    a = MatrixView.RowMajor(x + j0, ctx.InPlane);
                else
                {
                    Im2ColFast.Fill(ctx.G, x, c1 - c0, j0, j1, col, j1 - j0);
                    a = MatrixView.RowMajor(col, j1 - j0);
                }
                var b = MatrixView.Transposed(ctx.YPlane(n, g * kg) + j0, ctx.OutPlane);
                Sgemm.Multiply(rows, kg, j1 - j0, a, b, dwT, kg, accumulate: q > q0, ctx.Tier, ws);
            }
            if (q1 == q0)
                for (int r = 0; r < rows; r++) new Span<float>(dwT + (long)r * kg, kg).Clear();
        });
        // dW[g·K/g + k, r] = Σₛ partial[s][g][r][k], s in order; tasks own blocks of 16 output channels.
        const int KBlock = 16;
        int kBlocks = (kg + KBlock - 1) / KBlock;
        ctx.Workers.For(ctx.Groups * kBlocks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, _) =>
        {
            int g = t / kBlocks, k0 = t % kBlocks * KBlock, k1 = Math.Min(kg, k0 + KBlock);
            float* dw = ctx.W + (long)g * kg * R;
            float* first = partials + g * groupFloats;
            for (int r = 0; r < R; r++)
            {
                float* src = first + (long)r * kg;
                for (int k = k0; k < k1; k++)
                {
                    float sum = src[k];
                    for (int s = 1; s < slices; s++) sum += src[s * ctx.Groups * groupFloats + k];
                    dw[(long)k * R + r] = sum;
                }
            }
        });
    }
}
