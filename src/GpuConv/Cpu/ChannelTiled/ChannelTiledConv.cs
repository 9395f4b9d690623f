using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Shifted;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.ChannelTiled;

/// <summary>
/// Forward convolution as an implicit GEMM with the vectors along output channels ("channel-tiled"):
/// each task computes 64 output channels of a range of output pixels, six pixels per microkernel call
/// (<see cref="ChannelTileKernels"/>), reading the input from x itself (no padding), from a dense
/// subsampled copy (strided 1x1) or from padded phase planes, and the weights from channel panels. Unlike the
/// pixel-vectorized paths no lane is spent on a partial tile of pixels or on the padding columns of
/// the shifted layout — what decides small planes (7 × 7 fills 49 of 64 lanes there). The result is
/// produced pixel-major and transposed into y once per task, with the bias.
/// </summary>
internal static unsafe class ChannelTiledConv
{
    const int Width = ChannelTileKernels.Channels, Tile = ChannelTileKernels.MaxPixels;

    /// <summary>
    /// Most pixels one task holds (its pixel-major result: 256 × 64 floats = 64 KiB, in L2 beside the
    /// weights and input it streams). ResNet-50 at batch 8, two threads: 185 ms in total with 256,
    /// 190 ms with 1024; batch 1 the same with either.
    /// </summary>
    const int MaxTaskPixels = 256;

    /// <summary>
    /// Largest padded (image, group) input a worker pads for itself (1.25 MiB). ResNet-50, two threads:
    /// the 28 × 28 × 256 stride-2 input (0.9 MB as phase planes) ran 0.70 ms padded by each worker and
    /// 0.87 ms padded once and shared; the 56 × 56 × 128 stride-2 one (1.7 MB) 0.85–0.91 and 0.81–0.83.
    /// </summary>
    const long OwnPaddingMaxFloats = 320 * 1024;

    /// <summary>
    /// Largest padded batch (all images) a worker keeps for block-major order: 768K floats, 3 MiB. Every
    /// worker pads the whole batch; ResNet-50's 14 × 14 × 512 stride-2 3x3 at batch 8 (4 MiB of phase
    /// planes) ran 6.0–7.2 ms that way and 5.3–6.0 with whole-image tasks, each image padded once (the
    /// 30 × 30 × 128 batch, 3.6 MiB, the same either way).
    /// </summary>
    const long PaddedBatchMaxFloats = 768 * 1024;

    /// <summary>
    /// Rows of B (channel × tap) per K chunk, about: the chunk's panel (kc × 64 floats, 256 KiB) stays in L2
    /// while every tile of the task streams it. Fewer chunks, fewer passes over the task's result: ResNet-50's
    /// 7 × 7 × 512 3x3 (depth 4608) at batch 1, two threads, ran 0.461 ms (median) with 256 rows, 0.452 with
    /// 1024, 0.455 with 2048 and 0.491 unchunked (1.2 MiB panels, past L2); the channel-tiled layers deeper
    /// than 256 of resnet50 / mobilenet_v2 / efficientnet_b0 / resnet18 ran 1.5–3 % faster, the others the same.
    /// </summary>
    const int ChunkRows = 1024;

    /// <summary>Vector512 (AVX-512) and Vector256 (AVX2 + FMA): the tiers with channel-tile kernels.</summary>
    public static bool Supported(GemmTier tier) => ChannelTileKernelChoice.Supported(tier);

    /// <summary>
    /// Per-thread workspace floats, at most: the task's pixel-major result, and the worker's input copy —
    /// a subsampled (image, group) for a strided 1x1, a padded (image, group), or every padded (image,
    /// group) of a small batch; on the Vector256 tier, where the sum spans K chunks, a later chunk's running sums too.
    /// </summary>
    public static long TaskFloats(ConvGeometry g, int outPlane, int cPerGroup, int outer, bool unpadded, GemmTier tier)
    {
        // + a K chunk's panel, where per-call weights are packed in the tasks.
        int kvol = g.KD * g.KH * g.KW;
        long result = (long)Math.Min(outPlane, MaxTaskPixels) * Width + (long)Math.Min((long)cPerGroup * kvol, ChunkRows + kvol) * Width;
        if (tier == GemmTier.Vector256 && (long)cPerGroup * g.KD * g.KH * g.KW > ChunkRows)
            result *= 2;
        if (unpadded)
            return result + (g.KD * g.KH * g.KW == 1 && g.SD * g.SH * g.SW > 1 ? (long)outPlane * cPerGroup : 0);
        long padded = StridePhaseLayout.Of(g).PlaneFloats * cPerGroup;
        return result + (outer > 1 && padded * outer <= PaddedBatchMaxFloats ? padded * outer : padded);
    }

