using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Threading;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Shifted;

/// <summary>
/// Forward convolution for shallow sums over large planes (the 7x7/2 stem: 3 channels × 49 taps):
/// shifted-gemm's zero-padded, stride-phase-split input read in place at each tap's offset, but tiled
/// by output rows — a tile is up to 12 output channels × 32 pixels of one output row — so the
/// microkernel stores its tile straight into y with the bias added (<see cref="RowTileKernels"/>).
/// Shifted-gemm computes 64 × ~1 800 tiles over the phase width into scratch and copies the valid
/// columns out; with a depth this small that copy is a large share of the work. The whole depth is one
/// pass (no K chunks, so nothing is accumulated in y), which bounds it to <see cref="MaxDepth"/>.
/// For 2-d problems each task pads only the phase rows its output rows read, into its own buffer
/// (<see cref="PhaseWindowPad"/>); 3-d ones pad the whole input first, as shifted-gemm does.
/// The weights are read in place, row-major. Vector512 (12 × 32 tiles, <see cref="RowTileKernels"/>) and Vector256 with
/// FMA (6 × 16 tiles, <see cref="RowTileKernels256"/>; ShiftedDirect.Avx2.cs); both store a row's last tile masked.
/// </summary>
internal static unsafe partial class ShiftedDirect
{
    /// <summary>Largest C/g × taps taken: one K pass, its B rows (a few lines per tap) stay in L1.</summary>
    public const int MaxDepth = 256;

    /// <summary>Narrowest output row taken: below 16 pixels a 16-wide tile is mostly masked lanes.</summary>
    public const int MinOutW = 16;

    public static bool Applies(in Geometry g, int depth, GemmTier tier) =>
        ((tier == GemmTier.Vector512 && Avx512F.IsSupported) || (tier == GemmTier.Vector256 && Avx2Kernels))
        && depth <= MaxDepth && g.OutW >= MinOutW;

    /// <summary>Floats shared by the run's tasks: the B row offsets and the bias, and for 3-d the padded input.</summary>
    public static long SharedFloats(in Geometry g, int n, int c, int depth, int k)
    {
        long tables = 2L * depth + g.KD * g.KH * g.KW + 2 + k + EdgeRows;
        return Windowed(g) ? tables : Math.Max(ShiftedGemm.SharedFloats(g, n, c), StridePhaseLayout.Of(g).PlaneFloats * n * c + ShiftedGemm.ReadSlack + tables);
    }

    /// <summary>Floats one task holds: the zero-padded edge rows of A and their output tile, and for 2-d its padded window.</summary>
    public static long TaskFloats(in Geometry g, int n, int groups, int cg, int depth, int threads)
    {
        long edge = (long)EdgeRows * depth + EdgeRows * Width;
        if (!Windowed(g)) return edge;
        int units = n * groups * g.OutD * g.OutH;
        return edge + cg * WindowLayout(g, StridePhaseLayout.Of(g), units, Tasks(units, threads)).PlaneFloats + ShiftedGemm.ReadSlack;
    }

    const int Width = 32, EdgeRows = 8;

    public static void Forward(CpuConvContext ctx)
    {
        var g = ctx.G;
        var l = StridePhaseLayout.Of(g);
        int kvol = ctx.Kvol, depth = ctx.Rows, kg = ctx.Kg;
        int outRows = g.OutD * g.OutH;
        int units = ctx.N * ctx.Groups * outRows;
        int tasks = Tasks(units, ctx.Threads);
        bool windows = Windowed(g);
        // Windowed (2-d): each task pads the phase rows its output rows read into its own buffer, in
        // cache when the kernel reads it, and no separate pass; else the whole input once, shared.
        var wl = windows ? WindowLayout(g, l, units, tasks) : l;
        float* padded = windows ? null : ShiftedGemm.PadInput(ctx, l);
        int ext = (g.KH - 1) * g.DH / g.SH;
        // (3-d) The Tables slot held PadInput's row starts; it is free again now that the padding is done.
        int evenTaps = (kvol + 1) & ~1;
        float* tables = ctx.Shared.Get(WorkspaceSlot.Tables, 2L * depth + evenTaps + ctx.K + EdgeRows);
        nint* offsets = (nint*)tables;
        int* taps = (int*)(tables + 2L * depth);
        float* bias = tables + 2L * depth + evenTaps;
        wl.WriteTapOffsets(g, taps);
        for (int p = 0, c = 0; c < ctx.Cg; c++)
            for (int t = 0; t < kvol; t++) Tables.Set(offsets + p++, (nint)c * (nint)wl.PlaneFloats + taps[t]);
        // Bias padded with zeros so an edge tile may read a whole tile's worth.
        var biasSpan = new Span<float>(bias, ctx.K + EdgeRows);
        biasSpan.Clear();
        if (ctx.Bias != null) new ReadOnlySpan<float>(ctx.Bias, ctx.K).CopyTo(biasSpan);

        long windowFloats = ctx.Cg * wl.PlaneFloats;
        nint paddedBase = (nint)padded, offsetTable = (nint)offsets, biasBase = (nint)bias;
        ctx.Workers.For(tasks, new RowRuns(ctx, g, l, wl, units, tasks, outRows, windows, windowFloats, ext, paddedBase, kg, depth, offsetTable, biasBase));
    }

