using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// Forward 3x3 convolution (2-D, stride 1, no dilation) by Winograd F(2×2, 3×3): each 2 × 2 output tile
/// is A^T [ (G w G^T) ⊙ (B^T d B) ] A over its 4 × 4 input patch d, so the products become 16 GEMMs
/// (one per element ξ of the 4 × 4 transform) of the transformed weights U_ξ (K × C) by the transformed
/// inputs V_ξ (C × tiles): 2.25× fewer multiplies than the direct sum. fp32 error grows a little (the
/// transforms add and halve; max relative error against the float64 reference stays near 1e-6).
/// <para>
/// Per task, a run of tile rows of one image: the input is padded into stride-2 phase planes, where
/// the 4 × 4 patches of 16 neighbouring tiles are 16 contiguous vector loads; V of the run goes to the
/// worker's scratch; the 16 products run on <see cref="ChannelTileKernels"/> (tiles as pixels, U_ξ as
/// channel panels); the output transform writes a pixel-major stage that <see cref="BlockTranspose"/>
/// moves into y with the bias.
/// </para>
/// </summary>
internal static unsafe class Winograd3x3
{
    const int Lanes = 16, Width = ChannelTileKernels.Channels, Xi = 16;

    /// <summary>V of one task at most (floats): 128K floats, 512 KiB, stays in L2 while the 16 products read it.</summary>
    const int MaxTransformedFloats = 128 * 1024;

    /// <summary>
    /// True when the run's x and w hold only finite values, the condition for Winograd to give what the
    /// direct sum gives: its transforms add and subtract the values of a tile, so a single ±Inf turns
    /// into Inf − Inf = NaN in outputs where the direct sum has ±Inf. Otherwise the caller runs a direct
    /// algorithm. One pass over x (a few per cent of the convolution's time).
    /// </summary>
    public static bool Exact(CpuConvContext ctx) =>
        VectorOps.AllFinite(ctx.X, (long)ctx.N * ctx.C * ctx.InPlane) && VectorOps.AllFinite(ctx.W, (long)ctx.K * ctx.Cg * 9);

    public static bool Applies(in Geometry g, GemmTier tier) =>
        ChannelTiledConv.Supported(tier) && g.InD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 &&
        g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1;

    /// <summary>The geometry whose stride-2 phase planes hold every 4 × 4 patch: a 4 × 4 "kernel" at stride 2 over the tiles.</summary>
    static Geometry Patches(in Geometry g) => g with
    {
        OutH = (g.OutH + 1) / 2, OutW = (g.OutW + 1) / 2, KH = 4, KW = 4, SH = 2, SW = 2,
    };

    /// <summary>Tile rows per task: V of the task (16 × C/g × tiles) within <see cref="MaxTransformedFloats"/>.</summary>
    static int ChunkRows(in Geometry g, int cPerGroup)
    {
        var p = Patches(g);
        return Math.Clamp(MaxTransformedFloats / (Xi * cPerGroup * p.OutW), 1, p.OutH);
    }

    /// <summary>Floats of one worker's scratch: padded phase planes, V, M, the output stage and the tables.</summary>
    public static long TaskFloats(in Geometry g, int cPerGroup)
    {
        var p = Patches(g);
        var l = StridePhaseLayout.Of(p);
        int rows = ChunkRows(g, cPerGroup);
        long tiles = (long)rows * p.OutW;
        return l.PlaneFloats * cPerGroup + ShiftedGemm.ReadSlack
            + Xi * cPerGroup * tiles + Xi * tiles * Width + 2L * rows * g.OutW * Width + 2 * (tiles + cPerGroup) + 16;
    }