    /// <summary>
    /// Runs the convolution with <paramref name="panels"/> = the weights packed by <see cref="ChannelPanels"/>, or, where
    /// null (weights that change every call), packed from ctx.W here: by the task that uses a channel block, one K chunk
    /// at a time into its worker's scratch, where each block is used once (one image and one pixel range: the deep
    /// layers of small planes at batch 1), so the panels are read from L2 as they are written instead of going to
    /// memory and back (ResNet-50's 7 × 7 × 512 3x3: 9.4 MB of them); else all at once, before the tasks. Per-call
    /// weights in another layout come through <paramref name="rows"/> (then ctx.W is not read).
    /// </summary>
    public static void Forward(CpuConvContext ctx, float* panels, IPanelRows? rows = null)
    {
        var g = ctx.G;
        // Without padding every read is inside x, which is then read in place; with padding the workers
        // read padded phase planes. A strided 1x1 reads one pixel in four (stride 2): x in place would
        // pull every cache line of it once per channel block, so each worker reads a dense subsampled
        // copy instead (ResNet-50's 56 × 56 × 256 stride-2 1x1 at batch 8: 6.9 ms in place, 5.0 copied).
        bool subsampled = ctx.Problem.Spec.IsUnpadded && ctx.Kvol == 1 && !ctx.Problem.Spec.IsUnitStride;
        bool inPlace = ctx.Problem.Spec.IsUnpadded && !subsampled;
        var l = StridePhaseLayout.Of(g);
        long plane = inPlace ? ctx.InPlane : subsampled ? ctx.OutPlane : l.PlaneFloats;
        int kvol = ctx.Kvol, depth = ctx.Rows, outPlane = (int)ctx.OutPlane, inRows = g.InD * g.InH;
        int blocks = ChannelPanels.Blocks(ctx.Kg);
        int outer = ctx.N * ctx.Groups;
        long want = (long)ConvTiling.TasksPerThread * ctx.Threads;
        var (splits, runCap) = Split(outPlane, outer, blocks, ctx.Kg, ctx.Threads);
        // With images enough for every thread (batches) and an input to pad, a task computes a whole image
        // (every pixel range and channel block), so an image is padded once, by the worker that reads it
        // (ResNet-50's 56 × 56 3x3 at batch 8 split in four pixel ranges padded each image about twice). An input read in place
        // needs no padding: its tasks go block by block instead, every image of a block in turn, so each
        // worker streams a block's weights once per run rather than once per image (ResNet-50's
        // 512 → 2048 1x1 at batch 8: 4 MB of weights per image).
        // A batch of small padded inputs goes block-major like an input read in place, each worker keeping
        // every image it meets padded (ResNet-50's 7 × 7 × 512 3x3 at batch 8: 9.4 MB of weights per image).
        bool paddedBatch = !inPlace && !subsampled && outer > 1 && (long)outer * ctx.Cg * l.PlaneFloats <= PaddedBatchMaxFloats;
        bool wholeImages = !inPlace && !paddedBatch && outer >= want;
        // Each worker pads its own copy when tasks take whole images or the input is small; a large input
        // split between workers (batch 1) is padded once, shared. Before the tables: padding uses the Tables slot.
        bool ownPadding = !inPlace && (subsampled || paddedBatch || wholeImages || l.PlaneFloats * ctx.Cg <= OwnPaddingMaxFloats);
        nint sharedPadded = inPlace || ownPadding ? 0 : (nint)ShiftedGemm.PadInput(ctx, l);

        // Tables: tap offsets, then (8-byte aligned) the row offsets of B, each output pixel's base, and
        // where each input row starts in the padded planes.
        int evenTaps = (kvol + 1) & ~1;
        float* tables = ctx.Shared.Get(WorkspaceSlot.Tables, evenTaps + 2L * depth + 2L * (outPlane + Tile) + 2L * inRows);
        int* taps = (int*)tables;
        if (inPlace) WriteTapOffsetsInX(g, taps); else if (subsampled) taps[0] = 0; else l.WriteTapOffsets(g, taps);
        nint* offsets = (nint*)(tables + evenTaps);
        nint* pixels = offsets + depth;
        nint* rowStarts = pixels + outPlane + Tile;
        if (!inPlace && !subsampled) ShiftedGemm.WriteRowStarts(g, l, rowStarts);
        long stamp = WorkspaceSet.NextRunStamp();
        // Tables are rewritten only where they change: the other workers read them, and a rewrite of the
        // same values would still pull every line away from their caches.
        for (int p = 0, c = 0; c < ctx.Cg; c++)
            for (int t = 0; t < kvol; t++) Tables.Set(offsets + p++, (nint)c * (nint)plane + taps[t]);
        for (int i = 0, od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++, i++)
                    Tables.Set(pixels + i, inPlace ? ((nint)od * g.SD * g.InH + oh * g.SH) * g.InW + ow * g.SW
                        : subsampled ? i : ((nint)od * l.Hq + oh) * l.Lq + ow);

        int chunks = Math.Max(1, Ceil(depth, ChunkRows));
        int chunkChannels = Ceil(ctx.Cg, chunks);
        long panelFloats = (long)Width * depth;
        bool packInTasks = panels == null && (long)outer * splits == 1;
        if (panels == null && !packInTasks)
        {
            panels = ctx.Shared.Get(WorkspaceSlot.PackB, ChannelPanels.Floats(ctx.Groups, ctx.Kg, depth));
            if (rows == null) ChannelPanels.PackAll(ctx.Workers, ctx.W, ctx.Groups, ctx.Kg, depth, panels);
            else ctx.Workers.For(ctx.Groups * blocks, new PanelsFromRows(rows, blocks, ctx.Kg, depth, (nint)panels));
        }
        // Packing in the tasks (one image, one group): "panels" are W's rows, block kb's 64 of them kb · 64 · depth floats
        // in, where its panel would start.
        nint pixelTable = (nint)pixels, offsetTable = (nint)offsets, panelBase = (nint)(packInTasks ? ctx.W : panels), starts = (nint)rowStarts;

        if (inPlace || paddedBatch)
        {
            // Units (channel block, image, pixel range) in block-major order, handed out as contiguous runs:
            // a worker streams each block's weights once for all the images of its run, and a few large tasks
            // cost fewer claims than many small ones (one per block and image would be 256 at batch 8).
            int units = blocks * outer * splits;
            int tasks = Math.Min(units, runCap);
            ctx.Workers.For(tasks, new BlockMajorRuns(ctx, l, units, tasks, splits, outer, blocks, outPlane, inPlace, starts, stamp, panelBase, panelFloats, pixelTable, offsetTable, chunkChannels, packInTasks, rows));
            return;
        }
        ctx.Workers.For(wholeImages ? outer : outer * blocks * splits, new ImageTasks(ctx, l, wholeImages, splits, blocks, ownPadding, subsampled, sharedPadded, outPlane, starts, stamp, panelBase, panelFloats, pixelTable, offsetTable, chunkChannels, packInTasks, rows));
    }

