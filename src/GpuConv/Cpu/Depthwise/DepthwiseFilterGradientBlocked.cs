using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Backward-filter of a depthwise convolution (one filter per channel) on small planes, 16 channels at a
/// time: per image, the 16 channels' x (zero-padded) and dy go channel-last into scratch
/// ([position][16 channels], the layout of <see cref="DepthwiseBlocked"/>) by <see cref="ChannelLastScatter"/>,
/// each pixel straight to its place (the pads zeroed once per task: a dense transpose, a copy into the
/// padded plane and its clearing per image had cost 25–45 % of the time), and every output position adds
/// dy · x at each tap's input position into one Vector512 accumulator per tap (up to 13 taps per pass), so
/// each lane is one channel's sum with no per-plane setup and no masked row ends. On 7 × 7 planes the
/// per-channel kernel (<see cref="DepthwiseFilterGradient"/>) spent most of its time on setting up each
/// plane, and ran 3.5–4.2× the forward.
/// Work units are (channel block, image); each image's float32 vector sums are stored, then added in image
/// order into float64 totals, as the per-channel kernel does: the result does not depend on the thread count.
/// With one image its float32 sums go straight to dW (the same bits; no second pass over the blocks).
/// AVX-512 only (the Vector512 tier); other tiers, channel multipliers above 1 and the channels past the
/// last whole 16 run per channel.
/// </summary>
internal static unsafe class DepthwiseFilterGradientBlocked
{
    public const int Lanes = 16;

    /// <summary>Accumulators per pass over the positions: 13 of the 32 vector registers, the rest for dy and loads.</summary>
    const int MaxChunk = 13;

    /// <summary>
    /// Input planes of at most 1024 positions (MobileNetV2's 7 × 7, 14 × 14, 28 × 28 → 14 × 14), one filter
    /// per channel, at least one whole block, on the Vector512 tier. Against the per-channel kernel (2 threads,
    /// AVX-512, medians; docs/benchmarks.md), batch 8 / batch 1: 7 × 7 × 960 3x3 0.106 ms from 0.261 / 0.019
    /// from 0.047; 14 × 14 × 576 3x3 0.216 from 0.369 / 0.026 from 0.059; 28 × 28 → 14 × 14 × 144 3x3/2 0.138
    /// from 0.253 / 0.018 from 0.042 (then 1.2–1.9× faster again with <see cref="ChannelLastScatter"/>;
    /// docs/benchmarks.md, 2026-12-05 late). Larger planes (56 × 56 × 144, with or without stride) are not measured
    /// here and stay per channel, where batch 8 at stride 1 already runs at 0.7–0.9× the forward.
    /// </summary>
    public static bool Applies(in Geometry g, int multiplier, int channels, GemmTier tier) =>
        tier == GemmTier.Vector512 && Avx512F.IsSupported && multiplier == 1 && channels >= Lanes &&
        (long)g.InD * g.InH * g.InW <= 1024;

    /// <summary>
    /// Per-worker scratch floats: padded channel-last x, channel-last dy, a trash vector for input pixels no
    /// output reads, then (as ints) each input pixel's and each output position's place in them.
    /// </summary>
    public static long ScratchFloats(in Geometry g)
    {
        var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
        long inPlane = (long)g.InD * g.InH * g.InW, outPlane = (long)g.OutD * g.OutH * g.OutW;
        return ((long)dp * hp * wp + outPlane + 1) * Lanes + inPlane + outPlane;
    }

    /// <summary>Shared floats: every (block, image)'s per-tap vector sums.</summary>
    public static long SharedFloats(in Geometry g, int n, int channels) => (long)n * (channels / Lanes * Lanes) * g.KD * g.KH * g.KW;

    /// <summary>Fills dW of channels 0 … 16·⌊C/16⌋ − 1; returns how many channels it covered.</summary>
    public static int Run(CpuConvContext ctx)
    {
        var g = ctx.G;
        int blocks = ctx.C / Lanes, kvol = ctx.Kvol, images = ctx.N;
        int units = blocks * images;
        long scratchFloats = ScratchFloats(g);
        // partials[(block · N + n) · kvol · 16 + tap · 16 + lane]
        float* partials = ctx.Shared.Get(WorkspaceSlot.PackB, SharedFloats(g, images, ctx.C));
        // Few tasks: each clears its padded x and builds its tables once (Prepare), which cost as much as an
        // image's scatter on 28 × 28 planes. MobileNetV2 at batch 1, 2 threads, old (8 per thread) / new:
        // 192 × 28 × 28 1.8, its stride-2 version 1.3, 14 × 14 × 384 / 576 1.1–1.2; batch 8 1.0–1.3.
        int tasks = Math.Min(units, ctx.Threads * ConvTiling.TasksPerThread);
        ctx.Workers.For(tasks, new ImageSums(ctx, g, partials, units, tasks, images, kvol, scratchFloats));
        if (images == 1) return blocks * Lanes;
        // Totals in image order (float64), then the transpose into dW[c, tap].
        int sumTasks = Math.Min(blocks, ctx.Threads * 8);
        ctx.Workers.For(sumTasks, new BlockTotals(ctx, partials, blocks, sumTasks, images, kvol));
        return blocks * Lanes;
    }

