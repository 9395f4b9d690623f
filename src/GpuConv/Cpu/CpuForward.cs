using System.Runtime.CompilerServices;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu;

/// <summary>
/// Forward convolution on the CPU: y[n, group] = W[group] · col(x[n, group]) per image and group,
/// cut into (image, group, column tile, row tile) tasks. The column matrix is never stored: the GEMM
/// packs its B panels straight from x (<see cref="Im2ColSource"/>), and for 1x1 / stride 1 / unpadded
/// it reads x in place (the column matrix is the input). Each task adds the bias to its output tile
/// while it is still in cache. Depthwise has its own direct kernel.
/// </summary>
internal static unsafe class CpuForward
{
    public static void Im2ColGemm(CpuConvContext ctx, bool pointwise)
    {
        int outer = ctx.N * ctx.Groups;
        var tiling = ConvTiling.For(outer, ctx.Kg, ctx.Cols, pointwise ? ctx.Cg : ctx.Rows, ctx.Threads, ctx.Tier);
        nint shared = 0;
        long sharedStride = 0;
        if (PrepackedB.Worth(tiling, ctx.Tier, plainB: pointwise))
        {
            sharedStride = PrepackedB.Stride(tiling, ctx.Rows, ctx.Tier);
            shared = pointwise
                ? (nint)PrepackedB.Pack<ViewSource, PlanesOfX>(ctx, tiling, outer, ctx.Rows, ctx.Cols, new(ctx))
                : (nint)PrepackedB.Pack<Im2ColSource, ColumnsOfX>(ctx, tiling, outer, ctx.Rows, ctx.Cols, new(ctx));
        }
        ctx.Workers.For(tiling.Tasks(outer), new GemmTiles(ctx, tiling, pointwise, shared, sharedStride));
    }

    /// <summary>1x1: the input planes of outer index o (image, group) are B as they lie.</summary>
    readonly struct PlanesOfX(CpuConvContext ctx) : IPackSources<ViewSource>
    {
        public ViewSource At(int o, int j0) => new(MatrixView.RowMajor(ctx.XPlane(o / ctx.Groups, o % ctx.Groups * ctx.Cg) + j0, ctx.InPlane));
    }

    /// <summary>The implicit column matrix of outer index o (image, group).</summary>
    readonly struct ColumnsOfX(CpuConvContext ctx) : IPackSources<Im2ColSource>
    {
        public Im2ColSource At(int o, int j0) => new(ctx.G, ctx.XPlane(o / ctx.Groups, o % ctx.Groups * ctx.Cg), j0);
    }

