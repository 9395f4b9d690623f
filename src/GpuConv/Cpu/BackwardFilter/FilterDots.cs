using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Shifted;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.BackwardFilter;

/// <summary>
/// Backward-filter as dot products: dW[k, c] = Σₙ Σₚ dy[n, k, p] · x[n, c, p] for a 1x1 unit-stride convolution,
/// where both operands are contiguous along the reduction (the positions p). A GEMM has to transpose one or both
/// of them into panels first (reduction-split packed dy's chunk with 8 × 8 transposes, gemm-1x1 both operands
/// with the GEMM's packing), and ran MobileNetV2's 1x1 layers at 1.2–2.1× the forward's time. Here a block of 4 x
/// rows × 6 dy channels keeps 24 Vector512 accumulators and reads both operands in place, 16 positions a step (4
/// + 6 loads for 24 FMAs; a segment's last partial vector by masked loads, which read zeros past its end, so a
/// ±Inf or NaN is multiplied only where the direct sum multiplies it); at the end of a chunk each accumulator's
/// 16 lanes are summed in a fixed order and added into dW.
/// Kernels larger than 1x1 with few input channels (stems) take the same kernel on the padded path: dW[k, (c,
/// tap)] = Σ dy[k, p] · x_padded[c, p + offset(tap)], x's rows being (channel, tap) views of the zero-padded
/// stride-phase planes (<see cref="StridePhaseLayout"/>), one output row a segment, so only real outputs are
/// summed (reduction-split's padded columns also ran the gap columns between rows, and had to check x for ±Inf /
/// NaN first).
/// The reduction is cut into chunks (a range of one image's plane or output rows, or a few whole planes) whose
/// smaller side an L2 holds; the outer loop runs over the larger side's blocks (dy's next block prefetched a line
/// per step where dy is the larger side), and the smaller side's chunk is read again from L2 for each. Tasks own
/// (group, slice of chunks, range of dy channels): slice s sums its chunks into a partial dW of its own, and a
/// last pass adds the slices in order s = 0..S−1. S and the ranges depend only on the problem and the thread
/// count, so a result repeats bit for bit at a fixed thread count. AVX-512 (the Vector512 tier) only.
/// </summary>
internal static unsafe class FilterDots
{
    /// <summary>x rows per block (channels, or (channel, tap) pairs on the padded path): the accumulators' rows.</summary>
    const int XBlock = 4;
    /// <summary>dy channels per block: 4 × 6 accumulators + 4 x vectors + 1 dy vector = 29 of 32 registers.</summary>
    const int DyBlock = 6;
    /// <summary>Floats of the inner side's chunk (all its channels) that stay in the L2 while the outer blocks pass.</summary>
    const int InnerBudgetFloats = 128 * 1024;
    const int Lanes = 16;
    /// <summary>
    /// Positions per chunk at most: a 56 × 56 plane whole (MobileNetV2's 24 → 144 at batch 8 ran 1.05–1.5 ms with
    /// 3136-position chunks against 1.15–1.9 with 784 in the same runs).
    /// </summary>
    const int MaxChunk = 4096;
    /// <summary>
    /// The padded path's: whole output rows up to 8192 positions (ResNet-50's stem at batch 8, old / new in two
    /// runs each: 1.30–1.32 with 8192, 1.18–1.27 with 4096, 1.19–1.24 with 1024 or 2048).
    /// </summary>
    const int PaddedMaxChunk = 8192;

