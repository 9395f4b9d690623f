using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu;

/// <summary>
/// Backward-filter of a 1x1 unit-stride convolution as dot products: dW[k, c] = Σₙ Σₚ dy[n, k, p] · x[n, c, p],
/// where both operands are contiguous along the reduction (the positions p). A GEMM has to transpose one or
/// both of them into panels first (reduction-split packed dy's chunk with 8 × 8 transposes, and A with the
/// GEMM's own packing): on MobileNetV2's 1x1 layers that packing was a third of the run. Here a block of
/// 4 x channels × 6 dy channels keeps 24 Vector512 accumulators and reads both operands' planes in place,
/// 16 positions a step (4 + 6 loads for 24 FMAs; a plane's last partial vector by masked loads, which read
/// zeros past the end, so a ±Inf or NaN is multiplied only where the direct sum multiplies it); at the end
/// of a chunk each accumulator's 16 lanes are summed in a fixed order and added into dW.
/// The reduction is cut into chunks (a range of one image's plane, or a few whole planes) whose operands an
/// L2 holds; the block that stays in L1 is the one of the larger side, the other side's whole chunk
/// streams from L2. Tasks own (group, slice of chunks, range of dy channels): slice s sums its chunks into a
/// partial dW of its own, and a last pass adds the slices in order s = 0..S−1. S and the ranges depend only on
/// the problem and the thread count, so a result repeats bit for bit at a fixed thread count.
/// AVX-512 (the Vector512 tier) only.
/// </summary>
internal static unsafe class PointwiseFilterDots
{
    /// <summary>x channels per block (the accumulators' rows).</summary>
    const int XBlock = 4;
    /// <summary>dy channels per block: 4 × 6 accumulators + 4 x vectors + 1 dy vector = 29 of 32 registers.</summary>
    const int DyBlock = 6;
    /// <summary>Floats of the inner side's chunk (all its channels) that stay in the L2 while the outer blocks pass.</summary>
    const int InnerBudgetFloats = 128 * 1024;
    const int Lanes = 16;

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
            int target = Math.Clamp(InnerBudgetFloats / inner / Lanes * Lanes, 256, BenchMaxTarget);
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
            long want = (long)ConvTiling.TasksPerThread * threads;
            int slices = threads > 1 ? (int)Math.Min((want + p.Groups - 1) / p.Groups, chunks) : 1;
            int dyBlocks = (kg + DyBlock - 1) / DyBlock;
            int ranges = threads > 1 && (long)p.Groups * slices < want
                ? (int)Math.Min((want + (long)p.Groups * slices - 1) / ((long)p.Groups * slices), dyBlocks) : 1;
            int range = (dyBlocks + ranges - 1) / ranges * DyBlock;
            ranges = (kg + range - 1) / range;
            return new Plan(piece, pieces, perChunk, chunks, Math.Max(slices, 1), range, ranges);
        }
    }

    /// <summary>
    /// 1x1 unit-stride unpadded problems on the Vector512 tier with at most 32 input channels per group and planes
    /// of at least 784 positions (28 × 28). TODO measurements.
    /// </summary>
    public static bool Applies(ConvProblem p, GemmTier tier) =>
        p.Op == ConvOp.BackwardFilter && p.IsPointwise && tier == GemmTier.Vector512 && Avx512F.IsSupported
        && p.CPerGroup <= MaxChannels && p.YShape.SpatialSize >= MinPlane;

    public const int MaxChannels = 32, MinPlane = 784;
    internal static int BenchMaxTarget = 4096; internal static bool BenchNoPrefetch;



    /// <summary>Shared floats: the slices' partial dW (none for one slice: it writes dW itself).</summary>
    public static long SharedFloats(ConvProblem p, int threads)
    {
        var plan = Plan.Of(p, threads);
        return plan.Slices > 1 ? plan.Slices * p.WShape.ElementCount : 0;
    }

    public static void Run(CpuConvContext ctx)
    {
        var p = ctx.Problem;
        var plan = Plan.Of(p, ctx.Threads);
        long wFloats = p.WShape.ElementCount;
        float* partials = plan.Slices > 1 ? ctx.Shared.Get(WorkspaceSlot.PackB, plan.Slices * wFloats) : ctx.W;
        int slices = plan.Slices, ranges = plan.KRanges;
        ctx.Workers.For(ctx.Groups * ranges * slices, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, _) =>
        {
            int s = t % slices; t /= slices;
            int r = t % ranges, g = t / ranges;
            int k0 = r * plan.KRange, k1 = Math.Min(ctx.Kg, k0 + plan.KRange);
            int q0 = (int)((long)plan.Chunks * s / slices), q1 = (int)((long)plan.Chunks * (s + 1) / slices);
            float* dw = partials + s * wFloats + ((long)g * ctx.Kg + k0) * ctx.Cg;
            for (int q = q0; q < q1; q++)
                Chunk(ctx, plan, q, g, k0, k1, dw, accumulate: q > q0);
        });
        if (slices > 1) SumSlices(ctx, partials, slices, wFloats);
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
        if (cg <= kn)
        {
            // dy's next block comes from memory while this one (in L1) meets every x block: each x block's
            // pass prefetches one of its rows, a line per step (the x blocks: C/g / 4, usually ≥ 6).
            for (int k = 0; k < kn; k += DyBlock)
                for (int c = 0, b = 0; c < cg; c += XBlock, b++)
                {
                    float* next = !BenchNoPrefetch && k + DyBlock < kn ? dy + (k + DyBlock + Math.Min(b % DyBlock, kn - k - DyBlock - 1)) * plane : null;
                    Block(x + c * plane, Math.Min(XBlock, cg - c), dy + k * plane, Math.Min(DyBlock, kn - k), plane, xImage, dyImage, images, len,
                        dw + (nint)k * cg + c, cg, accumulate, next);
                }
        }
        else
        {
            for (int c = 0; c < cg; c += XBlock)
                for (int k = 0; k < kn; k += DyBlock)
                    Block(x + c * plane, Math.Min(XBlock, cg - c), dy + k * plane, Math.Min(DyBlock, kn - k), plane, xImage, dyImage, images, len,
                        dw + (nint)k * cg + c, cg, accumulate, null);
        }
    }

    /// <summary>
    /// dst[j, i] (+)= Σ over the images and positions [0, len) of dy row j · x row i, for i &lt; xRows ≤ 4 and
    /// j &lt; dyRows ≤ 6 (a partial block repeats its last row and drops those sums). The 24 vector sums live in
    /// <see cref="Plane"/>'s registers along a plane and in 24 vectors of memory between planes (the JIT keeps
    /// them in registers only through a loop without branches: with the images' loop around it, it spilled
    /// them on every step).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Block(float* x, int xRows, float* dy, int dyRows, nint plane, nint xImage, nint dyImage, int images, int len,
        float* dst, nint dstRow, bool accumulate, float* prefetch)
    {
        float** rows = stackalloc float*[XBlock + DyBlock];
        var acc = stackalloc Vector512<float>[XBlock * DyBlock];
        for (int i = 0; i < XBlock * DyBlock; i++) acc[i] = default;
        int whole = len / Lanes;
        var tail = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(len - whole * Lanes)).AsSingle();
        for (int n = 0; n < images; n++)
        {
            for (int i = 0; i < XBlock; i++) rows[i] = x + n * xImage + Math.Min(i, xRows - 1) * plane;
            for (int j = 0; j < DyBlock; j++) rows[XBlock + j] = dy + n * dyImage + Math.Min(j, dyRows - 1) * plane;
            Plane(rows, whole, tail, whole * Lanes < len, acc, prefetch == null ? null : prefetch + n * dyImage);
        }
        for (int j = 0; j < dyRows; j++)
            Store(Sum4(acc[j * XBlock], acc[j * XBlock + 1], acc[j * XBlock + 2], acc[j * XBlock + 3]), dst + j * dstRow, xRows, accumulate);
    }

    /// <summary>
    /// acc[j · 4 + i] += rows[4 + j] · rows[i] over <paramref name="steps"/> whole vectors, then the masked last
    /// one where <paramref name="hasTail"/> (masked loads: zeros past the plane's end, so a ±Inf or NaN
    /// there meets nothing).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Plane(float** rows, int steps, Vector512<float> tail, bool hasTail, Vector512<float>* acc, float* prefetch)
    {
        float* a0 = rows[0], a1 = rows[1], a2 = rows[2], a3 = rows[3];
        float* b0 = rows[4], b1 = rows[5], b2 = rows[6], b3 = rows[7], b4 = rows[8], b5 = rows[9];
        Vector512<float> c00 = acc[0], c01 = acc[1], c02 = acc[2], c03 = acc[3];
        Vector512<float> c10 = acc[4], c11 = acc[5], c12 = acc[6], c13 = acc[7];
        Vector512<float> c20 = acc[8], c21 = acc[9], c22 = acc[10], c23 = acc[11];
        Vector512<float> c30 = acc[12], c31 = acc[13], c32 = acc[14], c33 = acc[15];
        Vector512<float> c40 = acc[16], c41 = acc[17], c42 = acc[18], c43 = acc[19];
        Vector512<float> c50 = acc[20], c51 = acc[21], c52 = acc[22], c53 = acc[23];
        nint end = (nint)steps * Lanes;
        float* pf = prefetch != null ? prefetch : a0;      // without a row to fetch: a line already read
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
        acc[0] = c00; acc[1] = c01; acc[2] = c02; acc[3] = c03;
        acc[4] = c10; acc[5] = c11; acc[6] = c12; acc[7] = c13;
        acc[8] = c20; acc[9] = c21; acc[10] = c22; acc[11] = c23;
        acc[12] = c30; acc[13] = c31; acc[14] = c32; acc[15] = c33;
        acc[16] = c40; acc[17] = c41; acc[18] = c42; acc[19] = c43;
        acc[20] = c50; acc[21] = c51; acc[22] = c52; acc[23] = c53;
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

    /// <summary>dW = Σₛ partial[s], s in order; tasks own contiguous ranges of dW.</summary>
    static void SumSlices(CpuConvContext ctx, float* partials, int slices, long count)
    {
        const int Block = 4096;
        int blocks = (int)((count + Block - 1) / Block);
        ctx.Workers.For(blocks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, _) =>
        {
            long i0 = (long)t * Block, i1 = Math.Min(count, i0 + Block);
            float* dw = ctx.W;
            for (long i = i0; i < i1; i++)
            {
                float sum = partials[i];
                for (int s = 1; s < slices; s++) sum += partials[s * count + i];
                dw[i] = sum;
            }
        });
    }
}
