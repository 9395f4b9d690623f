using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Shifted;
using GpuConv.Cpu.Threading;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// Forward 3x3 convolution (2-D, stride 1, no dilation) by Winograd F(m × m, 3 × 3), m = 2
/// (<see cref="F2x2"/>) or 4 (<see cref="F4x4"/>): each m × m output tile is A^T [ (G w G^T) ⊙ (B^T d B) ] A
/// over its (m + 2)² input patch d, so the products become (m + 2)² GEMMs (one per element ξ of the
/// transform) of the transformed weights U_ξ (K × C) by the transformed inputs V_ξ (C × tiles): 2.25×
/// (m = 2) or 4× (m = 4) fewer multiplies than the direct sum. fp32 error grows with m (the transforms
/// add and scale; see each variant for its measured error).
/// <para>
/// Per task, a run of tile rows of one image: the input is padded into stride-m phase planes, where
/// the patches of 16 neighbouring tiles are (m + 2)² contiguous vector loads; V of the run goes to the
/// worker's scratch; the products run on <see cref="ChannelTileKernels"/> (tiles as pixels, U_ξ as
/// channel panels); the output transform writes a pixel-major stage that <see cref="BlockTranspose"/>
/// moves into y with the bias.
/// </para>
/// </summary>
internal static unsafe class Winograd3x3
{
    internal const int Lanes = 16, Width = ChannelTileKernels.Channels;

    /// <summary>V of one task at most (floats): 128K floats, 512 KiB, stays in L2 while the products read it.</summary>
    const int MaxTransformedFloats = 128 * 1024;

    /// <summary>
    /// True when the run's x and w hold only finite values, the condition for Winograd to give what the
    /// direct sum gives: its transforms add and subtract the values of a tile, so a single ±Inf turns
    /// into Inf − Inf = NaN in outputs where the direct sum has ±Inf. Otherwise the caller runs a direct
    /// algorithm. One pass over x (a few per cent of the convolution's time; max |w|, <paramref name="maxW"/>,
    /// is the caller's, kept with the constant weights), which also bounds the sums: <paramref name="mayOverflow"/> is false when no transform or product can reach fp32's range
    /// (max |x| · max |w| · C/g · 9 · 10⁶ below 10³⁷; F(4×4)'s transforms grow a value by at most
    /// 14² · 1.9² · 11.1² ≈ 8.4 · 10⁴ per channel), so only inputs near fp32's limit need the caller's check
    /// of y for overflowed outputs.
    /// </summary>
    public static bool Exact(CpuConvContext ctx, float maxW, out bool mayOverflow)
    {
        float maxX = VectorOps.MaxAbsOrInfinity(ctx.X, (long)ctx.N * ctx.C * ctx.InPlane);
        mayOverflow = (double)maxX * maxW * ctx.Cg * 9 * 1e6 >= 1e37;
        return float.IsFinite(maxX) && float.IsFinite(maxW);
    }

    public static bool Applies(in Geometry g, GemmTier tier) =>
        ChannelTiledConv.Supported(tier) && g.InD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 &&
        g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1;

    /// <summary>Elements of the transform, (m + 2)².</summary>
    public static int Xi<T>() where T : struct, IWinogradTiles => (T.Tile + 2) * (T.Tile + 2);

    /// <summary>The geometry whose stride-m phase planes hold every patch: an (m + 2)² "kernel" at stride m over the tiles.</summary>
    static Geometry Patches<T>(in Geometry g) where T : struct, IWinogradTiles => g with
    {
        OutH = (g.OutH + T.Tile - 1) / T.Tile, OutW = (g.OutW + T.Tile - 1) / T.Tile, KH = T.Tile + 2, KW = T.Tile + 2, SH = T.Tile, SW = T.Tile,
    };

    /// <summary>
    /// Tile rows per task: V of the task (ξ × C/g × tiles) within <see cref="MaxTransformedFloats"/>, the rows split
    /// evenly over the chunks (each chunk streams all of U: F(4x4) on 14 × 14 × 128 had chunks of 3 and 1 tile rows).
    /// </summary>
    static int ChunkRows<T>(in Geometry g, int cPerGroup) where T : struct, IWinogradTiles
    {
        var p = Patches<T>(g);
        int most = Math.Clamp(MaxTransformedFloats / (Xi<T>() * cPerGroup * p.OutW), 1, p.OutH), chunks = (p.OutH + most - 1) / most;
        return (p.OutH + chunks - 1) / chunks;
    }

    /// <summary>Floats of one worker's scratch: padded phase planes, V, M, the output stage and the tables.</summary>
    public static long TaskFloats<T>(in Geometry g, int cPerGroup) where T : struct, IWinogradTiles
    {
        var p = Patches<T>(g);
        var l = StridePhaseLayout.Of(p);
        int rows = ChunkRows<T>(g, cPerGroup), xi = Xi<T>();
        long tiles = (long)rows * p.OutW;
        return l.PlaneFloats * cPerGroup + ShiftedGemm.ReadSlack
            + xi * cPerGroup * tiles + xi * tiles * Width + (long)T.Tile * rows * g.OutW * Width + 2 * (tiles + cPerGroup) + 16;
    }