    /// <summary>
    /// How many pixel ranges each (image, group, channel block) is cut into, and at most how many block-major runs
    /// hand the units out: ranges enough for <see cref="ConvTiling.TasksPerThread"/> units a thread, none over
    /// <see cref="MaxTaskPixels"/> (about), no more than 8-tile pieces of the plane would make, and 4 runs a thread.
    /// On more than one thread a layer of few units (under 6 a thread) that do not share evenly — a count not a
    /// multiple of the threads, or a last block of fewer than 64 channels, which costs about half as much — is cut
    /// finer, to about 8 units a thread (no more ranges than 4-tile pieces make), each a run of its own, so the thread
    /// done first takes over the other's. Before, 5 units on two threads ran 3 on one and 2 on the other, and with
    /// K = 96 the thread owning the 64-channel block ran twice the other's work: MobileNetV2's 960 → 320 and 576 → 96
    /// projections ran only 1.38–1.64× faster on two threads than on one (the network 1.3–2.8 % faster at two
    /// threads with this cut). One thread: unchanged.
    /// </summary>
    internal static (int Splits, int RunCap) Split(int outPlane, int outer, int blocks, int kPerGroup, int threads)
    {
        long want = (long)ConvTiling.TasksPerThread * threads;
        int splits = Ranges(outPlane, outer, blocks, want, 8);
        long units = (long)outer * blocks * splits;
        bool uneven = units % threads != 0 || (blocks > 1 && kPerGroup % Width != 0);
        if (threads > 1 && uneven && units < 6L * threads)
            return (Ranges(outPlane, outer, blocks, 8L * threads, 4), 8 * threads);
        return (splits, 2 * ConvTiling.TasksPerThread * threads);
    }

