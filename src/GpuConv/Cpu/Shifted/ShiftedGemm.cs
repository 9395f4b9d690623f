using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Threading;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Shifted;

/// <summary>
/// Forward convolution as GEMM over zero-padded, stride-phase-split input planes ("shifted-gemm").
/// Each input plane is padded and split into stride phases (padded element (d, h, w) goes to phase
/// (d mod sd, h mod sh, w mod sw) at (d div sd, h div sh, w div sw)); then the input read by output
/// (d, h, w) through tap (td, th, tw) sits at a constant offset from position (d, h, w) of one phase
/// plane, so each column-matrix row is a phase plane, shifted: B is packed with plain contiguous
/// copies, no im2col bounds logic. The GEMM computes outputs over the phase width (a few extra
/// columns per row), and the copy into y keeps the valid ones and adds the bias on the way.
/// </summary>
internal static unsafe class ShiftedGemm
{
    /// <summary>Floats of the shared padded input (every image and channel) and its tables.</summary>
    public static long SharedFloats(in Geometry g, int n, int c) =>
        StridePhaseLayout.Of(g).PlaneFloats * n * c + ReadSlack + g.KD * g.KH * g.KW * (2L * c + 1) + 1;

    /// <summary>Floats one task of the unpacked path holds: its output tile and the zero-padded edge rows of A and C.</summary>
    public static long UnpackedTaskFloats(ConvTiling t, int depth, GemmTier tier)
    {
        var blk = GemmBlocking.For(tier, t.RowTile);
        return (long)t.RowTile * ((t.ColTile + 31) / 32 * 32) + (long)blk.MR * (depth + 32);
    }

    public static ConvTiling Tiling(CpuConvContext ctx) =>
        ConvTiling.For(ctx.N * ctx.Groups, ctx.Kg, StridePhaseLayout.Of(ctx.G).Cols, ctx.Rows, ctx.Threads, ctx.Tier);

    public static void Forward(CpuConvContext ctx)
    {
        var g = ctx.G;
        var l = StridePhaseLayout.Of(g);
        int kvol = ctx.Kvol;
        float* padded = PadInput(ctx, l);
        int evenTaps = (kvol + 1) & ~1;     // keeps the offsets table after the taps 8-byte aligned
        float* tables = ctx.Shared.Get(WorkspaceSlot.Tables, evenTaps + (Unpacked(ctx.Tier) ? 2L * ctx.Rows : 0));
        int* taps = (int*)tables;
        l.WriteTapOffsets(g, taps);

        if (Unpacked(ctx.Tier))
        {
            ForwardUnpacked(ctx, l, padded, taps, (nint*)(tables + evenTaps));
            return;
        }
        int outer = ctx.N * ctx.Groups;
        var tiling = Tiling(ctx);
        nint shared = 0;
        long sharedStride = 0;
        if (PrepackedB.Worth(tiling, ctx.Tier, plainB: false))
        {
            shared = (nint)PrepackedB.Pack<ShiftedSource, PaddedPlanes>(ctx, tiling, outer, ctx.Rows, l.Cols, new(ctx, l, padded, taps));
            sharedStride = PrepackedB.Stride(tiling, ctx.Rows, ctx.Tier);
        }
        ctx.Workers.For(tiling.Tasks(outer), new PackedTiles(ctx, l, tiling, padded, taps, shared, sharedStride));
    }

    /// <summary>The shifted B of outer index o (image, group): its padded planes read at the tap offsets.</summary>
    readonly struct PaddedPlanes(CpuConvContext ctx, StridePhaseLayout l, float* padded, int* taps) : IPackSources<ShiftedSource>
    {
        public ShiftedSource At(int o, int j0) =>
            new(padded + ((nint)(o / ctx.Groups) * ctx.C + o % ctx.Groups * ctx.Cg) * l.PlaneFloats, (nint)l.PlaneFloats, taps, ctx.Kvol, j0);
    }