    /// <summary>Floats of the transformed weights as channel panels: (m + 2)² × groups sets of panels, K/g rounded up to 64 by C/g.</summary>
    public static long PanelFloats<T>(int groups, int kPerGroup, int cPerGroup) where T : struct, IWinogradTiles =>
        ChannelPanels.Floats(Xi<T>() * groups, kPerGroup, cPerGroup);

    /// <summary>
    /// U = G w G^T of every (k, c) filter, written straight as the channel panels <see cref="Forward{T}"/> reads: ξ × groups
    /// "groups" (ξ outermost) of panels of 64 output channels, row c of a panel holding U_ξ(k, c) for its 64 k, zero past
    /// K/g. Eight filters (eight k of one c) per transform, their U_ξ stored as 8-lane runs of the panel rows, so a call
    /// with weights that change every time pays a pass over W, not a transform per filter into (m + 2)² scattered
    /// places and a packing pass after it (ResNet-50's 256-channel 3x3, F(4x4): 7.5 + 0.9 ms before, one thread).
    /// Tasks: runs of input channels of one (group, block of 64 output channels), enough of them for the workers.
    /// </summary>
    public static void TransformWeightsToPanels<T>(CpuWorkers workers, float* w, int groups, int kPerGroup, int cPerGroup, float* panels)
        where T : struct, IWinogradTiles
    {
        int blocks = ChannelPanels.Blocks(kPerGroup), units = groups * blocks;
        int runs = Math.Clamp((4 * workers.Threads + units - 1) / units, 1, cPerGroup);
        workers.For(units * runs, new FilterPanelTasks<T>((nint)w, (nint)panels, groups, kPerGroup, cPerGroup, blocks, runs));
    }

