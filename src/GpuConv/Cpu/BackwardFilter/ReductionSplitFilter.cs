using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Conv;
using GpuConv.Cpu.Columns;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Shifted;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.BackwardFilter;

/// <summary>
/// Backward-filter as dWᵀ = col(x) · dyᵀ per group, the reduction (images × output positions) cut into
/// chunks that an L2 holds, with the column matrix as the GEMM's A (read in place) and dy's chunk as B
/// (dy is the smaller operand: im2col-gemm took colᵀ as B and gathered it column by column). Three ways
/// to A: (1) shifted — per tap, the block's zero-padded stride-phase planes read in place at the tap's
/// offset (16–64 channels); (2) padded columns — a chunk's column matrix copied from those planes, one
/// contiguous run per row and chunk, the chunks running over the images end to end; (3) 1x1 unit-stride:
/// x's planes in place (and im2col where the padded input would not fit). On AVX-512 the problems that
/// <see cref="FilterDots.Applies"/> takes (shallow or small-plane 1x1 layers, stems) run as dot products of
/// rows read in place instead (no packing). The padded paths run over the layout's run space, whose gap columns (between output rows) meet
/// zeros in dy: exact for finite x; an x with a ±Inf or NaN runs im2col instead (a gap would turn it into a
/// NaN the reference does not have).
/// Where dW has few row blocks for the threads and the reduction is short (images × run positions ≤ 4096, e.g.
/// ResNet-50's 28 × 28 and 56 × 56 layers at batch 1),
/// dW's output channels are cut into tiles of ≥ 64 first, one task each (the column matrix is packed once per
/// tile, but no partial dW and no reduction pass; ResNet-50 at batch 1, 2 threads, old / new time: 128 → 512 1x1
/// at 28 × 28 1.30, 512 → 128 1.15, 512 → 256 1.08, 3x3 128 at 28 × 28 1.07, 3x3/2 128 1.06; at batch 8 the
/// measurements were too noisy to keep it there). Where tasks are still too few (a stem: 64 × 147; a
/// 64-channel 3x3: 64 × 576), the reduction is split too: slice s of S sums its contiguous range of chunks into a partial dWᵀ of its own,
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

    /// <summary>
    /// How one problem is cut: channels per row block, row blocks, positions per chunk, chunks per image (0 where
    /// chunks run over the images end to end), chunks in all, slices, the path, and output channels per tile and
    /// tiles (tasks: groups × row blocks × output-channel tiles × slices).
    /// </summary>
    internal readonly record struct Plan(int Tile, int RowBlocks, int Chunk, int ChunksPerImage, int Chunks, int Slices, bool Shifted, bool Padded, int KTile, int KTiles)
    {
        /// <summary>Fewest output channels an output-channel tile may have (two of the Vector512 GEMM's 32-wide panels).</summary>
        const int MinKTile = 64;
        /// <summary>Reduction length (images × run positions) up to which output-channel tiles may be as narrow as MinKTile.</summary>
        const int ShortReduction = 4096;
        // padded: false plans neither padded path (im2col, or x in place for 1x1), for inputs that are not all finite.
        public static Plan Of(ConvProblem p, int threads, bool padded = true)
        {
            int kvol = (int)p.KernelVolume, cg = p.CPerGroup, kg = p.KPerGroup;
            bool shifted = padded && UsesShifted(p);
            padded = padded && !shifted && UsesPaddedColumns(p);
            int cols = shifted || padded ? StridePhaseLayout.Of(ConvGeometry.Of(p)).Cols : (int)p.YShape.SpatialSize;
            int tile = (int)Math.Clamp(OutputBudgetFloats / ((long)kvol * kg), 1, cg);
            int blocks = (cg + tile - 1) / tile;
            tile = (cg + blocks - 1) / blocks;
            blocks = (cg + tile - 1) / tile;
            long rows = (long)tile * kvol;
            // Shifted: A is read in place, so the chunk is sized for A's rows (a tap's) and the packed dy.
            int chunk = shifted
                ? (int)Math.Clamp(2 * ColumnBudgetFloats / (tile + kg) / 16 * 16, Math.Min(256, Math.Max(cols, 1)), Math.Max(cols, 1))
                : (int)Math.Clamp(ColumnBudgetFloats / rows / 16 * 16, Math.Min(16, Math.Max(cols, 1)), Math.Max(cols, 1));
            int chunk0 = (int)Math.Max(16, ColumnBudgetFloats / rows / 16 * 16), chunksTotal;
            int perImage = (cols + chunk - 1) / chunk;
            long units = (long)p.Groups * blocks, want = (long)ConvTiling.TasksPerThread * threads;
            // Too few row blocks for the threads: cut dW's output channels first (each task packs the column
            // matrix again, but no partial dW and no reduction pass), then the reduction into slices.
            int kTiles = 1, kTile = kg;
            if (threads > 1 && units < want && kg >= 2 * MinKTile && (long)p.N * cols <= ShortReduction)
            {
                kTiles = (int)Math.Min((want + units - 1) / units, kg / MinKTile);
                kTile = (kg + kTiles - 1) / kTiles;
                kTile = (kTile + 15) / 16 * 16;
                kTiles = (kg + kTile - 1) / kTile;
                units *= kTiles;
            }
            // Slices wanted, and chunks in a multiple of them (equal slices: ResNet-50's 64-channel 3x3 at
            // batch 1 had 3 chunks for 4 slices, so 3 tasks on 2 threads).
            int target = threads > 1 && units < want ? (int)((want + units - 1) / units) : 1;
            if (padded)
            {
                // Padded columns run over the images' run spaces end to end: small planes still give deep chunks.
                long total = (long)p.N * cols;
                int count = (int)Math.Min((total + chunk0 - 1) / chunk0, int.MaxValue / 2);
                if (count < total) count = (int)Math.Min(total, (count + target - 1) / target * target);
                chunk = (int)((total + count - 1) / count);
                count = (int)((total + chunk - 1) / chunk);
                perImage = 0;
                chunksTotal = count;
            }
            else
            {
                while ((long)p.N * perImage % target != 0 && perImage < cols) perImage++;
                chunk = (cols + perImage - 1) / perImage;      // equal chunks, not full ones and a thin last one
                perImage = (cols + chunk - 1) / chunk;
                chunksTotal = p.N * perImage;
            }
            int slices = (int)Math.Min(target, chunksTotal);
            return new Plan(tile, blocks, chunk, perImage, chunksTotal, Math.Max(slices, 1), shifted, padded, kTile, kTiles);
        }

        public int Rows(int kvol) => Tile * kvol;
    }

    /// <summary>
    /// The shifted path (no copied columns) for 16–64 channels per group in and out (a tap's GEMM has the
    /// block's channels as its rows and dy's as its columns), not 1x1 (x is read in place there already),
    /// and a padded input small enough to hold. Measured at batch 8, 2 threads, AVX-512, against the
    /// padded-columns path: ResNet-50's 64-channel 3x3 at 56 × 56 4.57 ms against 4.86, a 32-channel 3x3x3
    /// at 16 × 28 × 28 14.8 against 17.7; with 128–512 channels it lost (against im2col then: ResNet-50's
    /// 128-channel 3x3 at 28 × 28 6.63 against 5.92, the 512-channel one at 7 × 7 11.8 against 8.9, a
    /// 256-channel 1-d 13.8 against 9.5): its per-tap GEMMs are only as tall as the block's channels.
    /// </summary>
    public static bool UsesShifted(ConvProblem p) =>
        !p.IsPointwise && p.CPerGroup >= 16 && p.CPerGroup <= 64 && p.KPerGroup <= 64
        && ShiftedGemm.SharedFloats(ConvGeometry.Of(p), p.N, p.C) <= Array.MaxLength / 2;

    /// <summary>
    /// The padded-columns path (the column matrix copied from padded planes, one contiguous run per row and
    /// chunk) wherever the padded input can be held, but 1x1 unit-stride (x is read in place). Im2col writes
    /// the same matrix in runs of one output row each; measured at batch 8, 2 threads, AVX-512: ResNet-50's
    /// 128-channel 3x3 at 28 × 28 5.1 ms against 5.9, its stem 8.6 against 10.7, the stride-2 3x3 6.8
    /// against 7.7, a 1-d 1024-long 3-tap layer 9.0 against 9.5.
    /// </summary>
    public static bool UsesPaddedColumns(ConvProblem p) =>
        !p.IsPointwise && ShiftedGemm.SharedFloats(ConvGeometry.Of(p), p.N, p.C) <= Array.MaxLength / 2;

    /// <summary>Per-worker floats: a chunk's column matrix (or packed dy) and the GEMM's packing buffers.</summary>
    public static long TaskFloats(ConvProblem p, Plan plan, GemmTier tier)
    {
        int rows = plan.Rows((int)p.KernelVolume);
        if (plan.Shifted)
            return Sgemm.PackedBFloats(p.KPerGroup, plan.Chunk, tier) + Sgemm.PackFloats(plan.Tile, p.KPerGroup, plan.Chunk, tier);
        return (long)rows * plan.Chunk + Sgemm.PackFloats(rows, p.KPerGroup, plan.Chunk, tier);
    }

    /// <summary>Shared floats: the slices' partial dWᵀ (and the padded paths' padded input).</summary>
    public static long SharedFloats(ConvProblem p, Plan plan) => (long)plan.Slices * p.WShape.ElementCount
        + (plan.Shifted || plan.Padded ? ShiftedGemm.SharedFloats(ConvGeometry.Of(p), p.N, p.C) : 0);

    public static void Run(CpuConvContext ctx, bool pointwise)
    {
        var p = ctx.Problem;
        if (FilterDots.Applies(p, ctx.Tier))
        {
            FilterDots.Run(ctx);
            return;
        }
        var plan = Plan.Of(p, ctx.Threads);
        // The padded paths multiply x at the run's gap columns by dy's zeros: a ±Inf or NaN there would make
        // a NaN the direct sum does not have. Such inputs take im2col, which reads only what the sum reads
        // (one pass over x to find out, as Winograd3x3.Exact: a few per cent).
        if ((plan.Shifted || plan.Padded) && !VectorOps.AllFinite(ctx.X, (long)ctx.N * ctx.C * ctx.InPlane))
            plan = Plan.Of(p, ctx.Threads, padded: false);
        float* partials = ctx.Shared.Get(WorkspaceSlot.PackB, (long)plan.Slices * p.WShape.ElementCount);
        if (plan.Shifted) Shifted(ctx, plan, partials);
        else Columns(ctx, plan, partials, pointwise);
        Sum(ctx, plan, partials);
    }

    /// <summary>
    /// Per chunk of a slice: the block's rows of col(x) by im2col (1x1: x's planes in place) as A, dy's
    /// chunk as B (packed by <see cref="DyRunSource"/> with no gaps), into the slice's partial dWᵀ; the
    /// padded-columns plan branches off to <see cref="PaddedChunks"/> inside the same tasks.
    /// </summary>
    static void Columns(CpuConvContext ctx, Plan plan, float* partials, bool pointwise)
    {
        int kvol = ctx.Kvol, kg = ctx.Kg, R = ctx.Rows, slices = plan.Slices;
        int chunks = ctx.N * plan.ChunksPerImage;
        long groupFloats = (long)R * kg;
        var l = StridePhaseLayout.Of(ctx.G);
        float* paddedX = plan.Padded ? ShiftedGemm.PadInput(ctx, l) : null;
        int* taps = stackalloc int[plan.Padded ? kvol : 0];
        if (plan.Padded) l.WriteTapOffsets(ctx.G, taps);
        nint tapTable = (nint)taps, paddedTable = (nint)paddedX;
        ctx.Workers.For(ctx.Groups * plan.RowBlocks * plan.KTiles * slices, new ColumnChunks(ctx, plan, l, partials, pointwise, chunks, groupFloats, tapTable, paddedTable));
    }

    /// <summary>(group, row block, output-channel tile, slice): the slice's chunks of col(x) · dyᵀ into its partial dWᵀ.</summary>
    readonly struct ColumnChunks(CpuConvContext ctx, Plan plan, StridePhaseLayout l, float* partials, bool pointwise, int chunks, long groupFloats, nint tapTable, nint paddedTable) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int kvol = ctx.Kvol, kg = ctx.Kg, slices = plan.Slices;
            int s = t % slices; t /= slices;
            int kt = t % plan.KTiles; t /= plan.KTiles;
            int rb = t % plan.RowBlocks, g = t / plan.RowBlocks;
            int k0 = kt * plan.KTile, kn = Math.Min(kg, k0 + plan.KTile) - k0;
            if (plan.Padded)
            {
                PaddedChunks(ctx, plan, l, (float*)paddedTable, (int*)tapTable, partials, s, rb, g, k0, kn, ws);
                return;
            }
            int c0 = rb * plan.Tile, c1 = Math.Min(ctx.Cg, c0 + plan.Tile);
            int rows = (c1 - c0) * kvol;
            float* dwT = partials + (s * ctx.Groups + g) * groupFloats + (long)c0 * kvol * kg + k0;
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
                // dy's chunk through the run-space packer with no gaps (rows OutW, planes OutH): its 8 × 8
                // transposes beat the GEMM's scalar packing of a transposed view (MobileNetV2's 56 × 56
                // 24 → 144 at batch 8: dy has 6 times x's channels, and packing it was most of the run).
                var b = new DyRunSource(ctx.YPlane(n, g * kg + k0), ctx.OutPlane, 0, ctx.G.OutW, ctx.G.OutH, ctx.G.OutW, ctx.G.OutH, ctx.Cols, j0);
                Sgemm.Multiply(rows, kn, j1 - j0, a, b, dwT, kg, accumulate: q > q0, ctx.Tier, ws);
            }
            if (q1 == q0)
                for (int r = 0; r < rows; r++) new Span<float>(dwT + (long)r * kg, kn).Clear();
        }
    }

    /// <summary>
    /// One task of the padded-columns plan: per chunk of its slice (a range of the images' run spaces laid end
    /// to end), the block's column matrix copied from the padded planes (row (c, tap): one contiguous run per
    /// image the chunk spans) as A, dy's chunk as B, into the slice's partial dWᵀ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PaddedChunks(CpuConvContext ctx, Plan plan, in StridePhaseLayout l, float* padded, int* offsets, float* partials, int s, int rb, int grp, int k0, int kn, WorkspaceSet ws)
    {
        int kvol = ctx.Kvol, kg = ctx.Kg, slices = plan.Slices, run = l.Cols;
        int chunks = plan.Chunks;
        long total = (long)ctx.N * run;
        int c0 = rb * plan.Tile, c1 = Math.Min(ctx.Cg, c0 + plan.Tile);
        int rows = (c1 - c0) * kvol;
        float* dwT = partials + (s * ctx.Groups + grp) * (long)ctx.Rows * kg + (long)c0 * kvol * kg + k0;
        int q0 = (int)((long)chunks * s / slices), q1 = (int)((long)chunks * (s + 1) / slices);
        float* col = ws.Get(WorkspaceSlot.Columns, (long)rows * plan.Chunk);
        for (int q = q0; q < q1; q++)
        {
            long f0 = (long)q * plan.Chunk, f1 = Math.Min(total, f0 + plan.Chunk);
            int depth = (int)(f1 - f0);
            // Row (c, tap) of the chunk's column matrix: one contiguous run of the padded plane per image the chunk spans.
            for (long f = f0; f < f1;)
            {
                int n = (int)(f / run), i = (int)(f % run), len = (int)Math.Min(run - i, f1 - f);
                long bytes = (long)len * sizeof(float);
                float* x = padded + ((long)n * ctx.C + grp * ctx.Cg + c0) * l.PlaneFloats + i;
                float* dst = col + (f - f0);
                for (int c = 0, r = 0; c < c1 - c0; c++)
                    for (int tap = 0; tap < kvol; tap++, r++)
                        Buffer.MemoryCopy(x + c * l.PlaneFloats + offsets[tap], dst + (long)r * depth, bytes, bytes);
                f += len;
            }
            var b = new DyRunSource(ctx.YPlane(0, grp * kg + k0), ctx.OutPlane, (nint)ctx.K * ctx.OutPlane, ctx.G.OutW, ctx.G.OutH, l.Lq, l.Hq, run, f0);
            Sgemm.Multiply(rows, kn, depth, MatrixView.RowMajor(col, depth), b, dwT, kg, accumulate: q > q0, ctx.Tier, ws);
        }
        if (q1 == q0)
            for (int r = 0; r < rows; r++) new Span<float>(dwT + (long)r * kg, kn).Clear();
    }

    /// <summary>
    /// Per chunk of a slice (a range of one image's positions in the stride-phase layout's run space): dy's
    /// chunk packed once as B (zeros at the run's gap columns), then per tap one GEMM whose A is the block's
    /// padded input planes read in place at the tap's offset, into the tap's rows of the partial dWᵀ
    /// (row (c, tap): rows of one tap are Kvol·K/g floats apart). The gap columns multiply x by dy's zeros:
    /// exact for finite x (Run sends other inputs to im2col).
    /// </summary>
    static void Shifted(CpuConvContext ctx, Plan plan, float* partials)
    {
        var g = ctx.G;
        var l = StridePhaseLayout.Of(g);
        float* padded = ShiftedGemm.PadInput(ctx, l);
        int kvol = ctx.Kvol, kg = ctx.Kg, R = ctx.Rows, slices = plan.Slices;
        int* taps = stackalloc int[kvol];
        l.WriteTapOffsets(g, taps);
        nint tapTable = (nint)taps;
        int chunks = ctx.N * plan.ChunksPerImage, run = l.Cols;
        long groupFloats = (long)R * kg;
        ctx.Workers.For(ctx.Groups * plan.RowBlocks * plan.KTiles * slices, new ShiftedChunks(ctx, plan, l, partials, padded, tapTable, chunks, run, groupFloats));
    }

    /// <summary>(group, row block, output-channel tile, slice) of the shifted path.</summary>
    readonly struct ShiftedChunks(CpuConvContext ctx, Plan plan, StridePhaseLayout l, float* partials, float* padded, nint tapTable, int chunks, int run, long groupFloats) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            var g = ctx.G;
            int kvol = ctx.Kvol, kg = ctx.Kg, slices = plan.Slices;
            int* offsets = (int*)tapTable;
            int s = t % slices; t /= slices;
            int kt = t % plan.KTiles; t /= plan.KTiles;
            int rb = t % plan.RowBlocks, grp = t / plan.RowBlocks;
            int k0 = kt * plan.KTile, kn = Math.Min(kg, k0 + plan.KTile) - k0;
            int c0 = rb * plan.Tile, c1 = Math.Min(ctx.Cg, c0 + plan.Tile);
            float* dwT = partials + (s * ctx.Groups + grp) * groupFloats + (long)c0 * kvol * kg + k0;
            int q0 = (int)((long)chunks * s / slices), q1 = (int)((long)chunks * (s + 1) / slices);
            float* packed = ws.Get(WorkspaceSlot.Columns, Sgemm.PackedBFloats(kg, plan.Chunk, ctx.Tier));
            for (int q = q0; q < q1; q++)
            {
                int n = q / plan.ChunksPerImage, i0 = q % plan.ChunksPerImage * plan.Chunk, i1 = Math.Min(run, i0 + plan.Chunk);
                var b = new DyRunSource(ctx.YPlane(n, grp * kg + k0), ctx.OutPlane, 0, g.OutW, g.OutH, l.Lq, l.Hq, run, i0);
                int depth = i1 - i0, kBlocks = Sgemm.KBlocks(depth, ctx.Tier);
                for (int kb = 0; kb < kBlocks; kb++) Sgemm.PackBBlock(b, kn, depth, ctx.Tier, kb, packed);
                float* x = padded + ((long)n * ctx.C + grp * ctx.Cg + c0) * l.PlaneFloats + i0;
                for (int tap = 0; tap < kvol; tap++)
                    Sgemm.MultiplyPacked(c1 - c0, kn, depth, MatrixView.RowMajor(x + offsets[tap], (nint)l.PlaneFloats), packed,
                        dwT + (long)tap * kg, (nint)kvol * kg, accumulate: q > q0, ctx.Tier, ws);
            }
            if (q1 == q0)
                for (int r = 0; r < (c1 - c0) * kvol; r++) new Span<float>(dwT + (long)r * kg, kn).Clear();
        }
    }

    /// <summary>Output channels per task of <see cref="Sum"/>.</summary>
    const int KBlock = 16;

    /// <summary>dW[g·K/g + k, r] = Σₛ partial[s][g][r][k], s in order; tasks own blocks of 16 output channels.</summary>
    static void Sum(CpuConvContext ctx, Plan plan, float* partials)
    {
        int kg = ctx.Kg, R = ctx.Rows, slices = plan.Slices;
        long groupFloats = (long)R * kg;
        int kBlocks = (kg + KBlock - 1) / KBlock;
        ctx.Workers.For(ctx.Groups * kBlocks, new SumBlocks(ctx, partials, slices, groupFloats, kBlocks));
    }

    /// <summary>One block of 16 output channels of one group: the slices' partial dWᵀ summed in order into dW.</summary>
    readonly struct SumBlocks(CpuConvContext ctx, float* partials, int slices, long groupFloats, int kBlocks) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int kg = ctx.Kg, R = ctx.Rows;
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
        }
    }
}