    /// <summary>One (image, group, column tile, row tile) GEMM over packed B into a tile, then its valid columns into y.</summary>
    readonly struct PackedTiles(CpuConvContext ctx, StridePhaseLayout l, ConvTiling tiling, float* padded, int* taps, nint shared, long sharedStride) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int kvol = ctx.Kvol;
            var (n, grp, j0, j1, i0, i1) = tiling.TileOf(t, ctx.Groups, ctx.Kg, l.Cols);
            int k0 = grp * ctx.Kg + i0, rows = i1 - i0, cols = j1 - j0;
            float* tmp = ws.Get(WorkspaceSlot.Columns, (long)rows * cols);
            var a = MatrixView.RowMajor(ctx.W + (nint)k0 * ctx.Rows, ctx.Rows);
            if (shared != 0)
            {
                Sgemm.MultiplyPacked(rows, cols, ctx.Rows, a, (float*)shared + sharedStride * ((long)(n * ctx.Groups + grp) * tiling.ColTiles + j0 / tiling.ColTile), tmp, cols, false, ctx.Tier, ws);
            }
            else
            {
                var b = new ShiftedSource(padded + ((nint)n * ctx.C + grp * ctx.Cg) * l.PlaneFloats, (nint)l.PlaneFloats, taps, kvol, j0);
                Sgemm.Multiply(rows, cols, ctx.Rows, a, b, tmp, cols, false, ctx.Tier, ws);
            }
            for (int i = 0; i < rows; i++)
                Keep(ctx.G, l, tmp + (nint)i * cols, j0, j1, ctx.YPlane(n, k0 + i), ctx.Bias == null ? 0f : ctx.Bias[k0 + i], ctx.Activation);
        }
    }

    /// <summary>Floats readable after the padded planes (one microkernel tile width).</summary>
    public const int ReadSlack = 64;

    /// <summary>Whether the B operand is read in place by <see cref="ShiftedKernels"/> instead of packed.</summary>
    public static bool Unpacked(GemmTier tier) => tier == GemmTier.Vector512;

    /// <summary>
    /// The Vector512 path: no B packing at all. Row (channel c, tap t) of B starts at a constant offset
    /// c·plane + tap[t] from the group's first padded plane, so the microkernel reads it in place through
    /// a table of those offsets; A (the weights) is read in place too. Only the edge rows of A (m not a
    /// multiple of the tile) are copied, zero-padded. K is walked in chunks of whole channels so the B
    /// rows a column tile touches (a few cache lines per channel and tap row) stay in L1.
    /// </summary>
    static void ForwardUnpacked(CpuConvContext ctx, StridePhaseLayout l, float* padded, int* taps, nint* offsets)
    {
        int kvol = ctx.Kvol, depth = ctx.Rows;
        for (int p = 0, c = 0; c < ctx.Cg; c++)
            for (int t = 0; t < kvol; t++) Tables.Set(offsets + p++, (nint)c * (nint)l.PlaneFloats + taps[t]);
        var blk = GemmBlocking.For(ctx.Tier, ctx.Kg);
        int mr = blk.MR;
        // Whole channels per K chunk, in equal chunks of about KC rows.
        int chunks = Math.Max(1, (depth + blk.KC - 1) / blk.KC);
        int chunkChannels = (ctx.Cg + chunks - 1) / chunks;
        var kernel = mr == 12 ? (delegate*<nint, float*, nint, float*, nint*, float*, nint, bool, void>)&ShiftedKernels.Vector512_12x32 : &ShiftedKernels.Vector512_8x32;
        int outer = ctx.N * ctx.Groups;
        var tiling = Tiling(ctx);
        ctx.Workers.For(tiling.Tasks(outer), new UnpackedTiles(ctx, l, tiling, padded, offsets, kernel, mr, chunkChannels));
    }

    /// <summary>One (image, group, column tile, row tile) of <see cref="ForwardUnpacked"/>.</summary>
    readonly struct UnpackedTiles(CpuConvContext ctx, StridePhaseLayout l, ConvTiling tiling, float* padded, nint* offsets,
        delegate*<nint, float*, nint, float*, nint*, float*, nint, bool, void> kernel, int mr, int chunkChannels) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            const int nr = 32;
            int kvol = ctx.Kvol, depth = ctx.Rows;
            var (n, grp, j0, j1, i0, i1) = tiling.TileOf(t, ctx.Groups, ctx.Kg, l.Cols);
            int k0 = grp * ctx.Kg + i0, rows = i1 - i0, cols = j1 - j0;
            int ldt = (cols + nr - 1) / nr * nr, fullRows = rows / mr * mr;
            float* tmp = ws.Get(WorkspaceSlot.Columns, (long)rows * ldt);
            float* edgeA = ws.Get(WorkspaceSlot.PackA, (long)mr * chunkChannels * kvol);
            float* edgeC = ws.Get(WorkspaceSlot.PackB, (long)mr * nr);
            float* b = padded + ((nint)n * ctx.C + grp * ctx.Cg) * l.PlaneFloats + j0;
            float* w = ctx.W + (nint)k0 * depth;
            for (int c0 = 0; c0 < ctx.Cg; c0 += chunkChannels)
            {
                int pc = c0 * kvol, kc = Math.Min(chunkChannels, ctx.Cg - c0) * kvol;
                bool add = c0 > 0;
                nint* off = offsets + pc;
                if (fullRows < rows)
                {
                    // Edge rows of A, zero-padded to a whole tile (the kernel reads mr rows).
                    new Span<float>(edgeA, mr * kc).Clear();
                    for (int i = fullRows; i < rows; i++)
                        new Span<float>(w + (nint)i * depth + pc, kc).CopyTo(new Span<float>(edgeA + (nint)(i - fullRows) * kc, kc));
                }
                for (int jr = 0; jr < ldt; jr += nr)
                {
                    for (int ir = 0; ir < fullRows; ir += mr)
                        kernel(kc, w + (nint)ir * depth + pc, depth, b + jr, off, tmp + (nint)ir * ldt + jr, ldt, add);
                    if (fullRows < rows)
                    {
                        kernel(kc, edgeA, kc, b + jr, off, edgeC, nr, false);
                        for (int i = fullRows; i < rows; i++)
                        {
                            float* dst = tmp + (nint)i * ldt + jr, src = edgeC + (nint)(i - fullRows) * nr;
                            if (add) VectorOps.Add(dst, src, nr);
                            else Buffer.MemoryCopy(src, dst, nr * sizeof(float), nr * sizeof(float));
                        }
                    }
                }
            }
            for (int i = 0; i < rows; i++)
                Keep(ctx.G, l, tmp + (nint)i * ldt, j0, j1, ctx.YPlane(n, k0 + i), ctx.Bias == null ? 0f : ctx.Bias[k0 + i], ctx.Activation);
        }
    }

    /// <summary>
    /// Writes every input plane (all images and channels) into its zero-padded phase planes in the
    /// run's shared Columns slot, in parallel; returns the first plane. The planes are followed by
    /// <see cref="ReadSlack"/> zeros, so kernels may read whole tiles past the last valid position.
    /// </summary>
    public static float* PadInput(CpuConvContext ctx, StridePhaseLayout l)
    {
        long paddedFloats = l.PlaneFloats * ctx.N * ctx.C;
        float* padded = ctx.Shared.Get(WorkspaceSlot.Columns, paddedFloats + ReadSlack);
        new Span<float>(padded + paddedFloats, ReadSlack).Clear();
        nint* rowStarts = (nint*)ctx.Shared.Get(WorkspaceSlot.Tables, 2L * ctx.G.InD * ctx.G.InH);
        WriteRowStarts(ctx.G, l, rowStarts);
        int planes = ctx.N * ctx.C;
        int padTasks = Math.Min(planes, ctx.Threads * ConvTiling.TasksPerThread);
        ctx.Workers.For(padTasks, new PadTasks(ctx, l, rowStarts, padded, planes, padTasks));
        return padded;
    }

    /// <summary>Ranges of input planes into their padded phase planes.</summary>
    readonly struct PadTasks(CpuConvContext ctx, StridePhaseLayout l, nint* rowStarts, float* padded, int planes, int padTasks) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int p0 = (int)((long)planes * t / padTasks), p1 = (int)((long)planes * (t + 1) / padTasks);
            PadPlanes(ctx, l, rowStarts, p0, p1, padded + p0 * l.PlaneFloats);
        }
    }

    /// <summary>
    /// Where each input row (id, ih) starts in the split plane, or -1 when no output reads it: computed
    /// once per run, as the divisions it takes cost more than copying a short row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteRowStarts(in Geometry g, in StridePhaseLayout l, nint* rowStarts)
    {
        for (int id = 0, r = 0; id < g.InD; id++)
            for (int ih = 0; ih < g.InH; ih++, r++)
            {
                int pd = id + g.PD, ph = ih + g.PH;
                // Row of phase (pd mod sd, ph mod sh, ·) at (pd div sd, ph div sh); column phases follow at PhaseFloats apart.
                Tables.Set(rowStarts + r, pd >= l.Dp || ph >= l.Hp ? -1
                    : (nint)(((long)(pd % g.SD) * g.SH + ph % g.SH) * g.SW * l.PhaseFloats + ((long)(pd / g.SD) * l.Hq + ph / g.SH) * l.Lq));
            }
    }

    /// <summary>Pads input planes [p0, p1) (image-major plane indices of x) into consecutive split planes at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PadPlanes(CpuConvContext ctx, in StridePhaseLayout l, nint* rowStarts, int p0, int p1, float* dst) =>
        PadPlanes(ctx.G, ctx, l, rowStarts, p0, p1, dst);

    /// <summary>The same for the phase planes of another geometry <paramref name="g"/> over x (Winograd's 4 × 4 patches at stride 2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PadPlanes(in Geometry g, CpuConvContext ctx, in StridePhaseLayout l, nint* rowStarts, int p0, int p1, float* dst)
    {
        bool avx2 = Avx2Splits(ctx.Tier);
        for (int p = p0; p < p1; p++)
            Pad(g, l, rowStarts, ctx.X + p * ctx.InPlane, dst + (p - p0) * l.PlaneFloats, avx2);
    }

    /// <summary>
    /// Whether padding on <paramref name="tier"/> splits strided rows with <see cref="PhaseSplitAvx2"/>: on
    /// Vector256 only (AVX-512 machines take their own splits; a backend forced to Vector256 takes these).
    /// </summary>
    internal static bool Avx2Splits(GemmTier tier) => tier == GemmTier.Vector256 && Avx2.IsSupported;

    /// <summary>
    /// Unit stride (one phase): every padded row written once, zeros and data together, instead of
    /// clearing the plane and copying over it (the pad of a 56 × 56 × 64 input took ~14 % of its 3x3
    /// layer on two threads, half of it the clear).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PadUnitStride(in Geometry g, in StridePhaseLayout l, float* x, float* dst)
    {
        int count = Math.Max(0, Math.Min(g.InW, l.Wp - g.PW)), right = l.Lq - g.PW - count;
        if (l.Lq <= 16 && Avx512F.IsSupported)
        {
            // Padded rows of at most 16 floats (the 7- and 14-wide planes of late layers): each row one masked
            // load of its input row shifted by the padding (lanes outside the input masked off, so no fault)
            // and one masked store of the whole padded row — no per-element zeroing loops.
            var rowMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(l.Lq)).AsSingle();
            var dataMask = Vector512.BitwiseAnd(Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(g.PW)),
                Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(g.PW + count))).AsSingle();
            for (int d = 0; d < l.Dp; d++)
            {
                int id = d - g.PD;
                bool planeIn = id >= 0 && id < g.InD && count > 0;
                float* row = dst + (nint)d * l.Hq * l.Lq, src = x + ((nint)id * g.InH - g.PH) * g.InW - g.PW;
                for (int h = 0; h < l.Hp; h++, row += l.Lq, src += g.InW)
                {
                    int ih = h - g.PH;
                    var v = planeIn && ih >= 0 && ih < g.InH ? Avx512F.MaskLoad(src, dataMask, Vector512<float>.Zero) : Vector512<float>.Zero;
                    Avx512F.MaskStore(row, rowMask, v);
                }
            }
            return;
        }
        for (int d = 0; d < l.Dp; d++)
        {
            int id = d - g.PD;
            for (int h = 0; h < l.Hp; h++)
            {
                int ih = h - g.PH;
                float* row = dst + ((nint)d * l.Hq + h) * l.Lq;
                if (id < 0 || id >= g.InD || ih < 0 || ih >= g.InH || count == 0)
                {
                    new Span<float>(row, l.Lq).Clear();
                    continue;
                }
                for (int i = 0; i < g.PW; i++) row[i] = 0f;
                float* src = x + ((nint)id * g.InH + ih) * g.InW;
                if (count <= 16 && Avx512F.IsSupported)
                {
                    var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
                    Avx512F.MaskStore(row + g.PW, mask, Avx512F.MaskLoad(src, mask, Vector512<float>.Zero));
                }
                else
                {
                    Buffer.MemoryCopy(src, row + g.PW, count * sizeof(float), count * sizeof(float));
                }
                for (int i = 0; i < right; i++) row[g.PW + count + i] = 0f;
            }
        }
    }

    /// <summary>
    /// The input rows of one plane, up to 32 floats each (stride 2 along w), split into even and odd columns
    /// by two permutes each and stored masked at rowStarts[r] + evenAt / + oddAt (rows no output reads are
    /// skipped). A loop of its own with everything in registers: inside <see cref="Pad"/> the JIT spilled the
    /// masks and reloaded the geometry every row (about 50 instructions a row; ResNet-50's 14 × 14 × 512
    /// stride-2 pad took ~8 % of its layer).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SplitShortRowsStride2(float* x, float* dst, nint* rowStarts, int rows, int inW, int count, long evenAt, long oddAt)
    {
        var low = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
        var high = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count - 16)).AsSingle();
        var evenMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((count + 1) / 2)).AsSingle();
        var oddMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count / 2)).AsSingle();
        var evenLanes = Vector512<int>.Indices * 2;
        var oddLanes = evenLanes + Vector512<int>.One;
        float* even = dst + evenAt, odd = dst + oddAt, src = x;
        for (nint r = 0; r < rows; r++, src += inW)
        {
            nint at = rowStarts[r];
            if (at < 0) continue;
            var lo = Avx512F.MaskLoad(src, low, Vector512<float>.Zero);
            var hi = Avx512F.MaskLoad(src + 16, high, Vector512<float>.Zero);
            Avx512F.MaskStore(even + at, evenMask, Avx512F.PermuteVar16x32x2(lo, evenLanes, hi));
            Avx512F.MaskStore(odd + at, oddMask, Avx512F.PermuteVar16x32x2(lo, oddLanes, hi));
        }
    }

    /// <summary>
    /// <see cref="SplitShortRowsStride2"/> for rows of 33..64 floats (ResNet-50's 56-wide stride-2 input):
    /// four masked loads, four permutes and four masked stores a row, instead of two calls per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SplitRowsStride2Upto64(float* x, float* dst, nint* rowStarts, int rows, int inW, int count, long evenAt, long oddAt)
    {
        var m2 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count - 32)).AsSingle();
        var m3 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count - 48)).AsSingle();
        var evenMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((count + 1) / 2 - 16)).AsSingle();
        var oddMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count / 2 - 16)).AsSingle();
        var evenLanes = Vector512<int>.Indices * 2;
        var oddLanes = evenLanes + Vector512<int>.One;
        float* even = dst + evenAt, odd = dst + oddAt, src = x;
        for (nint r = 0; r < rows; r++, src += inW)
        {
            nint at = rowStarts[r];
            if (at < 0) continue;
            var v0 = Vector512.Load(src);
            var v1 = Vector512.Load(src + 16);
            var v2 = Avx512F.MaskLoad(src + 32, m2, Vector512<float>.Zero);
            var v3 = Avx512F.MaskLoad(src + 48, m3, Vector512<float>.Zero);
            Avx512F.PermuteVar16x32x2(v0, evenLanes, v1).Store(even + at);
            Avx512F.PermuteVar16x32x2(v0, oddLanes, v1).Store(odd + at);
            Avx512F.MaskStore(even + at + 16, evenMask, Avx512F.PermuteVar16x32x2(v2, evenLanes, v3));
            Avx512F.MaskStore(odd + at + 16, oddMask, Avx512F.PermuteVar16x32x2(v2, oddLanes, v3));
        }
    }

    /// <summary>Writes one input plane into its zero-padded phase planes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Pad(in Geometry g, in StridePhaseLayout l, nint* rowStarts, float* x, float* dst, bool avx2)
    {
        if (g.SD == 1 && g.SH == 1 && g.SW == 1)
        {
            PadUnitStride(g, l, x, dst);
            return;
        }
        new Span<float>(dst, checked((int)l.PlaneFloats)).Clear();
        int count = Math.Min(g.InW, l.Wp - g.PW);
        if (count <= 0) return;
        int inRows = g.InD * g.InH;
        if (g.SW == 2 && count <= 64 && Avx512F.IsSupported && !avx2)
        {
            long evenAt = (g.PW & 1) * l.PhaseFloats + g.PW / 2, oddAt = ((g.PW + 1) & 1) * l.PhaseFloats + (g.PW + 1) / 2;
            if (count <= 32) SplitShortRowsStride2(x, dst, rowStarts, inRows, g.InW, count, evenAt, oddAt);
            else SplitRowsStride2Upto64(x, dst, rowStarts, inRows, g.InW, count, evenAt, oddAt);
            return;
        }
        var countMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
        for (int r = 0; r < inRows; r++)
        {
            if (rowStarts[r] < 0) continue;
            float* src = x + (nint)r * g.InW;
            float* row = dst + rowStarts[r];
            if (g.SW == 1 && count <= 16 && Avx512F.IsSupported)
            {
                // Short rows (the 7- and 14-wide planes of late layers): one masked copy, no call.
                Avx512F.MaskStore(row + g.PW, countMask, Avx512F.MaskLoad(src, countMask, Vector512<float>.Zero));
            }
            else if (g.SW == 1)
            {
                Buffer.MemoryCopy(src, row + g.PW, count * sizeof(float), count * sizeof(float));
            }
            else if (g.SW == 2 && avx2)
            {
                PhaseSplitAvx2.Stride2(src, count, row + (g.PW & 1) * l.PhaseFloats + g.PW / 2, row + ((g.PW + 1) & 1) * l.PhaseFloats + (g.PW + 1) / 2);
            }
            else if (g.SW == 4 && avx2)
            {
                PhaseSplitAvx2.Stride4(src, count, g.PW, row, l.PhaseFloats);
            }
            else if (g.SW == 2)
            {
                VectorOps.GatherStride2(src, row + (g.PW & 1) * l.PhaseFloats + g.PW / 2, (count + 1) / 2, src + count);
                VectorOps.GatherStride2(src + 1, row + ((g.PW + 1) & 1) * l.PhaseFloats + (g.PW + 1) / 2, count / 2, src + count);
            }
            else if (g.SW == 4 && Avx512F.IsSupported)
            {
                VectorOps.SplitStride4(src, count, g.PW, row, l.PhaseFloats);
            }
            else
            {
                // Phase and position kept as a running pair, not a division per element.
                int phase = g.PW % g.SW, at = g.PW / g.SW;
                for (int iw = 0; iw < count; iw++)
                {
                    row[phase * l.PhaseFloats + at] = src[iw];
                    if (++phase == g.SW) { phase = 0; at++; }
                }
            }
        }
    }

    /// <summary>
    /// Copies the valid outputs among padded-space columns [j0, j1) of one output channel into its y plane, adding the bias,
    /// then applies the run's activation to each copied run of outputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Keep(in Geometry g, in StridePhaseLayout l, float* src, int j0, int j1, float* y, float bias, Activation act)
    {
        int slice = l.Hq * l.Lq;
        int od = j0 / slice, rest = j0 - od * slice, oh = rest / l.Lq, ow = rest - oh * l.Lq;
        // ReLU and ReLU6 go with the copy; the others over the copied rows, which follow each other in y, in stretches.
        bool inCopy = CpuActivation.InLanes(act);
        var activated = new ActivationRuns(inCopy ? Activation.Identity : act);
        for (int o = j0; o < j1;)
        {
            int run = Math.Min(l.Lq - ow, j1 - o);
            if (oh < g.OutH && ow < g.OutW)
            {
                int valid = Math.Min(run, g.OutW - ow);
                float* dst = y + ((nint)od * g.OutH + oh) * g.OutW + ow;
                CpuActivation.CopyAddScalar(src + (o - j0), dst, bias, valid, inCopy ? act : Activation.Identity);
                activated.Add(dst, valid);
            }
            o += run;
            ow = 0;
            if (++oh == l.Hq) { oh = 0; od++; }
        }
        activated.Flush();
    }
}