    /// <summary>
    /// How one problem is cut: positions per chunk piece and pieces per plane (1: whole planes), images per chunk,
    /// chunks, slices, dy channels per range and ranges.
    /// </summary>
    internal readonly record struct Plan(int Piece, int Pieces, int ImagesPerChunk, int Chunks, int Slices, int KRange, int KRanges)
    {
        public static Plan Of(ConvProblem p, int threads)
        {
            int plane = (int)p.YShape.SpatialSize, cg = p.CPerGroup, kg = p.KPerGroup;
            int inner = Math.Max(1, Math.Min(cg, kg));
            int target = Math.Clamp(InnerBudgetFloats / inner / Lanes * Lanes, 256, MaxChunk);
            int piece = plane, pieces = 1, perChunk = 1, chunks;
            if (plane > target)
            {
                pieces = (plane + target - 1) / target;
                piece = ((plane + pieces - 1) / pieces + Lanes - 1) / Lanes * Lanes;
                pieces = (plane + piece - 1) / piece;
                chunks = p.N * pieces;
            }
            else
            {
                perChunk = Math.Clamp(target / Math.Max(plane, 1), 1, p.N);
                chunks = (p.N + perChunk - 1) / perChunk;
                perChunk = (p.N + chunks - 1) / chunks;        // equal chunks, not full ones and a thin last one
                chunks = (p.N + perChunk - 1) / perChunk;
            }
            var (slices, range, ranges) = Split(p.Groups, chunks, kg, threads);
            return new Plan(piece, pieces, perChunk, chunks, slices, range, ranges);
        }
    }

    /// <summary>
    /// The padded plan: output rows per chunk and chunks per image (chunks stay within an image), chunks, slices,
    /// dy channels per range and ranges.
    /// </summary>
    internal readonly record struct PaddedPlan(int RowsPerChunk, int ChunksPerImage, int Chunks, int Slices, int KRange, int KRanges)
    {
        public static PaddedPlan Of(ConvProblem p, int threads)
        {
            var g = ConvGeometry.Of(p);
            int inner = Math.Max(1, Math.Min(p.CPerGroup, p.KPerGroup));
            int target = Math.Clamp(InnerBudgetFloats / inner / Lanes * Lanes, 256, PaddedMaxChunk);
            int rows = Math.Clamp(target / g.OutW, 1, g.OutH);
            int perImage = (g.OutH + rows - 1) / rows;
            rows = (g.OutH + perImage - 1) / perImage;          // equal chunks
            perImage = (g.OutH + rows - 1) / rows;
            int chunks = p.N * perImage;
            var (slices, range, ranges) = Split(p.Groups, chunks, p.KPerGroup, threads);
            return new PaddedPlan(rows, perImage, chunks, slices, range, ranges);
        }
    }

    /// <summary>
    /// Tasks: slices of the chunks (each with a partial dW) until there are TasksPerThread per thread, then
    /// ranges of dy's channels (whole 6-channel blocks). Depends only on the problem and the thread count.
    /// </summary>
    static (int Slices, int Range, int Ranges) Split(int groups, int chunks, int kg, int threads)
    {
        long want = (long)ConvTiling.TasksPerThread * threads;
        int slices = threads > 1 ? (int)Math.Min((want + groups - 1) / groups, chunks) : 1;
        slices = Math.Max(slices, 1);
        int dyBlocks = (kg + DyBlock - 1) / DyBlock;
        int ranges = threads > 1 && (long)groups * slices < want
            ? (int)Math.Min((want + (long)groups * slices - 1) / ((long)groups * slices), dyBlocks) : 1;
        int range = (dyBlocks + ranges - 1) / ranges * DyBlock;
        ranges = (kg + range - 1) / range;
        return (slices, range, ranges);
    }

