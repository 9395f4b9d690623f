using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Threading;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Backward-filter of a depthwise convolution (one input channel per group, any channel multiplier):
/// dW[k, 0, tap] = Σₙ Σ_pixels dy[n, k, p] · x[n, g, p·stride + tap·dilation − pad]. Per image the group's
/// input plane is copied into the direct depthwise forward's zero-padded stride-phase layout (see
/// <see cref="StridePhaseLayout"/>; pads zeroed once per task), so every tap reads a row of it
/// contiguously at a fixed offset; a tap's sum is then a dot product of dy's rows with those rows,
/// vectorised along the output columns (the last vector of a row masked) in register accumulators, three
/// taps at a time (dy loaded once for the three; a 3x3 kernel's nine at once on AVX-512); planes narrower than a vector as one long row (see
/// <see cref="Narrow"/>). Im2col + GEMM ran these as 1 × taps
/// GEMMs over the whole plane (MobileNetV2's 56 × 56 × 144 at batch 8: 28.9 ms against the forward's 1.17).
/// Tasks own whole groups and sum images in order, and each image's vector sums in a fixed lane order into
/// float64 totals: the result does not depend on the thread count. 3x3 stride-1/2 2-D shapes go to the planar
/// kernels instead (<see cref="DepthwiseFilterGradient3x3"/>, <see cref="DepthwiseFilterGradient3x3Avx2"/>: no copy at
/// all); of the rest, small planes with one filter per channel go 16 channels at a time to
/// <see cref="DepthwiseFilterGradientBlocked"/> first (the channels past its last whole block stay here). See <see cref="PathFor"/>.
/// </summary>
internal static unsafe class DepthwiseFilterGradient
{
    /// <summary>Floats after the phase planes: a row's masked last vector may overhang them.</summary>
    const int Slack = 64;

    /// <summary>
    /// Per-worker scratch floats: the phase planes, the tap totals (float64), and for narrow planes dy's
    /// plane in the layout's run space and the run's mask of output positions.
    /// </summary>
    public static long ScratchFloats(in Geometry g, int multiplier)
    {
        var l = StridePhaseLayout.Of(g);
        return l.PlaneFloats + Slack + 2L * multiplier * g.KD * g.KH * g.KW + 16 + 2 * (l.RunLength + Slack);
    }

    /// <summary>
    /// Rows narrower than a vector run as one long row over the layout's run space (AVX-512): a 7-wide
    /// row would fill 7 of 16 lanes. dy is copied into the run (zeros between rows) and x's lanes between
    /// rows are masked off, so a non-finite x there cannot reach a sum.
    /// </summary>
    static bool Narrow(in Geometry g, GemmTier tier) => g.OutW < 16 && tier == GemmTier.Vector512 && Avx512F.IsSupported;

    public static void Run(CpuConvContext ctx)
    {
        var g = ctx.G;
        int m = ctx.Kg, taps = ctx.Kvol, groups = ctx.Groups;
        var layout = StridePhaseLayout.Of(g);
        var tier = ctx.Tier;
        long scratchFloats = ScratchFloats(g, m);
        var path = PathFor(g, m, ctx.C, ctx.N, tier);
        if (path is FilterGradientPath.Planar3x3 or FilterGradientPath.Planar3x3Avx2)
        {
            RunPlanar(ctx, path);
            return;
        }
        int first = path == FilterGradientPath.Blocked ? DepthwiseFilterGradientBlocked.Run(ctx) : 0;
        int rest = groups - first;
        if (rest == 0) return;
        // Contiguous ranges of groups per task: the pads are zeroed once per task. One image: few tasks, as the
        // pads and tables cost more than a plane's sums (MobileNetV2 at batch 1, 2 threads, 8 per thread / 2:
        // 32 × 112 × 112 1.1, 144 × 56 × 56 1.04, their stride-2 layers 1.05); batch 8 not decided (too noisy).
        int tasks = Math.Min(rest, ctx.Threads * (ctx.N == 1 ? ConvTiling.TasksPerThread : 8));
        ctx.Workers.For(tasks, new PerChannelTasks(ctx, g, layout, tier, first, rest, tasks, m, taps, scratchFloats));
    }