    /// <summary>Ranges of (image, group, output row) units: each row a run of tiles straight into y.</summary>
    readonly struct RowRuns(CpuConvContext ctx, Geometry g, StridePhaseLayout l, StridePhaseLayout wl, int units, int tasks, int outRows, bool windows, long windowFloats, int ext, nint paddedBase, int kg, int depth, nint offsetTable, nint biasBase) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            float* edgeA = null, edgeC = null, window = null;
            int r0 = 0;
            // ReLU and ReLU6 go into the tiles' stores; the others (SiLU, hardswish, ...) over runs of the unit's rows while
            // they are in cache: row by row, a stem's 112-wide rows paid the loop's set-up 32 times per row (SiLU 1.6× its own pass).
            var activated = new ActivationRuns(CpuActivation.InLanes(ctx.Activation) ? Activation.Identity : ctx.Activation, kg, ctx.OutPlane);
            for (int u = u0; u < u1; u++)
            {
                int row = u % outRows, ng = u / outRows, n = ng / ctx.Groups, grp = ng % ctx.Groups;
                int od = row / g.OutH, oh = row - od * g.OutH;
                float* b;
                if (windows)
                {
                    if (u == u0 || row == 0)
                    {
                        // A new run of rows of one (image, group): pad the phase rows it reads.
                        if (window == null)
                        {
                            window = ws.Get(WorkspaceSlot.Columns, windowFloats + ShiftedGemm.ReadSlack);
                            new Span<float>(window + windowFloats, ShiftedGemm.ReadSlack).Clear();
                        }
                        r0 = row;
                        int rows = Math.Min(outRows - row, u1 - u) + ext;
                        for (int c = 0; c < ctx.Cg; c++)
                            PhaseWindowPad.Window(g, wl, r0, rows, ctx.XPlane(n, grp * ctx.Cg + c), window + c * wl.PlaneFloats);
                    }
                    b = window + (nint)(row - r0) * l.Lq;
                }
                else
                {
                    b = (float*)paddedBase + ((nint)n * ctx.C + grp * ctx.Cg) * l.PlaneFloats + ((nint)od * l.Hq + oh) * l.Lq;
                }
                int k0 = grp * kg;
                float* w = ctx.W + (nint)k0 * depth;
                float* y = ctx.YPlane(n, k0) + (nint)row * g.OutW;
                float* bs = (float*)biasBase + k0;
                if (ctx.Tier == GemmTier.Vector256)
                    RowTiles256(ws, depth, kg, w, b, (nint*)offsetTable, y, ctx.OutPlane, bs, g.OutW, ctx.Activation, ref edgeA, ref edgeC);
                else
                {
                    for (int i0 = 0; i0 < kg;)
                    {
                        int left = kg - i0, mr = TileRows(left);
                        if (mr == 0)
                        {
                            if (edgeA == null)
                            {
                                edgeA = ws.Get(WorkspaceSlot.PackA, (long)EdgeRows * depth);
                                edgeC = ws.Get(WorkspaceSlot.PackB, EdgeRows * Width);
                                new Span<float>(edgeA, EdgeRows * depth).Clear();
                            }
                            // Every unit: the rows belong to this unit's group.
                            new Span<float>(w + (nint)i0 * depth, left * depth).CopyTo(new Span<float>(edgeA, left * depth));
                            EdgeTile(ctx, depth, left, edgeA, edgeC, b, (nint*)offsetTable, y + (nint)i0 * ctx.OutPlane, bs + i0, g.OutW, ctx.Activation);
                            break;
                        }
                        RowTiles(mr, depth, w + (nint)i0 * depth, b, (nint*)offsetTable, y + (nint)i0 * ctx.OutPlane, ctx.OutPlane, bs + i0, g.OutW, ctx.Activation);
                        i0 += mr;
                    }
                }
                activated.Add(y, g.OutW);
            }
            activated.Flush();
        }
    }

    static int Tasks(int units, int threads) => Math.Min(units, threads * ConvTiling.TasksPerThread * 2);

    /// <summary>2-d problems pad per task (<see cref="PhaseWindowPad.Window"/>).</summary>
    static bool Windowed(in Geometry g) => PhaseWindowPad.Applies(g);

    /// <summary>The layout of one task's window: the full layout's rows and phases, cut to the phase rows of its longest run of output rows.</summary>
    static StridePhaseLayout WindowLayout(in Geometry g, in StridePhaseLayout l, int units, int tasks)
    {
        int hq = (units + tasks - 1) / tasks + (g.KH - 1) * g.DH / g.SH;
        long phase = (long)hq * l.Lq;
        return l with { Dq = 1, Hq = hq, PhaseFloats = phase, PlaneFloats = phase * g.SH * g.SW };
    }

    /// <summary>
    /// Rows of the next channel tile when <paramref name="left"/> channels remain: 12 and 8 so that a
    /// multiple of 4 splits without padding (64 = 8 + 4 × 12 + 8), 0 for a last one below 8.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int TileRows(int left) =>
        left == 8 || left == 16 || (left % 12 == 4 && left > 12) ? 8
        : left >= 12 ? 12
        : left >= 8 ? 8
        : 0;

    /// <summary>One row of output pixels for <paramref name="mr"/> (12 or 8) channels, in tiles of 32 pixels (16 for a short last one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowTiles(int mr, int depth, float* w, float* b, nint* offsets, float* y, nint ldy, float* bias, int outW, Activation act)
    {
        switch (act)
        {
            case Activation.Relu: RowTiles<ReluLanes>(mr, depth, w, b, offsets, y, ldy, bias, outW); break;
            case Activation.Relu6: RowTiles<Relu6Lanes>(mr, depth, w, b, offsets, y, ldy, bias, outW); break;
            default: RowTiles<NoActivation>(mr, depth, w, b, offsets, y, ldy, bias, outW); break;
        }
    }

    /// <summary>As above, with <typeparamref name="TAct"/> applied in the tiles' stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowTiles<TAct>(int mr, int depth, float* w, float* b, nint* offsets, float* y, nint ldy, float* bias, int outW) where TAct : struct, IActivationLanes
    {
        for (int j0 = 0; j0 < outW; j0 += Width)
        {
            int cols = Math.Min(Width, outW - j0);
            if (mr == 12)
            {
                if (cols > 16) RowTileKernels.Tile12x32<TAct>(depth, w, depth, b + j0, offsets, y + j0, ldy, bias, cols);
                else RowTileKernels.Tile12x16<TAct>(depth, w, depth, b + j0, offsets, y + j0, ldy, bias, cols);
            }
            else
            {
                if (cols > 16) RowTileKernels.Tile8x32<TAct>(depth, w, depth, b + j0, offsets, y + j0, ldy, bias, cols);
                else RowTileKernels.Tile8x16<TAct>(depth, w, depth, b + j0, offsets, y + j0, ldy, bias, cols);
            }
        }
    }

    /// <summary>The last &lt; 8 channels: an 8-row tile from zero-padded weights into scratch, its valid rows copied to y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EdgeTile(CpuConvContext ctx, int depth, int rows, float* edgeA, float* edgeC, float* b, nint* offsets, float* y, float* bias, int outW, Activation act)
    {
        switch (act)
        {
            case Activation.Relu: EdgeTile<ReluLanes>(ctx, depth, rows, edgeA, edgeC, b, offsets, y, bias, outW); break;
            case Activation.Relu6: EdgeTile<Relu6Lanes>(ctx, depth, rows, edgeA, edgeC, b, offsets, y, bias, outW); break;
            default: EdgeTile<NoActivation>(ctx, depth, rows, edgeA, edgeC, b, offsets, y, bias, outW); break;
        }
    }

    /// <summary>As above, with <typeparamref name="TAct"/> applied in the tile's stores (to scratch; the valid rows are copied as they are).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EdgeTile<TAct>(CpuConvContext ctx, int depth, int rows, float* edgeA, float* edgeC, float* b, nint* offsets, float* y, float* bias, int outW) where TAct : struct, IActivationLanes
    {
        for (int j0 = 0; j0 < outW; j0 += Width)
        {
            int cols = Math.Min(Width, outW - j0);
            RowTileKernels.Tile8x32<TAct>(depth, edgeA, depth, b + j0, offsets, edgeC, Width, bias, cols);
            for (int i = 0; i < rows; i++)
                Buffer.MemoryCopy(edgeC + i * Width, y + i * ctx.OutPlane + j0, cols * sizeof(float), cols * sizeof(float));
        }
    }
}