    /// <summary>
    /// 1x1 unit-stride problems on the Vector512 tier: planes of ≥ 784 positions with ≤ 32 input channels per
    /// group, and planes of 196–783 positions with dW (per group) of ≤ 64 K weights; and the stems of
    /// <see cref="AppliesPadded"/>. Against the path that led before (2 threads, AVX-512; old time / new, medians of
    /// 10 runs with the two sides alternating, batch 8 / batch 1; docs/benchmarks.md): MobileNetV2's 112 × 112
    /// 32 → 16 2.1 / 2.1, 16 → 96 1.4 / 1.14, 56 × 56 24 → 144 1.17 / 1.25, 28 × 28 32 → 192 0.96 / 1.7 (batch 8:
    /// 0.69–1.41 over the runs, 1.06 and 1.25 in two other sets); against gemm-1x1 on 14 × 14: 64 → 384 1.7 / 1.7,
    /// 384 → 64 1.05 / 1.44, 384 → 96 1.11 / 1.3, 96 → 576 1.7 / 1.18, 576 → 96 1.22 / 1.45. Left out, where the
    /// GEMMs stayed ahead (three runs): 64 or more channels on larger planes (ResNet-50's 56 × 56 64 → 64, 64 → 256,
    /// 256 → 64 0.6–0.95; MobileNetV2's 56 × 56 144 → 24 0.85–1.06, 28 × 28 192 → 32 0.6–1.1), large dW on
    /// 14 × 14 (ResNet-50's 1024 → 256 and 256 → 1024 0.56–0.9) and 7 × 7 planes (0.4–0.8 at batch 1: three
    /// vectors and a masked one per plane and block).
    /// </summary>
    public static bool Applies(ConvProblem p, GemmTier tier)
    {
        if (p.Op != ConvOp.BackwardFilter || tier != GemmTier.Vector512 || !Avx512F.IsSupported) return false;
        if (!p.IsPointwise) return AppliesPadded(p);
        long plane = p.YShape.SpatialSize;
        return plane >= MinPlane ? p.CPerGroup <= MaxChannels
            : plane >= SmallPlane && (long)p.CPerGroup * p.KPerGroup <= SmallPlaneWeights;
    }

    public const int MaxChannels = 32, MinPlane = 784, SmallPlane = 196, SmallPlaneWeights = 64 * 1024;

    /// <summary>
    /// The padded path: ranks 1 and 2 (an output row is a segment), at most 8 input channels per group (stems),
    /// output rows of ≥ 32 positions and planes of ≥ 256, not depthwise, a padded input that fits. Against
    /// reduction-split's padded columns (2 threads, AVX-512, old time / new, medians of 10 alternated runs, batch
    /// 8 / batch 1): ResNet-50's 7x7/2 stem 1.19 / 1.12, MobileNetV2's 3x3/2 stem 1.54 / 1.43, a 3x3 8 → 32 at
    /// 112 × 112 1.06 / 1.09, a 5x5/2 4 → 48 at 128 × 128 1.57 / 1.67. With more channels the GEMM
    /// paths stayed ahead (ResNet-50's 64- and 128-channel 3x3 at 56 × 56 and 28 × 28 0.5–0.9, the 3x3/2 128
    /// 0.83–0.88; a 1-d 7-tap 16 → 64 0.97–1.15).
    /// </summary>
    static bool AppliesPadded(ConvProblem p)
    {
        var g = ConvGeometry.Of(p);
        return g.OutD == 1 && !p.IsDepthwise && p.CPerGroup <= MaxPaddedChannels && g.OutW >= 32
            && p.YShape.SpatialSize >= 256 && ShiftedGemm.SharedFloats(g, p.N, p.C) <= Array.MaxLength / 2;
    }

    public const int MaxPaddedChannels = 8;

    /// <summary>Shared floats: the slices' partial dW (none for one slice: it writes dW itself).</summary>
    public static long SharedFloats(ConvProblem p, int threads)
    {
        if (!p.IsPointwise)
        {
            var padded = PaddedPlan.Of(p, threads);
            return (padded.Slices > 1 ? padded.Slices * p.WShape.ElementCount : 0) + ShiftedGemm.SharedFloats(ConvGeometry.Of(p), p.N, p.C);
        }
        var plan = Plan.Of(p, threads);
        return plan.Slices > 1 ? plan.Slices * p.WShape.ElementCount : 0;
    }

    public static void Run(CpuConvContext ctx)
    {
        if (!ctx.Problem.IsPointwise)
        {
            RunPadded(ctx);
            return;
        }
        var plan = Plan.Of(ctx.Problem, ctx.Threads);
        ForSlices(ctx, plan.Chunks, plan.Slices, plan.KRange, plan.KRanges, ctx.Cg, new PointwiseChunks(ctx, plan));
    }