    /// <summary>Ranges of blocks: the images' sums in order in float64, into dW[c, tap].</summary>
    readonly struct BlockTotals(CpuConvContext ctx, float* partials, int blocks, int sumTasks, int images, int kvol) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int b0 = (int)((long)blocks * t / sumTasks), b1 = (int)((long)blocks * (t + 1) / sumTasks);
            for (int b = b0; b < b1; b++)
            {
                float* first = partials + (nint)b * images * kvol * Lanes;
                float* dw = ctx.W + (nint)b * Lanes * kvol;
                for (int tap = 0; tap < kvol; tap++)
                {
                    var lo = Vector512<double>.Zero; var hi = lo;
                    for (int n = 0; n < images; n++)
                    {
                        var s = Vector512.Load(first + ((nint)n * kvol + tap) * Lanes);
                        lo += Vector512.WidenLower(s);
                        hi += Vector512.WidenUpper(s);
                    }
                    var f = Vector512.Narrow(lo, hi);
                    for (int c = 0; c < Lanes; c++) dw[c * kvol + tap] = f.GetElement(c);
                }
            }
        }
    }

    /// <summary>Ranges of (block of 16 channels, image) units: each image's per-tap sums, channel-last.</summary>
    readonly struct ImageSums(CpuConvContext ctx, Geometry g, float* partials, int units, int tasks, int images, int kvol, long scratchFloats) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            float* scratch = ws.Get(WorkspaceSlot.Rows, scratchFloats);
            var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
            nint inPlane = (nint)g.InD * g.InH * g.InW, outPlane = (nint)g.OutD * g.OutH * g.OutW;
            float* xb = scratch, dyb = xb + (nint)dp * hp * wp * Lanes, trash = dyb + outPlane * Lanes;
            int* xAt = (int*)(trash + Lanes), dyAt = xAt + inPlane;
            Prepare(g, xb, (int)(trash - xb), xAt, dyAt);
            for (int u = u0; u < u1; u++)
            {
                int b = u / images, n = u % images;
                float* sums = partials + (nint)u * kvol * Lanes;
                Image(g, ctx.XPlane(n, b * Lanes), ctx.YPlane(n, b * Lanes), xb, dyb, xAt, dyAt, sums);
                // One image: its float32 sums are the totals (the float64 pass would give the same bits).
                if (images == 1)
                {
                    float* dw = ctx.W + (nint)b * Lanes * kvol;
                    for (int tap = 0; tap < kvol; tap++)
                        for (int c = 0; c < Lanes; c++) dw[c * kvol + tap] = sums[tap * Lanes + c];
                }
            }
        }
    }

    /// <summary>
    /// Once per task: zeroes the padded x (its pads are never written after) and fills where each input
    /// pixel's and each output position's 16-channel vector goes (x: inside the pads, or onto the trash
    /// vector when no output reads it; dy: densely).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Prepare(in Geometry g, float* xb, int trashAt, int* xAt, int* dyAt)
    {
        var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
        new Span<float>(xb, dp * hp * wp * Lanes).Clear();
        int i = 0;
        for (int id = 0; id < g.InD; id++)
            for (int ih = 0; ih < g.InH; ih++)
                for (int iw = 0; iw < g.InW; iw++, i++)
                {
                    int pd = id + g.PD, ph = ih + g.PH, pw = iw + g.PW;
                    xAt[i] = pd < dp && ph < hp && pw < wp ? ((pd * hp + ph) * wp + pw) * Lanes : trashAt;
                }
        int outPlane = g.OutD * g.OutH * g.OutW;
        for (int o = 0; o < outPlane; o++) dyAt[o] = o * Lanes;
    }

    /// <summary>One image's sums for channels c0 … c0+15 (x, dy at channel c0's planes) into sums[tap · 16 + lane].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Image(in Geometry g, float* x, float* dy, float* xb, float* dyb, int* xAt, int* dyAt, float* sums)
    {
        var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
        int kvol = g.KD * g.KH * g.KW;
        int inPlane = g.InD * g.InH * g.InW, outPlane = g.OutD * g.OutH * g.OutW;
        ChannelLastScatter.Run(x, inPlane, inPlane, xb, xAt);
        ChannelLastScatter.Run(dy, outPlane, outPlane, dyb, dyAt);
        Taps(g, hp, wp, kvol, xb, dyb, sums);
    }

    /// <summary>Every tap's sums over the output positions, in passes of up to 13 taps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Taps(in Geometry g, int hp, int wp, int kvol, float* xb, float* dyb, float* sums)
    {
        int* offsets = stackalloc int[kvol];
        DepthwiseBlocked.TapOffsets(g, hp, wp, offsets);
        // Taps in passes of equal size (at most 13): 9 taps in one pass, 25 in two.
        int passes = (kvol + MaxChunk - 1) / MaxChunk;
        for (int p = 0; p < passes; p++)
        {
            int t0 = kvol * p / passes, t1 = kvol * (p + 1) / passes;
            switch (t1 - t0)
            {
                case 1: Pass<C1>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 2: Pass<C2>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 3: Pass<C3>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 4: Pass<C4>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 5: Pass<C5>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 6: Pass<C6>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 7: Pass<C7>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 8: Pass<C8>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 9: Pass<C9>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 10: Pass<C10>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 11: Pass<C11>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                case 12: Pass<C12>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
                default: Pass<C13>(g, hp, wp, xb, dyb, offsets + t0, sums + t0 * Lanes); break;
            }
        }
    }

    /// <summary>The number of taps of a pass, a constant in each instantiation (the unused accumulators fold away).</summary>
    interface ITaps { static abstract int Count { get; } }
    struct C1 : ITaps { public static int Count => 1; }
    struct C2 : ITaps { public static int Count => 2; }
    struct C3 : ITaps { public static int Count => 3; }
    struct C4 : ITaps { public static int Count => 4; }
    struct C5 : ITaps { public static int Count => 5; }
    struct C6 : ITaps { public static int Count => 6; }
    struct C7 : ITaps { public static int Count => 7; }
    struct C8 : ITaps { public static int Count => 8; }
    struct C9 : ITaps { public static int Count => 9; }
    struct C10 : ITaps { public static int Count => 10; }
    struct C11 : ITaps { public static int Count => 11; }
    struct C12 : ITaps { public static int Count => 12; }
    struct C13 : ITaps { public static int Count => 13; }

    /// <summary>sums[i · 16 + lane] = Σ over output positions of dy · x at offsets[i] from the position's base, i &lt; T.Count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Pass<T>(in Geometry g, int hp, int wp, float* xb, float* dyb, int* offsets, float* sums) where T : struct, ITaps
    {
        nint o0 = offsets[0];
        nint o1 = T.Count > 1 ? offsets[1] : 0, o2 = T.Count > 2 ? offsets[2] : 0, o3 = T.Count > 3 ? offsets[3] : 0;
        nint o4 = T.Count > 4 ? offsets[4] : 0, o5 = T.Count > 5 ? offsets[5] : 0, o6 = T.Count > 6 ? offsets[6] : 0;
        nint o7 = T.Count > 7 ? offsets[7] : 0, o8 = T.Count > 8 ? offsets[8] : 0, o9 = T.Count > 9 ? offsets[9] : 0;
        nint o10 = T.Count > 10 ? offsets[10] : 0, o11 = T.Count > 11 ? offsets[11] : 0, o12 = T.Count > 12 ? offsets[12] : 0;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default;
        Vector512<float> a7 = default, a8 = default, a9 = default, a10 = default, a11 = default, a12 = default;
        nint step = (nint)g.SW * Lanes;
        float* d = dyb;
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            {
                float* px = xb + ((nint)od * g.SD * hp + (nint)oh * g.SH) * wp * Lanes;
                for (int ow = 0; ow < g.OutW; ow++, px += step, d += Lanes)
                {
                    var v = Vector512.Load(d);
                    a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o0), a0);
                    if (T.Count > 1) a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o1), a1);
                    if (T.Count > 2) a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o2), a2);
                    if (T.Count > 3) a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o3), a3);
                    if (T.Count > 4) a4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o4), a4);
                    if (T.Count > 5) a5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o5), a5);
                    if (T.Count > 6) a6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o6), a6);
                    if (T.Count > 7) a7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o7), a7);
                    if (T.Count > 8) a8 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o8), a8);
                    if (T.Count > 9) a9 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o9), a9);
                    if (T.Count > 10) a10 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o10), a10);
                    if (T.Count > 11) a11 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o11), a11);
                    if (T.Count > 12) a12 = Vector512.FusedMultiplyAdd(v, Vector512.Load(px + o12), a12);
                }
            }
        a0.Store(sums);
        if (T.Count > 1) a1.Store(sums + 1 * Lanes);
        if (T.Count > 2) a2.Store(sums + 2 * Lanes);
        if (T.Count > 3) a3.Store(sums + 3 * Lanes);
        if (T.Count > 4) a4.Store(sums + 4 * Lanes);
        if (T.Count > 5) a5.Store(sums + 5 * Lanes);
        if (T.Count > 6) a6.Store(sums + 6 * Lanes);
        if (T.Count > 7) a7.Store(sums + 7 * Lanes);
        if (T.Count > 8) a8.Store(sums + 8 * Lanes);
        if (T.Count > 9) a9.Store(sums + 9 * Lanes);
        if (T.Count > 10) a10.Store(sums + 10 * Lanes);
        if (T.Count > 11) a11.Store(sums + 11 * Lanes);
        if (T.Count > 12) a12.Store(sums + 12 * Lanes);
    }
}