    /// <summary>
    /// U = G w G^T of every (k, c) filter, laid out as 16 × groups "groups" of kPerGroup × cPerGroup rows
    /// (ξ outermost), ready for <see cref="ChannelPanels"/>; <paramref name="u"/> holds 16 × K × C floats.
    /// </summary>
    public static void TransformWeights(CpuWorkers workers, float* w, int groups, int kPerGroup, int cPerGroup, float* u)
    {
        int k = groups * kPerGroup;
        nint src = (nint)w, dst = (nint)u;
        int tasks = Math.Min(k, 2 * workers.Threads);
        workers.For(tasks, (t, _) =>
        {
            int k0 = k * t / tasks, k1 = k * (t + 1) / tasks;
            float* r = stackalloc float[12];
            for (int kk = k0; kk < k1; kk++)
                for (int c = 0; c < cPerGroup; c++)
                {
                    float* f = (float*)src + ((nint)kk * cPerGroup + c) * 9;
                    // G f: rows g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2 of each column, then the same along rows.
                    for (int j = 0; j < 3; j++)
                    {
                        float a = f[j], b = f[3 + j], cc = f[6 + j];
                        r[j] = a; r[3 + j] = 0.5f * (a + b + cc); r[6 + j] = 0.5f * (a - b + cc); r[9 + j] = cc;
                    }
                    for (int i = 0; i < 4; i++)
                    {
                        float a = r[3 * i], b = r[3 * i + 1], cc = r[3 * i + 2];
                        float* o = (float*)dst + ((nint)(4 * i) * k + kk) * cPerGroup + c;
                        nint step = (nint)k * cPerGroup;
                        o[0] = a; o[step] = 0.5f * (a + b + cc); o[2 * step] = 0.5f * (a - b + cc); o[3 * step] = cc;
                    }
                }
        });
    }