    /// <summary>The body of a task of <see cref="ForSlices"/>: a struct, so that the tasks share no closure.</summary>
    interface IChunks
    {
        /// <summary>Chunk q of the reduction for dy channels [k0, k1) of group g into dw.</summary>
        void Chunk(int q, int g, int k0, int k1, float* dw, bool accumulate);
    }

    readonly struct PointwiseChunks(CpuConvContext ctx, Plan plan) : IChunks
    {
        public void Chunk(int q, int g, int k0, int k1, float* dw, bool accumulate) => FilterDots.Chunk(ctx, plan, q, g, k0, k1, dw, accumulate);
    }

    readonly struct PaddedChunks(CpuConvContext ctx, PaddedPlan plan, StridePhaseLayout l, float* padded, int* taps) : IChunks
    {
        public void Chunk(int q, int g, int k0, int k1, float* dw, bool accumulate) => PaddedChunk(ctx, plan, l, padded, taps, q, g, k0, k1, dw, accumulate);
    }

    /// <summary>
    /// The tasks of both paths: (group, range of dy channels, slice of the chunks); each slice sums its chunks in
    /// order into dW itself (one slice) or into its own partial dW, added in slice order at the end, so the
    /// result depends on the thread count only. <paramref name="rowFloats"/>: floats of one dW row.
    /// </summary>
    static void ForSlices<TChunks>(CpuConvContext ctx, int chunks, int slices, int kRange, int kRanges, int rowFloats, TChunks body)
        where TChunks : struct, IChunks
    {
        long wFloats = ctx.Problem.WShape.ElementCount;
        float* partials = slices > 1 ? ctx.Shared.Get(WorkspaceSlot.PackB, slices * wFloats) : ctx.W;
        nint partialsAt = (nint)partials;
        ctx.Workers.For(ctx.Groups * kRanges * slices, new Slices<TChunks>(ctx, chunks, slices, kRange, kRanges, rowFloats, wFloats, partialsAt, body));
        if (slices > 1) SumSlices(ctx, partials, slices, wFloats);
    }