/// <summary>
/// B of the padded and shifted paths: dy's channels of one group at positions [runBase + pc, …) of the images'
/// stride-phase run spaces laid end to end (image n's output row (od, oh) at n·runLength + (od·Hq + oh)·Lq;
/// <paramref name="imageStride"/> floats from one image's dy to the next), zero at positions without an output
/// (the Lq − OutW gap columns of each row). With one row of runLength positions and no gaps it packs any
/// row-major matrix transposed (im2col-gemm's colᵀ, <see cref="CpuBackwardFilter"/>).
/// </summary>
[method: MethodImpl(MethodImplOptions.AggressiveInlining)]
internal readonly unsafe struct DyRunSource(float* dy, nint outPlane, nint imageStride, int outW, int outH, int lq, int hq, int runLength, long runBase) : IPackSource
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PackB(int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        long f = runBase + pc;
        int n0 = (int)(f / runLength), i0 = (int)(f % runLength);
        int row = i0 / lq, ow0 = i0 - row * lq, od0 = row / hq, oh0 = row - od0 * hq;
        // Eight channels at a time along their planes: eight read streams outPlane apart stay within a
        // cache set's ways (all of a panel's 32 at once thrashed one when the plane is a power of two:
        // a 1-d 1024-long layer ran 1.5x slower so), and each position writes 32 contiguous bytes.
        int block = Math.Min(8, nr);          // NR is 4, 8, 16 or 32: a block never straddles two panels
        float** src = stackalloc float*[8];
        for (int j0 = 0; j0 < nc; j0 += block)
        {
            int count = Math.Min(block, nc - j0);
            for (int j = 0; j < count; j++) src[j] = dy + (nint)n0 * imageStride + (nint)(jc + j0 + j) * outPlane;
            float* d = dst + (nint)(j0 / nr) * nr * kc + j0 % nr;
            int ow = ow0, oh = oh0, od = od0, i = i0;
            nint pixel = ((nint)od * outH + oh) * outW + ow;
            bool simd = count == 8 && Avx.IsSupported;
            for (int p = 0; p < kc;)
            {
                int step = 1;
                if (ow < outW && oh < outH)
                {
                    // A run of output positions along a row: eight at a time as an 8 × 8 transpose.
                    int run8 = simd ? Math.Min(Math.Min(outW - ow, kc - p), runLength - i) & ~7 : 0;
                    if (run8 > 0)
                    {
                        for (int k = 0; k < run8; k += 8) Transpose8(src, pixel + k, d + (nint)k * nr, nr);
                        step = run8;
                    }
                    else
                        for (int j = 0; j < count; j++) d[j] = src[j][pixel];
                }
                else
                    for (int j = 0; j < count; j++) d[j] = 0f;
                p += step; d += (nint)step * nr; pixel += step; i += step; ow += step;
                if (i == runLength)
                {
                    // The next image's run space.
                    i = ow = oh = od = 0;
                    pixel = 0;
                    for (int j = 0; j < count; j++) src[j] += imageStride;
                    continue;
                }
                if (ow == lq)
                {
                    ow = 0;
                    if (++oh == hq) { oh = 0; od++; }
                    pixel = ((nint)od * outH + oh) * outW;
                }
            }
        }
        // The last panel's columns past nc are zeros.
        int last = nc % nr;
        if (last != 0)
        {
            float* panel = dst + (nint)(nc / nr) * nr * kc;
            for (int p = 0; p < kc; p++)
                for (int j = last; j < nr; j++) panel[(nint)p * nr + j] = 0f;
        }
    }

    /// <summary>Positions pixel … pixel + 7 of eight channels into eight rows of eight floats, nr apart (an 8 × 8 transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8(float** src, nint pixel, float* d, int nr)
    {
        var r0 = Vector256.Load(src[0] + pixel); var r1 = Vector256.Load(src[1] + pixel);
        var r2 = Vector256.Load(src[2] + pixel); var r3 = Vector256.Load(src[3] + pixel);
        var r4 = Vector256.Load(src[4] + pixel); var r5 = Vector256.Load(src[5] + pixel);
        var r6 = Vector256.Load(src[6] + pixel); var r7 = Vector256.Load(src[7] + pixel);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(d);
        Avx.Permute2x128(u1, u5, 0x20).Store(d + nr);
        Avx.Permute2x128(u2, u6, 0x20).Store(d + 2 * nr);
        Avx.Permute2x128(u3, u7, 0x20).Store(d + 3 * nr);
        Avx.Permute2x128(u0, u4, 0x31).Store(d + 4 * nr);
        Avx.Permute2x128(u1, u5, 0x31).Store(d + 5 * nr);
        Avx.Permute2x128(u2, u6, 0x31).Store(d + 6 * nr);
        Avx.Permute2x128(u3, u7, 0x31).Store(d + 7 * nr);
    }
}