    /// <summary>One (image, group, column tile, row tile) GEMM and its bias.</summary>
    readonly struct GemmTiles(CpuConvContext ctx, ConvTiling tiling, bool pointwise, nint shared, long sharedStride) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            var (n, g, j0, j1, i0, i1) = tiling.TileOf(t, ctx.Groups, ctx.Kg, ctx.Cols);
            float* x = ctx.XPlane(n, g * ctx.Cg);
            int k0 = g * ctx.Kg + i0;
            var a = MatrixView.RowMajor(ctx.W + (nint)k0 * ctx.Rows, ctx.Rows);
            float* y = ctx.YPlane(n, k0) + j0;
            if (shared != 0)
                Sgemm.MultiplyPacked(i1 - i0, j1 - j0, ctx.Rows, a, (float*)shared + sharedStride * ((long)(n * ctx.Groups + g) * tiling.ColTiles + j0 / tiling.ColTile), y, ctx.OutPlane, false, ctx.Tier, ws);
            else if (pointwise)
                Sgemm.Multiply(i1 - i0, j1 - j0, ctx.Rows, a, MatrixView.RowMajor(x + j0, ctx.InPlane), y, ctx.OutPlane, false, ctx.Tier, ws);
            else
                Sgemm.Multiply(i1 - i0, j1 - j0, ctx.Rows, a, new Im2ColSource(ctx.G, x, j0), y, ctx.OutPlane, false, ctx.Tier, ws);
            CpuBias.AddRows(ctx.YPlane(n, 0), ctx.OutPlane, ctx.Bias, k0, k0 + (i1 - i0), j0, j1, ctx.Activation);
        }
    }

    /// <summary>
    /// Depthwise (groups == C). One filter per channel goes to the first kernel that takes it: 3x3 from
    /// the unpadded planes (<see cref="Depthwise3x3"/> on AVX-512, <see cref="Depthwise3x3Avx2"/> on AVX2);
    /// 7x7 stride 1 and 5x5 stride 1 or 2 channel-last, on AVX-512 16 channels at a time (<see cref="DepthwiseChannelLast"/>),
    /// on AVX2 8 (<see cref="DepthwiseChannelLastAvx2"/>), the channels past the last whole block by the kernel that would
    /// run them otherwise;
    /// 5x5 and 7x7 on outputs of ≤ 7 columns two rows per vector (<see cref="DepthwiseNarrow"/>); other
    /// kernels on small planes 16 channels at a time (<see cref="DepthwiseBlocked"/>; on AVX2 5x5 and 7x7
    /// 8 at a time, <see cref="DepthwiseBlockedAvx2"/>); 3-, 5- and 7-wide
    /// ones on larger planes in column strips (<see cref="DepthwiseStrips"/>). The rest, and channel
    /// multipliers above 1, plane by plane from a padded copy (<see cref="DepthwiseDirect"/>).
    /// Tasks over (image, channel block) or (image, input channel) ranges.
    /// </summary>
    public static void Depthwise(CpuConvContext ctx)
    {
        int mult = ctx.Kg;
        var kernel = DepthwiseKernelFor(ctx.G, mult, ctx.C, ctx.Tier);
        if (kernel is DepthwiseKernel.ChannelLast or DepthwiseKernel.ChannelLastAvx2)
        {
            ChannelLast(ctx, kernel == DepthwiseKernel.ChannelLastAvx2);
            return;
        }
        if (kernel is not (DepthwiseKernel.Blocked or DepthwiseKernel.BlockedAvx2 or DepthwiseKernel.PaddedCopy))
        {
            UnpaddedPlanes(ctx, kernel);
            return;
        }
        int lanes = kernel switch
        {
            DepthwiseKernel.Blocked => DepthwiseBlocked.Lanes,
            DepthwiseKernel.BlockedAvx2 => DepthwiseBlockedAvx2.Lanes,
            _ => 0,
        };
        int blocks = lanes > 0 ? ctx.C / lanes : 0;
        int blockedChannels = blocks * lanes;
        if (blocks > 0)
        {
            int units = ctx.N * blocks;
            int blockTasks = Math.Min(units, ctx.Threads * 8);
            if (kernel == DepthwiseKernel.Blocked)
                ctx.Workers.For(blockTasks, new BlockedDepthwise(ctx, units, blockTasks, blocks, DepthwiseBlocked.ScratchFloats(ctx.G)));
            else
                ctx.Workers.For(blockTasks, new BlockedDepthwiseAvx2(ctx, units, blockTasks, blocks, DepthwiseBlockedAvx2.ScratchFloats(ctx.G)));
        }
        int rest = ctx.C - blockedChannels;
        if (rest == 0) return;
        int planes = ctx.N * rest;
        int tasks = Math.Min(planes, ctx.Threads * 8);
        long scratchFloats = DepthwiseDirect.ScratchFloats(ctx.G);
        ctx.Workers.For(tasks, new PaddedCopyDepthwise(ctx, planes, tasks, rest, blockedChannels, mult, scratchFloats));
    }

    /// <summary>
    /// Whole blocks of 16 channels by <see cref="DepthwiseChannelLast"/> (of 8 by <see cref="DepthwiseChannelLastAvx2"/>
    /// on AVX2); the channels past the last block plane by plane by the kernel <see cref="DepthwiseKernelFor"/> picks without it.
    /// </summary>
    static void ChannelLast(CpuConvContext ctx, bool avx2)
    {
        int lanes = avx2 ? DepthwiseChannelLastAvx2.Lanes : DepthwiseChannelLast.Lanes;
        int blocks = ctx.C / lanes;
        int units = ctx.N * blocks;
        int blockTasks = Math.Min(units, ctx.Threads * 8);
        ctx.Workers.For(blockTasks, new ChannelLastBlocks(ctx, units, blockTasks, blocks, avx2));
        int first = blocks * lanes;
        if (first == ctx.C) return;
        var rest = PlaneKernelFor(ctx.G, 1, ctx.Tier);
        if (rest == DepthwiseKernel.PaddedCopy)
        {
            int planes = ctx.N * (ctx.C - first);
            int tasks = Math.Min(planes, ctx.Threads * 8);
            ctx.Workers.For(tasks, new PaddedCopyDepthwise(ctx, planes, tasks, ctx.C - first, first, 1, DepthwiseDirect.ScratchFloats(ctx.G)));
        }
        else UnpaddedPlanes(ctx, rest, first);
    }

    /// <summary>Ranges of (image, block of 16 channels) units by <see cref="DepthwiseChannelLast"/> (of 8 by <see cref="DepthwiseChannelLastAvx2"/>).</summary>
    readonly struct ChannelLastBlocks(CpuConvContext ctx, int units, int blockTasks, int blocks, bool avx2) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / blockTasks), u1 = (int)((long)units * (t + 1) / blockTasks);
            int lanes = avx2 ? DepthwiseChannelLastAvx2.Lanes : DepthwiseChannelLast.Lanes;
            float* scratch = ws.Get(WorkspaceSlot.Rows, avx2 ? DepthwiseChannelLastAvx2.ScratchFloats(ctx.G) : DepthwiseChannelLast.ScratchFloats(ctx.G));
            for (int u = u0; u < u1; u++)
            {
                int n = u / blocks, c0 = u % blocks * lanes;
                float* bias = ctx.Bias == null ? null : ctx.Bias + c0;
                if (avx2)
                    DepthwiseChannelLastAvx2.Block(ctx.G, ctx.XPlane(n, c0), ctx.W + (nint)c0 * ctx.Kvol, ctx.YPlane(n, c0), bias, ctx.Activation, scratch);
                else
                    DepthwiseChannelLast.Block(ctx.G, ctx.XPlane(n, c0), ctx.W + (nint)c0 * ctx.Kvol, ctx.YPlane(n, c0), bias, ctx.Activation, scratch);
            }
        }
    }

    /// <summary>Ranges of (image, block of 16 channels) units by <see cref="DepthwiseBlocked"/>.</summary>
    readonly struct BlockedDepthwise(CpuConvContext ctx, int units, int blockTasks, int blocks, long scratchBlocked) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / blockTasks), u1 = (int)((long)units * (t + 1) / blockTasks);
            float* scratch = ws.Get(WorkspaceSlot.Rows, scratchBlocked);
            for (int u = u0; u < u1; u++)
            {
                int n = u / blocks, c0 = u % blocks * DepthwiseBlocked.Lanes;
                DepthwiseBlocked.Block(ctx.G, ctx.XPlane(n, c0), ctx.W + (nint)c0 * ctx.Kvol, ctx.YPlane(n, c0),
                    ctx.Bias == null ? null : ctx.Bias + c0, scratch);
                CpuActivation.Apply(ctx.Activation, ctx.YPlane(n, c0), DepthwiseBlocked.Lanes * ctx.OutPlane);
            }
        }
    }

    /// <summary>Ranges of (image, block of 8 channels) units by <see cref="DepthwiseBlockedAvx2"/>.</summary>
    readonly struct BlockedDepthwiseAvx2(CpuConvContext ctx, int units, int blockTasks, int blocks, long scratchBlocked) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / blockTasks), u1 = (int)((long)units * (t + 1) / blockTasks);
            float* scratch = ws.Get(WorkspaceSlot.Rows, scratchBlocked);
            for (int u = u0; u < u1; u++)
            {
                int n = u / blocks, c0 = u % blocks * DepthwiseBlockedAvx2.Lanes;
                DepthwiseBlockedAvx2.Block(ctx.G, ctx.XPlane(n, c0), ctx.W + (nint)c0 * ctx.Kvol, ctx.YPlane(n, c0),
                    ctx.Bias == null ? null : ctx.Bias + c0, scratch);
                CpuActivation.Apply(ctx.Activation, ctx.YPlane(n, c0), DepthwiseBlockedAvx2.Lanes * ctx.OutPlane);
            }
        }
    }

    /// <summary>Ranges of (image, input channel) planes from a padded copy, past the blocked channels.</summary>
    readonly struct PaddedCopyDepthwise(CpuConvContext ctx, int planes, int tasks, int rest, int blockedChannels, int mult, long scratchFloats) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int p0 = (int)((long)planes * t / tasks), p1 = (int)((long)planes * (t + 1) / tasks);
            float* rows = ws.Get(WorkspaceSlot.Rows, scratchFloats);
            int* tables = (int*)ws.Get(WorkspaceSlot.Tables, DepthwiseDirect.TableInts(ctx.G));
            DepthwiseDirect.Prepare(ctx.G, rows, tables);
            var activated = new ActivationRuns(ctx.Activation);
            for (int pl = p0; pl < p1; pl++)
            {
                int n = pl / rest, c = blockedChannels + pl % rest;
                int k0 = c * mult;
                DepthwiseDirect.Channel(ctx.G, ctx.XPlane(n, c), ctx.W + (nint)k0 * ctx.Kvol, ctx.YPlane(n, k0),
                    ctx.Bias == null ? null : ctx.Bias + k0, mult, rows, tables, ctx.Tier);
                activated.Add(ctx.YPlane(n, k0), mult * ctx.OutPlane);
            }
            activated.Flush();
        }
    }

    /// <summary>
    /// Which depthwise kernel runs a layer on <paramref name="tier"/>: the AVX-512 kernels only on
    /// Vector512, the AVX2 ones on Vector256 (so a backend forced to Vector256 runs the AVX2 paths on an
    /// AVX-512 machine, as an AVX2 machine would). <see cref="DepthwiseKernel.Blocked"/> and
    /// <see cref="DepthwiseKernel.BlockedAvx2"/> leave the channels past the last whole block of 16 / 8 to
    /// the padded copy. On Vector256, 3x3 goes to <see cref="Depthwise3x3Avx2"/> before the blocked rule is asked.
    /// </summary>
    internal static DepthwiseKernel DepthwiseKernelFor(in ConvGeometry g, int mult, int channels, GemmTier tier)
    {
        bool avx512 = tier >= GemmTier.Vector512;
        bool blocked = avx512 && DepthwiseBlocked.Applies(g, mult, channels);
        return avx512 && Depthwise3x3.Applies(g, mult) ? DepthwiseKernel.ThreeByThree
            : tier == GemmTier.Vector256 && Depthwise3x3Avx2.Applies(g, mult) ? DepthwiseKernel.ThreeByThreeAvx2
            : avx512 && DepthwiseChannelLast.Applies(g, mult, channels) ? DepthwiseKernel.ChannelLast
            : DepthwiseChannelLastAvx2.Applies(g, mult, channels, tier) ? DepthwiseKernel.ChannelLastAvx2
            : DepthwiseBlockedAvx2.Applies(g, mult, channels, tier) ? DepthwiseKernel.BlockedAvx2
            : avx512 && DepthwiseNarrow.Applies(g, mult) ? DepthwiseKernel.Narrow
            : avx512 && !blocked && DepthwiseStrips.Applies(g, mult) ? DepthwiseKernel.Strips
            : blocked ? DepthwiseKernel.Blocked
            : DepthwiseKernel.PaddedCopy;
    }

    /// <summary>
    /// The per-plane kernel for the channels <see cref="DepthwiseKernel.ChannelLast"/> leaves (fewer than 16):
    /// the choice above for a layer too narrow for any channel block.
    /// </summary>
    internal static DepthwiseKernel PlaneKernelFor(in ConvGeometry g, int mult, GemmTier tier) =>
        DepthwiseKernelFor(g, mult, 1, tier);

    /// <summary>Depthwise layers with fewer multiply-adds than this run on one thread.</summary>
    const long SmallDepthwiseTaps = 96 * 1024;

    /// <summary>
    /// Depthwise planes read straight from x, contiguous plane ranges per task: 3x3 by
    /// <see cref="Depthwise3x3"/>, other 3-, 5- and 7-wide kernels by <see cref="DepthwiseStrips"/>.
    /// </summary>
    static void UnpaddedPlanes(CpuConvContext ctx, DepthwiseKernel kernel, int firstChannel = 0)
    {
        int planes = ctx.N * (ctx.C - firstChannel);
        // Two tasks per thread: planes cost the same, and every task claimed moves the job's cache line
        // between cores (~0.4 µs here, a tenth of a 7×7 layer per eight tasks). Below ~100K taps the
        // whole layer takes less than handing half of it to another core does (~2 µs here: 7 × 7 × 192
        // on two threads 3.9 µs, on one 3.7 µs), so it runs on the calling thread.
        long taps = (long)planes * ctx.OutPlane * ctx.Kvol;
        int tasks = taps < SmallDepthwiseTaps ? 1 : (int)Math.Min(planes, ctx.Threads * 2);
        ctx.Workers.For(tasks, new UnpaddedPlaneRanges(ctx, kernel, planes, tasks, firstChannel));
    }

    /// <summary>Contiguous ranges of (image, channel) planes read straight from x, channels from <paramref name="firstChannel"/> on.</summary>
    readonly struct UnpaddedPlaneRanges(CpuConvContext ctx, DepthwiseKernel kernel, int planes, int tasks, int firstChannel) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int p0 = (int)((long)planes * t / tasks), p1 = (int)((long)planes * (t + 1) / tasks);
            long scratchFloats = kernel == DepthwiseKernel.ThreeByThreeAvx2 ? Depthwise3x3Avx2.ScratchFloats(ctx.G) : 0;
            float* scratch = scratchFloats > 0 ? ws.Get(WorkspaceSlot.Rows, scratchFloats) : null;
            // The plane index n·C + c and the channel counted along, not divided out per plane (on 7 × 7 planes the
            // per-plane arithmetic shows: MobileNetV2's 960-channel 3x3 layers 4% slower with a division and two multiplies).
            int channels = ctx.C - firstChannel;
            int c = firstChannel + p0 % channels;
            nint plane = (nint)(p0 / channels) * ctx.C + c;
            var activated = new ActivationRuns(ctx.Activation);
            for (int pl = p0; pl < p1; pl++, c++, plane++)
            {
                if (c == ctx.C) { c = firstChannel; plane += firstChannel; }
                float* x = ctx.X + plane * ctx.InPlane, w = ctx.W + (nint)c * ctx.Kvol, y = ctx.Y + plane * ctx.OutPlane;
                float bias = ctx.Bias == null ? 0f : ctx.Bias[c];
                switch (kernel)
                {
                    case DepthwiseKernel.ThreeByThree: Depthwise3x3.Plane(ctx.G, x, w, y, bias); break;
                    case DepthwiseKernel.ThreeByThreeAvx2: Depthwise3x3Avx2.Plane(ctx.G, x, w, y, bias, scratch); break;
                    case DepthwiseKernel.Narrow: DepthwiseNarrow.Plane(ctx.G, x, w, y, bias); break;
                    default: DepthwiseStrips.Plane(ctx.G, x, w, y, bias); break;
                }
                activated.Add(y, ctx.OutPlane);
            }
            activated.Flush();
        }
    }
}