    /// <summary>Runs the convolution with <paramref name="panels"/> = the transformed weights as channel panels.</summary>
    public static void Forward(CpuConvContext ctx, float* panels)
    {
        var g = ctx.G;
        var p = Patches(g);
        var l = StridePhaseLayout.Of(p);
        int cg = ctx.Cg, blocks = ChannelPanels.Blocks(ctx.Kg), tileRows = p.OutH, tileCols = p.OutW;
        int rows = ChunkRows(g, cg);
        int chunks = (tileRows + rows - 1) / rows, outer = ctx.N * ctx.Groups;
        long stamp = WorkspaceSet.NextRunStamp();
        long panelFloats = (long)Width * cg;
        nint panelBase = (nint)panels;
        // Too few (image, chunk) units for the threads (one small image): split the output channel blocks too.
        int units = outer * chunks, parts = Math.Min(blocks, Math.Max(1, Ceil(ConvTiling.TasksPerThread * ctx.Threads, units)));
        ctx.Workers.For(units * parts, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            int part = t % parts;
            t /= parts;
            int kb0 = blocks * part / parts, kb1 = blocks * (part + 1) / parts;
            int o = t / chunks, tr0 = t % chunks * rows, tr1 = Math.Min(tileRows, tr0 + rows);
            int n = o / ctx.Groups, grp = o % ctx.Groups;
            int tiles = (tr1 - tr0) * tileCols;
            float* padded = PaddedInput(ctx, p, l, o, stamp, ws);
            float* v = ws.Get(WorkspaceSlot.PackA, (long)Xi * cg * tiles + (long)Xi * tiles * Width + 2L * (tr1 - tr0) * g.OutW * Width);
            float* m = v + (long)Xi * cg * tiles;
            float* stage = m + (long)Xi * tiles * Width;
            // The kernels' tables: tile q's column in V is q; channel c's row starts c · tiles in.
            nint* tables = (nint*)ws.Get(WorkspaceSlot.Tables, 2L * (tiles + cg) + 16);
            nint* tileTable = tables, channelTable = tables + tiles;
            for (int q = 0; q < tiles; q++) tileTable[q] = q;
            for (int c = 0; c < cg; c++) channelTable[c] = (nint)c * tiles;

            TransformInput(padded, l, cg, tr0, tr1, tileCols, v);
            for (int kb = kb0; kb < kb1; kb++)
            {
                int count = Math.Min(Width, ctx.Kg - kb * Width);
                for (int xi = 0; xi < Xi; xi++)
                {
                    float* b = (float*)panelBase + ((long)(xi * ctx.Groups + grp) * blocks + kb) * panelFloats;
                    Products(v + (long)xi * cg * tiles, tileTable, channelTable, cg, tiles, b, m + (long)xi * tiles * Width, count);
                }
                TransformOutput(m, tiles, tileCols, tr0, g.OutH, g.OutW, stage);
                int y0 = 2 * tr0, y1 = Math.Min(g.OutH, 2 * tr1);
                BlockTranspose.ToPlanes(stage, Width, (y1 - y0) * g.OutW, count, ctx.YPlane(n, grp * ctx.Kg + kb * Width) + (nint)y0 * g.OutW,
                    ctx.OutPlane, ctx.Bias == null ? null : ctx.Bias + grp * ctx.Kg + kb * Width);
            }
        });
    }

    /// <summary>This worker's padded phase planes of (image, group) <paramref name="o"/>, made by its first task of the run that reads them.</summary>
    static float* PaddedInput(CpuConvContext ctx, in Geometry patches, in StridePhaseLayout l, int o, long stamp, WorkspaceSet ws)
    {
        float* dst = ws.RowsPart(stamp, o, 0, 1, l.PlaneFloats * ctx.Cg + ShiftedGemm.ReadSlack, out bool holds);
        if (!holds)
        {
            nint* rowStarts = (nint*)ws.Get(WorkspaceSlot.Columns, 2L * patches.InH + 2);
            ShiftedGemm.WriteRowStarts(patches, l, rowStarts);
            int p0 = o / ctx.Groups * ctx.C + o % ctx.Groups * ctx.Cg;
            ShiftedGemm.PadPlanes(patches, ctx, l, rowStarts, p0, p0 + ctx.Cg, dst);
            new Span<float>(dst + l.PlaneFloats * ctx.Cg, ShiftedGemm.ReadSlack).Clear();
        }
        return dst;
    }

    /// <summary>
    /// V_ξ[c][tile] = (B^T d B)_ξ for tile rows [tr0, tr1), 16 tiles per vector: in the stride-2 phase
    /// planes element (i, j) of the patches of tiles tw … tw + 15 is one contiguous vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v)
    {
        long phase = l.PhaseFloats;
        int lq = l.Lq;
        nint tiles = (nint)(tr1 - tr0) * tileCols, xiStride = (nint)cg * tiles;
        // V is dense (tile rows back to back): the last vector of a row is stored masked.
        var lastMask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((tileCols - 1) % Lanes + 1)).AsSingle();
        int lastStart = (tileCols - 1) / Lanes * Lanes;
        // Padded row 2·tr + i sits in row phase i mod 2 at row tr + i / 2; column 2·tw + j likewise.
        nint Offset(int i, int j) => (nint)(((i & 1) * 2 + (j & 1)) * phase + (i >> 1) * lq + (j >> 1));
        nint o00 = Offset(0, 0), o01 = Offset(0, 1), o02 = Offset(0, 2), o03 = Offset(0, 3);
        nint o10 = Offset(1, 0), o11 = Offset(1, 1), o12 = Offset(1, 2), o13 = Offset(1, 3);
        nint o20 = Offset(2, 0), o21 = Offset(2, 1), o22 = Offset(2, 2), o23 = Offset(2, 3);
        nint o30 = Offset(3, 0), o31 = Offset(3, 1), o32 = Offset(3, 2), o33 = Offset(3, 3);
        for (int c = 0; c < cg; c++)
        {
            float* plane = padded + c * l.PlaneFloats;
            for (int tr = tr0; tr < tr1; tr++)
                for (int tw = 0; tw < tileCols; tw += Lanes)
                {
                    float* s = plane + (nint)tr * lq + tw;
                    float* d = v + (nint)c * tiles + (nint)(tr - tr0) * tileCols + tw;
                    var mask = tw == lastStart ? lastMask : AllLanes;
                    // Rows: t_i = B^T applied down each column j (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
                    var (r00, r01, r02, r03) = Column(Vector512.Load(s + o00), Vector512.Load(s + o10), Vector512.Load(s + o20), Vector512.Load(s + o30));
                    var (r10, r11, r12, r13) = Column(Vector512.Load(s + o01), Vector512.Load(s + o11), Vector512.Load(s + o21), Vector512.Load(s + o31));
                    var (r20, r21, r22, r23) = Column(Vector512.Load(s + o02), Vector512.Load(s + o12), Vector512.Load(s + o22), Vector512.Load(s + o32));
                    var (r30, r31, r32, r33) = Column(Vector512.Load(s + o03), Vector512.Load(s + o13), Vector512.Load(s + o23), Vector512.Load(s + o33));
                    // Then along each row i: element (i, j) of the transform is index 4i + j.
                    Store(d, xiStride, 0, mask, Column(r00, r10, r20, r30));
                    Store(d, xiStride, 4, mask, Column(r01, r11, r21, r31));
                    Store(d, xiStride, 8, mask, Column(r02, r12, r22, r32));
                    Store(d, xiStride, 12, mask, Column(r03, r13, r23, r33));
                }
        }
    }

    /// <summary>B^T of four values: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Column(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3) =>
        (d0 - d2, d1 + d2, d2 - d1, d1 - d3);

    static readonly Vector512<float> AllLanes = Vector512<int>.AllBitsSet.AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* d, nint xiStride, int first, Vector512<float> mask, (Vector512<float> A, Vector512<float> B, Vector512<float> C, Vector512<float> D) t)
    {
        Avx512F.MaskStore(d + first * xiStride, mask, t.A);
        Avx512F.MaskStore(d + (first + 1) * xiStride, mask, t.B);
        Avx512F.MaskStore(d + (first + 2) * xiStride, mask, t.C);
        Avx512F.MaskStore(d + (first + 3) * xiStride, mask, t.D);
    }

    /// <summary>M_ξ[tile][0..64] = Σ_c V_ξ[c][tile] · U_ξ[c][0..64] over the task's tiles, six (or twelve for a half block) per kernel call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Products(float* v, nint* tileTable, nint* channelTable, int cg, int tiles, float* b, float* m, int count)
    {
        bool half = count <= ChannelTileKernels.HalfChannels;
        int most = half ? ChannelTileKernels.MaxHalfPixels : ChannelTileKernels.MaxPixels, calls = (tiles + most - 1) / most;
        for (int i = 0, q = 0; i < calls; i++)
        {
            int r = (int)((long)tiles * (i + 1) / calls) - q;
            var kernel = half ? ChannelTileKernels.ForHalf(r) : ChannelTileKernels.For(r);
            kernel(cg, v, tileTable + q, channelTable, b, m + (nint)q * Width, Width, false);
            q += r;
        }
    }

    /// <summary>
    /// Y = A^T M A for every tile of the task, 16 channels per vector, into the stage: pixel-major rows of
    /// 64 channels for output rows 2·tr0 … (the outputs past the plane's edge are dropped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage)
    {
        nint xiStride = (nint)tiles * Width;
        for (int q = 0; q < tiles; q++)
        {
            int tr = tr0 + q / tileCols, tw = q % tileCols;
            int oh = 2 * tr, ow = 2 * tw;
            bool right = ow + 1 < outW, down = oh + 1 < outH;
            float* s = m + (nint)q * Width;
            float* top = stage + ((nint)(oh - 2 * tr0) * outW + ow) * Width, bottom = top + (nint)outW * Width;
            for (int j = 0; j < Width; j += Lanes)
            {
                // A^T of four values: (m0 + m1 + m2, m1 − m2 − m3), first down the columns, then along the rows.
                var (a0, b0) = Out(s, xiStride, 0, j);
                var (a1, b1) = Out(s, xiStride, 1, j);
                var (a2, b2) = Out(s, xiStride, 2, j);
                var (a3, b3) = Out(s, xiStride, 3, j);
                (a0 + a1 + a2).Store(top + j);
                if (right) (a1 - a2 - a3).Store(top + Width + j);
                if (down)
                {
                    (b0 + b1 + b2).Store(bottom + j);
                    if (right) (b1 - b2 - b3).Store(bottom + Width + j);
                }
            }
        }
    }

    static int Ceil(int a, int b) => (a + b - 1) / b;

    /// <summary>A^T down column <paramref name="col"/> of the 4 × 4 transform (elements col, 4 + col, 8 + col, 12 + col).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float>, Vector512<float>) Out(float* s, nint xiStride, int col, int j)
    {
        var m0 = Vector512.Load(s + col * xiStride + j);
        var m1 = Vector512.Load(s + (4 + col) * xiStride + j);
        var m2 = Vector512.Load(s + (8 + col) * xiStride + j);
        var m3 = Vector512.Load(s + (12 + col) * xiStride + j);
        return (m0 + m1 + m2, m1 - m2 - m3);
    }
}