    /// <summary>
    /// Pixel ranges for about <paramref name="units"/> units over the (image, group, block)s: no more than
    /// <paramref name="minTiles"/>-tile pieces of the plane make, enough to keep each at about MaxTaskPixels, and no more
    /// than ranges of whole tiles need.
    /// </summary>
    static int Ranges(int outPlane, int outer, int blocks, long units, int minTiles)
    {
        int splits = (int)Math.Max(Ceil(outPlane, MaxTaskPixels), Math.Min(Ceil(units, (long)outer * blocks), Ceil(outPlane, minTiles * Tile)));
        return Ceil(outPlane, Ceil(Ceil(outPlane, splits), Tile) * Tile);
    }

    /// <summary>
    /// Where pixel range <paramref name="s"/> of <paramref name="splits"/> starts: whole tiles shared out evenly (the
    /// last range ends at <paramref name="outPlane"/>), so ranges differ by a tile at most — 196 pixels in four run
    /// 48, 48, 48, 52, not 54, 54, 54, 34.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RangeStart(int s, int splits, int outPlane) =>
        s >= splits ? outPlane : (int)((long)Ceil(outPlane, Tile) * s / splits) * Tile;

    /// <summary>One (image, group) with every pixel range and channel block, or one (image, group, block, pixel range).</summary>
    readonly struct ImageTasks(CpuConvContext ctx, StridePhaseLayout l, bool wholeImages, int splits, int blocks, bool ownPadding, bool subsampled, nint sharedPadded, int outPlane, nint starts, long stamp, nint panelBase, long panelFloats, nint pixelTable, nint offsetTable, int chunkChannels, bool packInTasks, IPanelRows? rows) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int s0 = 0, s1 = splits, kb0 = 0, kb1 = blocks;
            if (!wholeImages)
            {
                s0 = t % splits; s1 = s0 + 1; t /= splits;
                kb0 = t % blocks; kb1 = kb0 + 1; t /= blocks;
            }
            int grp = t % ctx.Groups, n = t / ctx.Groups;
            float* a = ownPadding ? OwnInput(ctx, l, (nint*)starts, subsampled, n * ctx.Groups + grp, 0, 1, stamp, ws)
                : (float*)sharedPadded + ((nint)n * ctx.C + grp * ctx.Cg) * (nint)l.PlaneFloats;
            for (int s = s0; s < s1; s++)
            {
                int q0 = RangeStart(s, splits, outPlane), q1 = RangeStart(s + 1, splits, outPlane);
                float* result = ws.Get(WorkspaceSlot.Columns, (long)(q1 - q0) * Width);
                for (int kb = kb0; kb < kb1; kb++)
                    Block(ctx, a, (float*)panelBase + (grp * blocks + kb) * panelFloats, (nint*)pixelTable, (nint*)offsetTable,
                        chunkChannels, q0, q1, result, n, grp * ctx.Kg + kb * Width, Math.Min(Width, ctx.Kg - kb * Width), packInTasks, rows, ws);
            }
        }
    }

    /// <summary>Block-major runs of (channel block, image, pixel range) units over x in place or a padded batch.</summary>
    readonly struct BlockMajorRuns(CpuConvContext ctx, StridePhaseLayout l, int units, int tasks, int splits, int outer, int blocks, int outPlane, bool inPlace, nint starts, long stamp, nint panelBase, long panelFloats, nint pixelTable, nint offsetTable, int chunkChannels, bool packInTasks, IPanelRows? rows) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            for (int u = u0; u < u1; u++)
            {
                int s = u % splits, o = u / splits % outer, kb = u / splits / outer;
                int grp = o % ctx.Groups, n = o / ctx.Groups;
                int q0 = RangeStart(s, splits, outPlane), q1 = RangeStart(s + 1, splits, outPlane);
                float* result = ws.Get(WorkspaceSlot.Columns, (long)(q1 - q0) * Width);
                float* a = inPlace ? ctx.XPlane(n, grp * ctx.Cg) : OwnInput(ctx, l, (nint*)starts, false, o, o, outer, stamp, ws);
                Block(ctx, a, (float*)panelBase + (grp * blocks + kb) * panelFloats, (nint*)pixelTable, (nint*)offsetTable,
                    chunkChannels, q0, q1, result, n, grp * ctx.Kg + kb * Width, Math.Min(Width, ctx.Kg - kb * Width), packInTasks, rows, ws);
            }
        }
    }

    /// <summary>Every panel, each whole, through <see cref="IPanelRows"/>: one task per (group, block).</summary>
    readonly struct PanelsFromRows(IPanelRows rows, int blocks, int kPerGroup, int depth, nint panels) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int i, WorkspaceSet ws) => rows.Write(i / blocks, i % blocks, Math.Min(Width, kPerGroup - i % blocks * Width), 0, depth,
            (float*)panels + (nint)i * Width * depth, ws);
    }

    /// <summary>
    /// One channel block of pixels [q0, q1): the chunked microkernel calls into the pixel-major result,
    /// then its transpose into the y planes of channels k0.. k0 + count, with the bias. On the Vector256 tier each chunk
    /// is swept in k-blocks (<see cref="ChannelTiledAvx2"/>; a later chunk's running sums in the worker's PackA slot).
    /// With <paramref name="pack"/>, each chunk's panel is packed into the worker's PackB slot first: by
    /// <paramref name="rows"/> where given, else from W, whose block's first row <paramref name="b"/> then is.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block(CpuConvContext ctx, float* a, float* b, nint* pixelTable, nint* offsetTable, int chunkChannels,
        int q0, int q1, float* result, int n, int k0, int count, bool pack, IPanelRows? rows, WorkspaceSet ws)
    {
        // A block of at most 32 channels (the last of K = 96 or 160) runs half tiles: 12 pixels × 32 channels.
        bool half = count <= ChannelTileKernels.HalfChannels;
        int kvol = ctx.Kvol, pixels = q1 - q0, tiles = Ceil(pixels, half ? ChannelTileKernels.MaxHalfPixels : Tile);
        for (int c0 = 0; c0 < ctx.Cg; c0 += chunkChannels)
        {
            int pc = c0 * kvol, kc = Math.Min(chunkChannels, ctx.Cg - c0) * kvol;
            bool add = c0 > 0;
            float* panel = b + (nint)pc * Width;
            if (pack)
            {
                // Rows pc … pc + kc of the block's panel (ChannelPanels' layout): W's rows transposed, lanes past count zero.
                panel = ws.Get(WorkspaceSlot.PackB, (long)kc * Width);
                if (rows != null)
                {
                    int grp = k0 / ctx.Kg;
                    rows.Write(grp, (k0 - grp * ctx.Kg) / Width, count, pc, kc, panel, ws);
                }
                else ChannelPanels.PackBlock(b + pc, ctx.Rows, count, kc, panel);
            }
            if (ctx.Tier == GemmTier.Vector256)
            {
                float* sums = add ? ws.Get(WorkspaceSlot.PackA, (long)(q1 - q0) * Width) : result;
                ChannelTiledAvx2.Chunk(kc, a, pixelTable, offsetTable + pc, panel, q0, q1,
                    (count + 15) / 16, result, sums, add);
                continue;
            }
            // Tiles of near-equal size (49 pixels: 5 × 5 + 4 × 6, not 8 × 6 + 1): a 1-pixel tile's four
            // accumulators wait on FMA latency (one 7 × 7 × 512 → 64 block: 218 → 229 GFLOP/s on one core).
            for (int i = 0, q = q0; i < tiles; i++)
            {
                int r = q0 + (int)((long)pixels * (i + 1) / tiles) - q;
                var kernel = ChannelTileKernelChoice.For(ctx.Tier, r, half);
                kernel(kc, a, pixelTable + q, offsetTable + pc, panel, result + (nint)(q - q0) * Width, Width, add);
                q += r;
            }
        }
        BlockTranspose.ToPlanes(result, Width, q1 - q0, count, ctx.YPlane(n, k0) + q0, ctx.OutPlane, ctx.Bias == null ? null : ctx.Bias + k0, ctx.Activation);
    }

    /// <summary>Each tap's offset from an output's first input element, in x itself (taps in d, h, w order).</summary>
    static void WriteTapOffsetsInX(in ConvGeometry g, int* taps)
    {
        int t = 0;
        for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
                for (int tw = 0; tw < g.KW; tw++)
                    taps[t++] = checked(((td * g.DD) * g.InH + th * g.DH) * g.InW + tw * g.DW);
    }

    /// <summary>
    /// This worker's own copy of the input of (image, group) <paramref name="o"/> — its padded phase planes,
    /// or for a strided 1x1 the dense planes of the pixels it reads — in part <paramref name="slot"/> of
    /// <paramref name="slots"/> of the worker's buffer (one part, or one per (image, group) of a small
    /// batch). Made by the first of the worker's tasks that needs it in this run. Each worker copies what
    /// it reads rather than all sharing one copy: on two cores, reading planes the other core just wrote
    /// cost more than writing them again (a 7 × 7 × 512 input: shared, parallel pad 0.05 ms; own 0.02 ms).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float* OwnInput(CpuConvContext ctx, in StridePhaseLayout l, nint* rowStarts, bool subsampled,
        int o, int slot, int slots, long stamp, WorkspaceSet ws)
    {
        long floats = (subsampled ? ctx.OutPlane : l.PlaneFloats) * ctx.Cg;
        float* dst = ws.RowsPart(stamp, o, slot, slots, floats, out bool holds);
        if (!holds)
        {
            int p0 = o / ctx.Groups * ctx.C + o % ctx.Groups * ctx.Cg;
            if (subsampled) Subsample(ctx, p0, dst);
            else ShiftedGemm.PadPlanes(ctx, l, rowStarts, p0, p0 + ctx.Cg, dst);
        }
        return dst;
    }

    /// <summary>The input pixels a strided 1x1 reads from the group's planes starting at x plane <paramref name="p0"/>, as dense planes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Subsample(CpuConvContext ctx, int p0, float* dst)
    {
        var g = ctx.G;
        for (int c = 0; c < ctx.Cg; c++)
        {
            float* x = ctx.X + (p0 + c) * ctx.InPlane;
            for (int od = 0; od < g.OutD; od++)
                for (int oh = 0; oh < g.OutH; oh++, dst += g.OutW)
                {
                    float* row = x + ((nint)od * g.SD * g.InH + oh * g.SH) * g.InW;
                    if (g.SW == 2) VectorOps.GatherStride2(row, dst, g.OutW, row + g.InW);
                    else for (int ow = 0; ow < g.OutW; ow++) dst[ow] = row[(nint)ow * g.SW];
                }
        }
    }

    static int Ceil(int a, int b) => (a + b - 1) / b;
    static int Ceil(long a, long b) => (int)((a + b - 1) / b);
}