    /// <summary>(group, range of dy channels, slice of the chunks): the slice's chunks in order.</summary>
    readonly struct Slices<TChunks>(CpuConvContext ctx, int chunks, int slices, int kRange, int kRanges, int rowFloats, long wFloats, nint partialsAt, TChunks body) : ICpuLoop
        where TChunks : struct, IChunks
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int s = t % slices; t /= slices;
            int r = t % kRanges, g = t / kRanges;
            int k0 = r * kRange, k1 = Math.Min(ctx.Kg, k0 + kRange);
            int q0 = (int)((long)chunks * s / slices), q1 = (int)((long)chunks * (s + 1) / slices);
            float* dw = (float*)partialsAt + s * wFloats + ((long)g * ctx.Kg + k0) * rowFloats;
            for (int q = q0; q < q1; q++)
                body.Chunk(q, g, k0, k1, dw, accumulate: q > q0);
        }
    }

    /// <summary>
    /// One chunk of the reduction for dy channels [k0, k1) of group g, into dw (rows k0…, C/g floats each).
    /// The side with more channels is the outer loop (its block stays in L1), the other's chunk streams from L2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Chunk(CpuConvContext ctx, in Plan plan, int q, int g, int k0, int k1, float* dw, bool accumulate)
    {
        int n0, images, p0, len;
        if (plan.Pieces > 1)
        {
            n0 = q / plan.Pieces;
            images = 1;
            p0 = q % plan.Pieces * plan.Piece;
            len = (int)Math.Min(plan.Piece, ctx.InPlane - p0);
        }
        else
        {
            n0 = q * plan.ImagesPerChunk;
            images = Math.Min(plan.ImagesPerChunk, ctx.N - n0);
            p0 = 0;
            len = (int)ctx.InPlane;
        }
        nint plane = ctx.InPlane, xImage = (nint)ctx.C * plane, dyImage = (nint)ctx.K * plane;
        float* x = ctx.XPlane(n0, g * ctx.Cg) + p0;
        float* dy = ctx.YPlane(n0, g * ctx.Kg + k0) + p0;
        int cg = ctx.Cg, kn = k1 - k0;
        float** xr = stackalloc float*[XBlock];
        if (cg <= kn)
        {
            // dy's next block comes from memory while this one meets every x block: each x block's pass
            // prefetches one of its rows, a line per step (without it, 24 → 144 at 56 × 56 in
            // 784-position chunks ran 1.8× slower).
            for (int k = 0; k < kn; k += DyBlock)
                for (int c = 0, b = 0; c < cg; c += XBlock, b++)
                {
                    float* next = k + DyBlock < kn ? dy + (k + DyBlock + Math.Min(b % DyBlock, kn - k - DyBlock - 1)) * plane : null;
                    XRows(xr, x + c * plane, plane, Math.Min(XBlock, cg - c));
                    Block(xr, Math.Min(XBlock, cg - c), dy + k * plane, plane, Math.Min(DyBlock, kn - k), images, len, xImage, dyImage,
                        dw + (nint)k * cg + c, cg, accumulate, next);
                }
        }
        else
        {
            for (int c = 0; c < cg; c += XBlock)
            {
                XRows(xr, x + c * plane, plane, Math.Min(XBlock, cg - c));
                for (int k = 0; k < kn; k += DyBlock)
                    Block(xr, Math.Min(XBlock, cg - c), dy + k * plane, plane, Math.Min(DyBlock, kn - k), images, len, xImage, dyImage,
                        dw + (nint)k * cg + c, cg, accumulate, null);
            }
        }
    }

    /// <summary>
    /// Kernels of any size (ranks 1 and 2): dW[k, (c, tap)] = Σ dy[k, p] · x_padded[c, p + offset(tap)] over the
    /// output positions p, x read in the zero-padded stride-phase planes (<see cref="StridePhaseLayout"/>) at each
    /// tap's offset, one output row a segment: only real outputs are summed (no gap columns), so any x takes it.
    /// </summary>
    static void RunPadded(CpuConvContext ctx)
    {
        var p = ctx.Problem;
        var l = StridePhaseLayout.Of(ctx.G);
        float* padded = ShiftedGemm.PadInput(ctx, l);
        int* taps = stackalloc int[ctx.Kvol];
        l.WriteTapOffsets(ctx.G, taps);
        var plan = PaddedPlan.Of(p, ctx.Threads);
        ForSlices(ctx, plan.Chunks, plan.Slices, plan.KRange, plan.KRanges, ctx.Rows, new PaddedChunks(ctx, plan, l, padded, taps));
    }

    /// <summary>
    /// One chunk (output rows of one image) for dy channels [k0, k1) of group grp into dw (rows k0…, C/g · taps
    /// floats each); x's rows are the (channel, tap) pairs. The larger side (by channels) is the outer loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PaddedChunk(CpuConvContext ctx, in PaddedPlan plan, in StridePhaseLayout l, float* padded, int* taps, int q, int grp,
        int k0, int k1, float* dw, bool accumulate)
    {
        var g = ctx.G;
        int n = q / plan.ChunksPerImage, oh0 = q % plan.ChunksPerImage * plan.RowsPerChunk;
        int segments = Math.Min(g.OutH, oh0 + plan.RowsPerChunk) - oh0;
        float* x = padded + ((long)n * ctx.C + grp * ctx.Cg) * l.PlaneFloats + (nint)oh0 * l.Lq;
        nint outPlane = ctx.OutPlane;
        float* dy = ctx.YPlane(n, grp * ctx.Kg + k0) + (nint)oh0 * g.OutW;
        int rows = ctx.Rows, kvol = ctx.Kvol, kn = k1 - k0;
        float** xr = stackalloc float*[XBlock];
        if (ctx.Cg <= kn)
        {
            // As the 1x1 path: dy's next block prefetched a row per x block's pass.
            for (int k = 0; k < kn; k += DyBlock)
                for (int r = 0, b = 0; r < rows; r += XBlock, b++)
                {
                    float* next = k + DyBlock < kn ? dy + (k + DyBlock + Math.Min(b % DyBlock, kn - k - DyBlock - 1)) * outPlane : null;
                    TapRows(xr, x, r, Math.Min(XBlock, rows - r), kvol, l.PlaneFloats, taps);
                    Block(xr, Math.Min(XBlock, rows - r), dy + k * outPlane, outPlane, Math.Min(DyBlock, kn - k), segments, g.OutW, l.Lq, g.OutW,
                        dw + (nint)k * rows + r, rows, accumulate, next);
                }
        }
        else
        {
            for (int r = 0; r < rows; r += XBlock)
            {
                TapRows(xr, x, r, Math.Min(XBlock, rows - r), kvol, l.PlaneFloats, taps);
                for (int k = 0; k < kn; k += DyBlock)
                    Block(xr, Math.Min(XBlock, rows - r), dy + k * outPlane, outPlane, Math.Min(DyBlock, kn - k), segments, g.OutW, l.Lq, g.OutW,
                        dw + (nint)k * rows + r, rows, accumulate, null);
            }
        }
    }

    /// <summary>Row pointers of x rows r … r + count − 1, row (c, tap) at channel c's padded plane plus the tap's offset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TapRows(float** rows, float* x, int r, int count, int kvol, long planeFloats, int* taps)
    {
        for (int i = 0; i < count; i++)
        {
            int c = (r + i) / kvol, tap = (r + i) - c * kvol;
            rows[i] = x + c * planeFloats + taps[tap];
        }
    }

    /// <summary>
    /// dst[j, i] (+)= Σ over the segments and positions [0, len) of dy row j · x row i, for i &lt; xRows ≤ 4 and
    /// j &lt; dyRows ≤ 6 (a partial block repeats its last row and drops those sums); x's rows start at x[i],
    /// dy's dyRow floats apart, and each segment (an image's plane, or an output row) xStep / dyStep floats
    /// after the last: 24 Vector512 sums over whole vectors, then each segment's masked last one (masked loads: zeros past the plane's end, so a ±Inf
    /// or NaN there meets nothing); <paramref name="prefetch"/>, where given, is a row fetched a line per step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Block(float** x, int xRows, float* dy, nint dyRow, int dyRows, int segments, int len, nint xStep, nint dyStep,
        float* dst, nint dstRow, bool accumulate, float* prefetch)
    {
        float* a0 = x[0], a1 = x[Math.Min(1, xRows - 1)], a2 = x[Math.Min(2, xRows - 1)], a3 = x[Math.Min(3, xRows - 1)];
        float* b0 = dy, b1 = dy + Math.Min(1, dyRows - 1) * dyRow, b2 = dy + Math.Min(2, dyRows - 1) * dyRow;
        float* b3 = dy + Math.Min(3, dyRows - 1) * dyRow, b4 = dy + Math.Min(4, dyRows - 1) * dyRow, b5 = dy + Math.Min(5, dyRows - 1) * dyRow;
        float* pf = prefetch != null ? prefetch : a0;      // without a row to fetch: a line already read
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector512<float> c50 = default, c51 = default, c52 = default, c53 = default;
        nint end = len / Lanes * Lanes;
        bool hasTail = end < len;
        var tail = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(len - (int)end)).AsSingle();
        for (int n = 0; n < segments; n++)
        {
            for (nint i = 0; i < end; i += Lanes)
            {
                Sse.Prefetch0(pf + i);
                var x0 = Vector512.Load(a0 + i); var x1 = Vector512.Load(a1 + i); var x2 = Vector512.Load(a2 + i); var x3 = Vector512.Load(a3 + i);
                var d = Vector512.Load(b0 + i);
                c00 = Avx512F.FusedMultiplyAdd(d, x0, c00); c01 = Avx512F.FusedMultiplyAdd(d, x1, c01);
                c02 = Avx512F.FusedMultiplyAdd(d, x2, c02); c03 = Avx512F.FusedMultiplyAdd(d, x3, c03);
                d = Vector512.Load(b1 + i);
                c10 = Avx512F.FusedMultiplyAdd(d, x0, c10); c11 = Avx512F.FusedMultiplyAdd(d, x1, c11);
                c12 = Avx512F.FusedMultiplyAdd(d, x2, c12); c13 = Avx512F.FusedMultiplyAdd(d, x3, c13);
                d = Vector512.Load(b2 + i);
                c20 = Avx512F.FusedMultiplyAdd(d, x0, c20); c21 = Avx512F.FusedMultiplyAdd(d, x1, c21);
                c22 = Avx512F.FusedMultiplyAdd(d, x2, c22); c23 = Avx512F.FusedMultiplyAdd(d, x3, c23);
                d = Vector512.Load(b3 + i);
                c30 = Avx512F.FusedMultiplyAdd(d, x0, c30); c31 = Avx512F.FusedMultiplyAdd(d, x1, c31);
                c32 = Avx512F.FusedMultiplyAdd(d, x2, c32); c33 = Avx512F.FusedMultiplyAdd(d, x3, c33);
                d = Vector512.Load(b4 + i);
                c40 = Avx512F.FusedMultiplyAdd(d, x0, c40); c41 = Avx512F.FusedMultiplyAdd(d, x1, c41);
                c42 = Avx512F.FusedMultiplyAdd(d, x2, c42); c43 = Avx512F.FusedMultiplyAdd(d, x3, c43);
                d = Vector512.Load(b5 + i);
                c50 = Avx512F.FusedMultiplyAdd(d, x0, c50); c51 = Avx512F.FusedMultiplyAdd(d, x1, c51);
                c52 = Avx512F.FusedMultiplyAdd(d, x2, c52); c53 = Avx512F.FusedMultiplyAdd(d, x3, c53);
            }
            if (hasTail)
            {
                var z = Vector512<float>.Zero;
                var x0 = Avx512F.MaskLoad(a0 + end, tail, z); var x1 = Avx512F.MaskLoad(a1 + end, tail, z);
                var x2 = Avx512F.MaskLoad(a2 + end, tail, z); var x3 = Avx512F.MaskLoad(a3 + end, tail, z);
                var d = Avx512F.MaskLoad(b0 + end, tail, z);
                c00 = Avx512F.FusedMultiplyAdd(d, x0, c00); c01 = Avx512F.FusedMultiplyAdd(d, x1, c01);
                c02 = Avx512F.FusedMultiplyAdd(d, x2, c02); c03 = Avx512F.FusedMultiplyAdd(d, x3, c03);
                d = Avx512F.MaskLoad(b1 + end, tail, z);
                c10 = Avx512F.FusedMultiplyAdd(d, x0, c10); c11 = Avx512F.FusedMultiplyAdd(d, x1, c11);
                c12 = Avx512F.FusedMultiplyAdd(d, x2, c12); c13 = Avx512F.FusedMultiplyAdd(d, x3, c13);
                d = Avx512F.MaskLoad(b2 + end, tail, z);
                c20 = Avx512F.FusedMultiplyAdd(d, x0, c20); c21 = Avx512F.FusedMultiplyAdd(d, x1, c21);
                c22 = Avx512F.FusedMultiplyAdd(d, x2, c22); c23 = Avx512F.FusedMultiplyAdd(d, x3, c23);
                d = Avx512F.MaskLoad(b3 + end, tail, z);
                c30 = Avx512F.FusedMultiplyAdd(d, x0, c30); c31 = Avx512F.FusedMultiplyAdd(d, x1, c31);
                c32 = Avx512F.FusedMultiplyAdd(d, x2, c32); c33 = Avx512F.FusedMultiplyAdd(d, x3, c33);
                d = Avx512F.MaskLoad(b4 + end, tail, z);
                c40 = Avx512F.FusedMultiplyAdd(d, x0, c40); c41 = Avx512F.FusedMultiplyAdd(d, x1, c41);
                c42 = Avx512F.FusedMultiplyAdd(d, x2, c42); c43 = Avx512F.FusedMultiplyAdd(d, x3, c43);
                d = Avx512F.MaskLoad(b5 + end, tail, z);
                c50 = Avx512F.FusedMultiplyAdd(d, x0, c50); c51 = Avx512F.FusedMultiplyAdd(d, x1, c51);
                c52 = Avx512F.FusedMultiplyAdd(d, x2, c52); c53 = Avx512F.FusedMultiplyAdd(d, x3, c53);
            }
            a0 += xStep; a1 += xStep; a2 += xStep; a3 += xStep;
            b0 += dyStep; b1 += dyStep; b2 += dyStep; b3 += dyStep; b4 += dyStep; b5 += dyStep;
            if (prefetch != null) pf += dyStep;
        }
        Store(Sum4(c00, c01, c02, c03), dst, xRows, accumulate);
        if (dyRows > 1) Store(Sum4(c10, c11, c12, c13), dst + dstRow, xRows, accumulate);
        if (dyRows > 2) Store(Sum4(c20, c21, c22, c23), dst + 2 * dstRow, xRows, accumulate);
        if (dyRows > 3) Store(Sum4(c30, c31, c32, c33), dst + 3 * dstRow, xRows, accumulate);
        if (dyRows > 4) Store(Sum4(c40, c41, c42, c43), dst + 4 * dstRow, xRows, accumulate);
        if (dyRows > 5) Store(Sum4(c50, c51, c52, c53), dst + 5 * dstRow, xRows, accumulate);
    }

    /// <summary>The 16-lane sums of four accumulators, in a fixed order: pairs of lanes, then the four 128-bit blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Sum4(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
    {
        // Per 128-bit block: [a0₀+a0₂, a1₀+a1₂, a0₁+a0₃, a1₁+a1₃], then [a0, a1, a2, a3] over the block.
        var t01 = Avx512F.UnpackLow(a0, a1) + Avx512F.UnpackHigh(a0, a1);
        var t23 = Avx512F.UnpackLow(a2, a3) + Avx512F.UnpackHigh(a2, a3);
        var u = Avx512F.UnpackLow(t01.AsDouble(), t23.AsDouble()).AsSingle() + Avx512F.UnpackHigh(t01.AsDouble(), t23.AsDouble()).AsSingle();
        var h = u.GetLower() + u.GetUpper();
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>Row pointers of an x block: count rows from first, stride floats apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void XRows(float** rows, float* first, nint stride, int count)
    {
        for (int i = 0; i < count; i++) rows[i] = first + i * stride;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector128<float> sums, float* dst, int count, bool accumulate)
    {
        if (count == XBlock)
        {
            if (accumulate) sums += Vector128.Load(dst);
            sums.Store(dst);
            return;
        }
        for (int i = 0; i < count; i++)
            dst[i] = accumulate ? dst[i] + sums.GetElement(i) : sums.GetElement(i);
    }

    /// <summary>Floats of dW per task of <see cref="SumSlices"/>.</summary>
    const int SumBlock = 4096;

    /// <summary>dW = Σₛ partial[s], s in order; tasks own contiguous ranges of dW.</summary>
    static void SumSlices(CpuConvContext ctx, float* partials, int slices, long count)
    {
        int blocks = (int)((count + SumBlock - 1) / SumBlock);
        ctx.Workers.For(blocks, new SliceSums(ctx, partials, slices, count));
    }

    /// <summary>One block of dW: the slices' partial sums added in order.</summary>
    readonly struct SliceSums(CpuConvContext ctx, float* partials, int slices, long count) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            long i0 = (long)t * SumBlock, i1 = Math.Min(count, i0 + SumBlock);
            float* dw = ctx.W;
            for (long i = i0; i < i1; i++)
            {
                float sum = partials[i];
                for (int s = 1; s < slices; s++) sum += partials[s * count + i];
                dw[i] = sum;
            }
        }
    }
}