    /// <summary>Ranges of groups by the per-channel kernel, over a padded copy of each plane; every image summed in float64.</summary>
    readonly struct PerChannelTasks(CpuConvContext ctx, Geometry g, StridePhaseLayout layout, GemmTier tier, int first, int rest, int tasks, int m, int taps, long scratchFloats) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int g0 = first + (int)((long)rest * t / tasks), g1 = first + (int)((long)rest * (t + 1) / tasks);
            float* plane = ws.Get(WorkspaceSlot.Rows, scratchFloats);
            int* tables = (int*)ws.Get(WorkspaceSlot.Tables, DepthwiseDirect.TableInts(g));
            DepthwiseDirect.Prepare(g, plane, tables);
            double* totals = (double*)(((nint)(plane + layout.PlaneFloats + Slack) + 63) & ~(nint)63);
            float* dyRun = (float*)(totals + m * taps), runMask = dyRun + layout.RunLength + Slack;
            bool narrow = Narrow(g, tier);
            if (narrow) PrepareRun(g, layout, dyRun, runMask);
            for (int grp = g0; grp < g1; grp++)
            {
                new Span<double>(totals, m * taps).Clear();
                for (int n = 0; n < ctx.N; n++)
                {
                    DepthwiseDirect.Scatter(g, layout, ctx.XPlane(n, grp), plane, tables + taps);
                    for (int j = 0; j < m; j++)
                    {
                        if (narrow)
                        {
                            ToRun(g, layout, ctx.YPlane(n, grp * m + j), dyRun);
                            AccumulateRun(layout, plane, tables, taps, dyRun, runMask, totals + j * taps);
                        }
                        else
                            Accumulate(g, layout, plane, tables, ctx.YPlane(n, grp * m + j), totals + j * taps, tier);
                    }
                }
                float* dw = ctx.W + (nint)grp * m * taps;
                for (int i = 0; i < m * taps; i++) dw[i] = (float)totals[i];
            }
        }
    }

    /// <summary>Which kernel a depthwise weight gradient takes (tests assert it where the hardware has the kernels).</summary>
    public enum FilterGradientPath
    {
        /// <summary><see cref="DepthwiseFilterGradient3x3"/>: AVX-512, 3x3, outputs wider than 8 columns.</summary>
        Planar3x3,
        /// <summary><see cref="DepthwiseFilterGradient3x3Avx2"/>: 3x3 on the Vector256 tier, and outputs of at most 8 columns on Vector512.</summary>
        Planar3x3Avx2,
        /// <summary><see cref="DepthwiseFilterGradientBlocked"/> for the whole blocks of 16 channels, the rest per channel.</summary>
        Blocked,
        /// <summary>The per-channel kernel over a padded stride-phase copy (any kernel size, stride, dilation, rank).</summary>
        PerChannel,
    }

    /// <summary>
    /// The planar 3x3 kernels read x and dy in place (no copies, no per-task setup) and take every 2-D 3x3 stride-1/2
    /// undilated shape. On AVX-512, outputs of at most 8 columns go to the 8-lane kernel (AVX2 instructions): a 16-lane
    /// strip would be half empty. MobileNetV2 at batch 1, 2 threads, blocked kernel / 8-lane planar (fastest calls,
    /// docs/benchmarks.md, 2026-12-05 07:10): 960 × 7 × 7 0.016–0.022 / 0.015–0.022 ms, 576 × 14 × 14 stride 2
    /// 0.020–0.025 / 0.013–0.019.
    /// </summary>
    public static FilterGradientPath PathFor(in Geometry g, int multiplier, int channels, int images, GemmTier tier)
    {
        if (Streams(g, multiplier, channels, images)) return FilterGradientPath.PerChannel;
        if (tier == GemmTier.Vector512 && DepthwiseFilterGradient3x3.Applies(g) && g.OutW > 8) return FilterGradientPath.Planar3x3;
        if (tier >= GemmTier.Vector256 && DepthwiseFilterGradient3x3Avx2.Applies(g)) return FilterGradientPath.Planar3x3Avx2;
        return DepthwiseFilterGradientBlocked.Applies(g, multiplier, channels, tier) ? FilterGradientPath.Blocked : FilterGradientPath.PerChannel;
    }

    /// <summary>
    /// Wide stride-1 planes whose x and dy together exceed half this machine's 32 MiB L3 go to the per-channel kernel:
    /// there the planar kernels' column strips (each walks a plane's rows 64 bytes at a time) wait on memory, while the
    /// per-channel kernel copies each plane in one sequential pass. MobileNetV2, 2 threads, one-process A/B, fastest
    /// calls planar / per-channel, 12 runs (docs/benchmarks.md, 2026-12-05 06:40): 32 × 112 × 112 at batch 8 (26 MB) 1.7–8.7 /
    /// 0.8–3.2 ms, 144 × 56 × 56 (29 MB) 3.3–11 / 1.7–4.6; at batch 4 (13–15 MB) the planar kernel still led (0.32 /
    /// 0.49, 0.42 / 0.63), as on every stride-2 plane and below 56 columns at batch 8.
    /// </summary>
    static bool Streams(in Geometry g, int multiplier, int channels, int images) =>
        g.SH == 1 && g.SW == 1 && g.OutW >= 56 &&
        (long)images * channels * ((long)g.InD * g.InH * g.InW + (long)multiplier * g.OutD * g.OutH * g.OutW) * sizeof(float) > 16L << 20;

    /// <summary>
    /// Every group by the planar 3x3 kernel: tasks own contiguous ranges of groups and sum the images in order into
    /// float64 totals (the result does not depend on the thread count). One filter per channel: up to 32 channels'
    /// planes per kernel call (small planes share the call and the masks); more: a group's output planes per call.
    /// </summary>
    static void RunPlanar(CpuConvContext ctx, FilterGradientPath path)
    {
        var g = ctx.G;
        int m = ctx.Kg, groups = ctx.Groups;
        bool wide = path == FilterGradientPath.Planar3x3;
        int tasks = Math.Min(groups, ctx.Threads * 4);
        ctx.Workers.For(tasks, new PlanarTasks(ctx, g, wide, groups, tasks, m));
    }

    /// <summary>Ranges of groups by the planar 3x3 kernels.</summary>
    readonly struct PlanarTasks(CpuConvContext ctx, Geometry g, bool wide, int groups, int tasks, int m) : ICpuLoop
    {
        /// <summary>Planes per kernel call (and per float64 totals block).</summary>
        const int Chunk = 32;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int g0 = (int)((long)groups * t / tasks), g1 = (int)((long)groups * (t + 1) / tasks);
            double* totals = stackalloc double[Chunk * 9];
            // (first group, groups) per call with m = 1; (group, its m output planes in chunks) otherwise.
            for (int grp = g0; grp < g1;)
            {
                int count = m == 1 ? Math.Min(Chunk, g1 - grp) : 1;
                for (int j0 = 0; j0 < m; j0 += Chunk)
                {
                    int planes = m == 1 ? count : Math.Min(Chunk, m - j0);
                    new Span<double>(totals, planes * 9).Clear();
                    for (int n = 0; n < ctx.N; n++)
                    {
                        float* x = ctx.XPlane(n, grp), dy = ctx.YPlane(n, grp * m + j0);
                        nint xStride = m == 1 ? ctx.InPlane : 0;
                        if (wide) DepthwiseFilterGradient3x3.Planes(g, x, xStride, dy, ctx.OutPlane, planes, totals);
                        else DepthwiseFilterGradient3x3Avx2.Planes(g, x, xStride, dy, ctx.OutPlane, planes, totals);
                    }
                    float* dw = ctx.W + ((nint)grp * m + j0) * 9;
                    for (int i = 0; i < planes * 9; i++) dw[i] = (float)totals[i];
                }
                grp += count;
            }
        }
    }

    /// <summary>Zeroes the dy run (positions between rows stay zero) and writes the run's mask: all ones at output positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PrepareRun(in Geometry g, in StridePhaseLayout l, float* dyRun, float* mask)
    {
        int length = (int)l.RunLength + Slack;
        new Span<float>(dyRun, length).Clear();
        new Span<float>(mask, length).Clear();
        float ones = BitConverter.Int32BitsToSingle(-1);
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
                new Span<float>(mask + ((nint)od * l.Hq + oh) * l.Lq, g.OutW).Fill(ones);
    }

    /// <summary>dy's plane into the run space: output row (od, oh) at (od·Hq + oh)·Lq.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ToRun(in Geometry g, in StridePhaseLayout l, float* dy, float* dyRun)
    {
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++, dy += g.OutW)
            {
                float* d = dyRun + ((nint)od * l.Hq + oh) * l.Lq;
                for (int ow = 0; ow < g.OutW; ow++) d[ow] = dy[ow];
            }
    }

    /// <summary>Adds one image's sums for one output channel over the run space, three taps at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AccumulateRun(in StridePhaseLayout l, float* plane, int* tapOffsets, int taps, float* dyRun, float* mask, double* totals)
    {
        int length = (int)l.RunLength;
        for (int t0 = 0; t0 < taps; t0 += 3)
        {
            int count = Math.Min(3, taps - t0);
            float* x0 = plane + tapOffsets[t0], x1 = plane + tapOffsets[t0 + Math.Min(1, count - 1)], x2 = plane + tapOffsets[t0 + Math.Min(2, count - 1)];
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0;
            // Whole vectors: the run, the mask and the planes all have a vector of slack after them.
            for (int i = 0; i < length; i += 16)
            {
                var d = Vector512.Load(dyRun + i);
                var keep = Vector512.Load(mask + i);
                a0 = Vector512.FusedMultiplyAdd(d, Vector512.BitwiseAnd(Vector512.Load(x0 + i), keep), a0);
                a1 = Vector512.FusedMultiplyAdd(d, Vector512.BitwiseAnd(Vector512.Load(x1 + i), keep), a1);
                a2 = Vector512.FusedMultiplyAdd(d, Vector512.BitwiseAnd(Vector512.Load(x2 + i), keep), a2);
            }
            totals[t0] += Vector512.Sum(a0);
            if (count > 1) totals[t0 + 1] += Vector512.Sum(a1);
            if (count > 2) totals[t0 + 2] += Vector512.Sum(a2);
        }
    }

    /// <summary>Adds one image's sums for one output channel: every tap's Σ dy · x over the output plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Accumulate(in Geometry g, in StridePhaseLayout l, float* plane, int* tapOffsets, float* dy, double* totals, GemmTier tier)
    {
        int taps = g.KD * g.KH * g.KW;
        int* offsets = stackalloc int[3];
        nint outSlice = (nint)g.OutH * g.OutW, slice = (nint)l.Hq * l.Lq;
        if (taps == 9 && tier == GemmTier.Vector512 && Avx512F.IsSupported)
        {
            // A 3x3 kernel's nine sums in one pass: dy loaded once for all nine taps, not once per three (MobileNetV2
            // at batch 1, 2 threads, old / new: 144 × 56 × 56 1.05, 32 × 112 × 112 1.03, 96 × 112 × 112 stride 2 1.04–1.08).
            float* sums = stackalloc float[9];
            double* acc = stackalloc double[9];
            for (int i = 0; i < 9; i++) acc[i] = 0;
            for (int od = 0; od < g.OutD; od++)
            {
                Sums9(dy + od * outSlice, g.OutW, g.OutH, plane + od * slice, l.Lq, tapOffsets, sums);
                for (int i = 0; i < 9; i++) acc[i] += sums[i];
            }
            for (int i = 0; i < 9; i++) totals[i] += acc[i];
            return;
        }
        for (int t0 = 0; t0 < taps; t0 += 3)
        {
            int count = Math.Min(3, taps - t0);
            // The (up to) three taps of this pass; missing ones repeat the first (their sums are dropped).
            for (int i = 0; i < 3; i++) offsets[i] = tapOffsets[t0 + Math.Min(i, count - 1)];
            double s0 = 0, s1 = 0, s2 = 0;
            for (int od = 0; od < g.OutD; od++)
            {
                Sums3(dy + od * outSlice, g.OutW, g.OutH, plane + od * slice, l.Lq, offsets, tier, out float a, out float b, out float c);
                s0 += a; s1 += b; s2 += c;
            }
            totals[t0] += s0;
            if (count > 1) totals[t0 + 1] += s1;
            if (count > 2) totals[t0 + 2] += s2;
        }
    }

    /// <summary>
    /// Σ over rows oh and columns ow &lt; width of dy[oh·width + ow] · x[oh·ldx + offsets[i] + ow], for i = 0..8
    /// (AVX-512): nine accumulators, dy loaded once per vector, a row's last vector masked (both operands).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sums9(float* dy, int width, int rows, float* x, int ldx, int* offsets, float* sums)
    {
        float* x0 = x + offsets[0], x1 = x + offsets[1], x2 = x + offsets[2], x3 = x + offsets[3], x4 = x + offsets[4];
        float* x5 = x + offsets[5], x6 = x + offsets[6], x7 = x + offsets[7], x8 = x + offsets[8];
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0;
        var a5 = a0; var a6 = a0; var a7 = a0; var a8 = a0;
        int full = width & ~15;
        var mask = LaneMasks.InRange(full, width);
        for (int oh = 0; oh < rows; oh++, dy += width)
        {
            nint r = (nint)oh * ldx;
            int v = 0;
            for (; v < full; v += 16)
            {
                var d = Vector512.Load(dy + v);
                nint o = r + v;
                a0 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x0 + o), a0);
                a1 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x1 + o), a1);
                a2 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x2 + o), a2);
                a3 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x3 + o), a3);
                a4 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x4 + o), a4);
                a5 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x5 + o), a5);
                a6 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x6 + o), a6);
                a7 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x7 + o), a7);
                a8 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x8 + o), a8);
            }
            if (v < width)
            {
                var d = LaneMasks.Load(dy + v, mask);
                nint o = r + v;
                a0 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x0 + o, mask), a0);
                a1 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x1 + o, mask), a1);
                a2 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x2 + o, mask), a2);
                a3 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x3 + o, mask), a3);
                a4 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x4 + o, mask), a4);
                a5 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x5 + o, mask), a5);
                a6 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x6 + o, mask), a6);
                a7 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x7 + o, mask), a7);
                a8 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x8 + o, mask), a8);
            }
        }
        sums[0] = Vector512.Sum(a0); sums[1] = Vector512.Sum(a1); sums[2] = Vector512.Sum(a2);
        sums[3] = Vector512.Sum(a3); sums[4] = Vector512.Sum(a4); sums[5] = Vector512.Sum(a5);
        sums[6] = Vector512.Sum(a6); sums[7] = Vector512.Sum(a7); sums[8] = Vector512.Sum(a8);
    }

    /// <summary>
    /// Σ over rows oh and columns ow &lt; width of dy[oh·width + ow] · x[oh·ldx + offsets[i] + ow], for i = 0..2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sums3(float* dy, int width, int rows, float* x, int ldx, int* offsets, GemmTier tier, out float r0, out float r1, out float r2)
    {
        float* x0 = x + offsets[0], x1 = x + offsets[1], x2 = x + offsets[2];
        if (tier == GemmTier.Vector512 && Avx512F.IsSupported)
        {
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0;
            var b0 = a0; var b1 = a0; var b2 = a0;      // a second set: six FMA chains in flight, not three
            int full = width & ~15;
            var mask = LaneMasks.InRange(full, width);
            for (int oh = 0; oh < rows; oh++, dy += width, x0 += ldx, x1 += ldx, x2 += ldx)
            {
                int v = 0;
                for (; v + 32 <= full; v += 32)
                {
                    var d = Vector512.Load(dy + v);
                    var e = Vector512.Load(dy + v + 16);
                    a0 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x0 + v), a0);
                    a1 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x1 + v), a1);
                    a2 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x2 + v), a2);
                    b0 = Vector512.FusedMultiplyAdd(e, Vector512.Load(x0 + v + 16), b0);
                    b1 = Vector512.FusedMultiplyAdd(e, Vector512.Load(x1 + v + 16), b1);
                    b2 = Vector512.FusedMultiplyAdd(e, Vector512.Load(x2 + v + 16), b2);
                }
                for (; v < full; v += 16)
                {
                    var d = Vector512.Load(dy + v);
                    a0 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x0 + v), a0);
                    a1 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x1 + v), a1);
                    a2 = Vector512.FusedMultiplyAdd(d, Vector512.Load(x2 + v), a2);
                }
                if (v < width)
                {
                    // Both operands masked: a non-finite x past the row's end must not reach the sum.
                    var d = LaneMasks.Load(dy + v, mask);
                    b0 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x0 + v, mask), b0);
                    b1 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x1 + v, mask), b1);
                    b2 = Vector512.FusedMultiplyAdd(d, LaneMasks.Load(x2 + v, mask), b2);
                }
            }
            r0 = Vector512.Sum(a0 + b0); r1 = Vector512.Sum(a1 + b1); r2 = Vector512.Sum(a2 + b2);
            return;
        }
        if (tier >= GemmTier.Vector256 && Avx2.IsSupported)
        {
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0;
            int full = width & ~7;
            var mask = LaneMasks.InRange8(full, width);
            for (int oh = 0; oh < rows; oh++, dy += width, x0 += ldx, x1 += ldx, x2 += ldx)
            {
                int v = 0;
                for (; v < full; v += 8)
                {
                    var d = Vector256.Load(dy + v);
                    a0 = Vector256.FusedMultiplyAdd(d, Vector256.Load(x0 + v), a0);
                    a1 = Vector256.FusedMultiplyAdd(d, Vector256.Load(x1 + v), a1);
                    a2 = Vector256.FusedMultiplyAdd(d, Vector256.Load(x2 + v), a2);
                }
                if (v < width)
                {
                    var d = Avx.MaskLoad(dy + v, mask);
                    a0 = Vector256.FusedMultiplyAdd(d, Avx.MaskLoad(x0 + v, mask), a0);
                    a1 = Vector256.FusedMultiplyAdd(d, Avx.MaskLoad(x1 + v, mask), a1);
                    a2 = Vector256.FusedMultiplyAdd(d, Avx.MaskLoad(x2 + v, mask), a2);
                }
            }
            r0 = Vector256.Sum(a0); r1 = Vector256.Sum(a1); r2 = Vector256.Sum(a2);
            return;
        }
        float s0 = 0, s1 = 0, s2 = 0;
        for (int oh = 0; oh < rows; oh++, dy += width, x0 += ldx, x1 += ldx, x2 += ldx)
            for (int v = 0; v < width; v++)
            {
                float d = dy[v];
                s0 += d * x0[v]; s1 += d * x1[v]; s2 += d * x2[v];
            }
        r0 = s0; r1 = s1; r2 = s2;
    }
}