    /// <summary>One run of input channels of one (group, block of 64 output channels): U of its filters into every ξ's panel.</summary>
    readonly struct FilterPanelTasks<T>(nint src, nint dst, int groups, int kPerGroup, int cPerGroup, int blocks, int runs) : ICpuLoop
        where T : struct, IWinogradTiles
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int unit = t / runs, run = t % runs, g = unit / blocks, kb = unit % blocks;
            int c0 = (int)((long)cPerGroup * run / runs), c1 = (int)((long)cPerGroup * (run + 1) / runs);
            int xis = Xi<T>(), k0 = kb * Width, lanes = Math.Min(Width, kPerGroup - k0);
            nint panelFloats = (nint)Width * cPerGroup, xiStride = (nint)groups * blocks * panelFloats;
            float* w = (float*)src, first = (float*)dst + ((nint)g * blocks + kb) * panelFloats;
            var f = stackalloc Vector256<float>[9];
            var u = stackalloc Vector256<float>[36];
            var taps = stackalloc float[8 * 9];
            for (int c = c0; c < c1; c++)
            {
                for (int r0 = 0; r0 < Width; r0 += 8)
                {
                    // Eight filters (k0 + r0 …, c), tap-major: lane l of f[t] is tap t of filter l; zero past K/g.
                    int live = Math.Clamp(lanes - r0, 0, 8);
                    for (int l = 0; l < 8; l++)
                    {
                        float* filter = w + ((nint)(g * kPerGroup + k0 + r0 + l) * cPerGroup + c) * 9;
                        for (int tap = 0; tap < 9; tap++) taps[tap * 8 + l] = l < live ? filter[tap] : 0f;
                    }
                    for (int tap = 0; tap < 9; tap++) f[tap] = Vector256.Load(taps + tap * 8);
                    T.TransformFilterLanes(f, u);
                    float* row = first + (nint)c * Width + r0;
                    for (int xi = 0; xi < xis; xi++) Vector256.Store(u[xi], row + xi * xiStride);
                }
            }
        }
    }

    /// <summary>Runs the convolution with <paramref name="panels"/> = the transformed weights as channel panels.</summary>
    public static void Forward<T>(CpuConvContext ctx, float* panels) where T : struct, IWinogradTiles
    {
        var g = ctx.G;
        var p = Patches<T>(g);
        var l = StridePhaseLayout.Of(p);
        int xis = Xi<T>(), tile = T.Tile;
        int cg = ctx.Cg, blocks = ChannelPanels.Blocks(ctx.Kg), tileRows = p.OutH, tileCols = p.OutW;
        int rows = ChunkRows<T>(g, cg);
        int chunks = (tileRows + rows - 1) / rows, outer = ctx.N * ctx.Groups;
        long stamp = WorkspaceSet.NextRunStamp();
        long panelFloats = (long)Width * cg;
        nint panelBase = (nint)panels;
        // Too few (image, chunk) units for the threads (one small image): split the output channel blocks too.
        int units = outer * chunks, parts = Math.Min(blocks, Math.Max(1, Ceil(ConvTiling.TasksPerThread * ctx.Threads, units)));
        ctx.Workers.For(units * parts, new TileTasks<T>(ctx, g, p, l, units, parts, blocks, chunks, tileRows, tileCols, xis, tile, cg, stamp, panelBase, panelFloats));
    }

    /// <summary>(output-channel part, image, group, chunk of tile rows): the input transform, the products and the output transform.</summary>
    readonly struct TileTasks<T>(CpuConvContext ctx, Geometry g, Geometry p, StridePhaseLayout l, int units, int parts, int blocks, int chunks, int tileRows, int tileCols, int xis, int tile, int cg, long stamp, nint panelBase, long panelFloats) : ICpuLoop
        where T : struct, IWinogradTiles
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            // Parts outermost: each worker's own range of tasks is then whole parts (every tile row, a share of
            // the channel blocks) rather than whole chunks (a chunk of 4 tile rows against one of 3 left one of
            // two threads idle a seventh of the layer), and the chunks' rows are spread evenly (4, 4, 4, 2 rows
            // of 56 × 56's 14 tile rows, two chunks a thread, was 8 against 6).
            int part = t / units;
            t %= units;
            int kb0 = blocks * part / parts, kb1 = blocks * (part + 1) / parts;
            int o = t / chunks, chunk = t % chunks, tr0 = tileRows * chunk / chunks, tr1 = tileRows * (chunk + 1) / chunks;
            int n = o / ctx.Groups, grp = o % ctx.Groups;
            int tiles = (tr1 - tr0) * tileCols;
            float* padded = PaddedInput(ctx, p, l, o, stamp, ws);
            float* v = ws.Get(WorkspaceSlot.PackA, (long)xis * cg * tiles + (long)xis * tiles * Width + (long)tile * (tr1 - tr0) * g.OutW * Width);
            float* m = v + (long)xis * cg * tiles;
            float* stage = m + (long)xis * tiles * Width;
            // The kernels' tables: tile q's column in V is q; channel c's row starts c · tiles in.
            nint* tables = (nint*)ws.Get(WorkspaceSlot.Tables, 2L * (tiles + cg) + 16);
            nint* tileTable = tables, channelTable = tables + tiles;
            for (int q = 0; q < tiles; q++) tileTable[q] = q;
            for (int c = 0; c < cg; c++) channelTable[c] = (nint)c * tiles;

            T.TransformInput(padded, l, cg, tr0, tr1, tileCols, v);
            for (int kb = kb0; kb < kb1; kb++)
            {
                int count = Math.Min(Width, ctx.Kg - kb * Width);
                for (int xi = 0; xi < xis; xi++)
                {
                    float* b = (float*)panelBase + ((long)(xi * ctx.Groups + grp) * blocks + kb) * panelFloats;
                    Products(ctx.Tier, v + (long)xi * cg * tiles, tileTable, channelTable, cg, tiles, b, m + (long)xi * tiles * Width, count);
                }
                T.TransformOutput(m, tiles, tileCols, tr0, g.OutH, g.OutW, stage);
                int y0 = tile * tr0, y1 = Math.Min(g.OutH, tile * tr1);
                float* yb = ctx.YPlane(n, grp * ctx.Kg + kb * Width) + (nint)y0 * g.OutW;
                BlockTranspose.ToPlanes(stage, Width, (y1 - y0) * g.OutW, count, yb, ctx.OutPlane, ctx.Bias == null ? null : ctx.Bias + grp * ctx.Kg + kb * Width, ctx.Activation);
            }
        }
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

    /// <summary>M_ξ[tile][0..64] = Σ_c V_ξ[c][tile] · U_ξ[c][0..64] over the task's tiles, six (or twelve for a half block) per kernel call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Products(GemmTier tier, float* v, nint* tileTable, nint* channelTable, int cg, int tiles, float* b, float* m, int count)
    {
        if (tier == GemmTier.Vector256)
        {
            // The k-block sweep (its B block in L1 for every tile, the next one prefetched): F(2x2) on 14 × 14 × 256
            // 1.3× faster than a quarter kernel per six tiles, each reading all of B a quarter row at a time; the same bits.
            ChannelTiledAvx2.Chunk(cg, v, tileTable, channelTable, b, 0, tiles, (count + 15) / 16, m, m, false);
            return;
        }
        bool half = count <= ChannelTileKernels.HalfChannels;
        int most = half ? ChannelTileKernels.MaxHalfPixels : ChannelTileKernels.MaxPixels, calls = (tiles + most - 1) / most;
        for (int i = 0, q = 0; i < calls; i++)
        {
            int r = (int)((long)tiles * (i + 1) / calls) - q;
            var kernel = ChannelTileKernelChoice.For(tier, r, half);
            kernel(cg, v, tileTable + q, channelTable, b, m + (nint)q * Width, Width, false);
            q += r;
        }
    }

    static int Ceil(int a, int b) => (a + b - 1) / b;
}
