using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.BackwardData;
using GpuConv.Cpu.BackwardFilter;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Winograd;

namespace GpuConv.Backends;

// The cpu backend's candidates for a problem: which algorithms apply, in which order the heuristic
// policy meets them (the *First rules, each with the measurements behind it), and each one's workspace.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (WhyUnsupported(problem) is { } why)
            throw new ArgumentException($"the cpu backend cannot run {problem}: {why}", nameof(problem));
        var list = new List<ConvAlgorithm>(4);
        if (problem.Op == ConvOp.Forward && CanDepthwise(problem))
            list.Add(Algorithm(DirectDepthwise, 2, WorkspaceFloats(problem, DirectDepthwise)));
        bool filterDepthwise = problem.Op == ConvOp.BackwardFilter && problem.IsDepthwise;
        if (filterDepthwise)
            list.Add(Algorithm(DirectDepthwise, 2, WorkspaceFloats(problem, DirectDepthwise)));
        // Stride-2 3x3 depthwise backward-data, direct (forward-phases took 7–11× the forward there).
        if (DepthwiseBackwardDataStride2.Applies(problem))
            list.Add(Algorithm(DirectDepthwise, 2, WorkspaceFloats(problem, DirectDepthwise)));
        bool split = Applies(problem, ReductionSplit), splitFirst = split && !filterDepthwise && ReductionSplitFirst(problem, Tier);
        if (splitFirst)
            list.Add(Algorithm(ReductionSplit, 10, WorkspaceFloats(problem, ReductionSplit)));
        // W is transformed once when constant; weights that change every call are transformed every call, offered where
        // that pays (PerCallWinograd). Where Winograd would lead but is not offered, channel-tiled leads.
        bool winogradShape = Applies(problem, Winograd), winogradLeads = winogradShape && WinogradFirst(problem);
        bool winograd = winogradShape && (problem.ConstantWeights || PerCallWinograd(problem));
        bool winograd4First = winograd && Winograd4x4First(problem) && (problem.ConstantWeights || PerCallWinograd4x4First(problem));
        bool winogradFirst = winograd && winogradLeads;
        if (winograd4First)
            list.Add(Algorithm(Winograd4x4, 11, WorkspaceFloats(problem, Winograd4x4)));
        if (winogradFirst)
            list.Add(Algorithm(Winograd, 5, WorkspaceFloats(problem, Winograd)));
        bool channelTiled = Applies(problem, ChannelTiled);
        bool channelTiledFirst = channelTiled && (ChannelTiledFirst(problem) || WholeQuartersOnVector256(problem)
            || HalfTileOnVector512(problem) || OnePositionOnVector512(problem) || (winogradLeads && !winograd));
        if (channelTiledFirst)
            list.Add(Algorithm(ChannelTiled, 4, WorkspaceFloats(problem, ChannelTiled)));
        bool phases = Applies(problem, ForwardPhases), phasesFirst = phases && ForwardPhasesFirst(problem);
        bool shuffle = Applies(problem, GemmShuffle), shuffleFirst = shuffle && !(phasesFirst && GemmShuffleBehindPhases(problem));
        if (shuffleFirst)
            list.Add(Algorithm(GemmShuffle, 8, WorkspaceFloats(problem, GemmShuffle)));
        bool stream = !shuffle && Applies(problem, WeightStream), streamFirst = stream && WeightStreamFirst(problem);
        if (streamFirst)
            list.Add(Algorithm(WeightStream, 9, WorkspaceFloats(problem, WeightStream)));
        if (phasesFirst)
            list.Add(Algorithm(ForwardPhases, 7, WorkspaceFloats(problem, ForwardPhases)));
        if (shuffle && !shuffleFirst)
            list.Add(Algorithm(GemmShuffle, 8, WorkspaceFloats(problem, GemmShuffle)));
        if (problem.IsPointwise)
            list.Add(Algorithm(Gemm1x1, 1, WorkspaceFloats(problem, Gemm1x1)));
        string general = problem.Op == ConvOp.BackwardData ? GemmCol2Im : Im2ColGemm;
        bool shift = problem.Op == ConvOp.Forward && !problem.IsPointwise && CanShift(problem);
        // A strided 1x1 reads a quarter of its input: gathering it (im2col) beats copying all of it into phases.
        bool direct = Applies(problem, ShiftedDirect), shallow = direct && ShiftedDirectFirst(problem);
        bool directFirst = shallow && !FewerRowsThanThreads(problem), generalFirst = shallow && !directFirst;
        if (directFirst)
            list.Add(Algorithm(ShiftedDirect, 6, WorkspaceFloats(problem, ShiftedDirect)));
        if (generalFirst)
            list.Add(Algorithm(general, 0, WorkspaceFloats(problem, general)));
        if (shift && problem.KernelVolume > 1)
            list.Add(Algorithm(ShiftedGemm, 3, WorkspaceFloats(problem, ShiftedGemm)));
        if (!generalFirst)
            list.Add(Algorithm(general, 0, WorkspaceFloats(problem, general)));
        if (shift && problem.KernelVolume == 1)
            list.Add(Algorithm(ShiftedGemm, 3, WorkspaceFloats(problem, ShiftedGemm)));
        if (channelTiled && !channelTiledFirst)
            list.Add(Algorithm(ChannelTiled, 4, WorkspaceFloats(problem, ChannelTiled)));
        if (winograd && !winogradFirst)
            list.Add(Algorithm(Winograd, 5, WorkspaceFloats(problem, Winograd)));
        if (winograd && !winograd4First)
            list.Add(Algorithm(Winograd4x4, 11, WorkspaceFloats(problem, Winograd4x4)));
        if (direct && !directFirst)
            list.Add(Algorithm(ShiftedDirect, 6, WorkspaceFloats(problem, ShiftedDirect)));
        if (phases && !phasesFirst)
            list.Add(Algorithm(ForwardPhases, 7, WorkspaceFloats(problem, ForwardPhases)));
        if (stream && !streamFirst)
            list.Add(Algorithm(WeightStream, 9, WorkspaceFloats(problem, WeightStream)));
        if (split && !splitFirst)
            list.Add(Algorithm(ReductionSplit, 10, WorkspaceFloats(problem, ReductionSplit)));
        return list;
    }

    /// <summary>
    /// Channel-tiled leads when its tiles (64 channels; 32 for a block's last ≤ 32) are at least three
    /// quarters full (64 or more output channels per group) and either each output sums over at least 192 products (C/g × taps)
    /// or the output plane is small (≤ 1024 pixels). Measured on ResNet-50 and
    /// MobileNetV2, 2 threads, AVX-512: on small planes it won even at depth 32 (MobileNetV2's 28 × 28
    /// 32 → 192 expansions: 0.62–0.69 of gemm-1x1's time; 14 × 14 576 → 96 projections 0.59); on large
    /// planes with shallow sums the pixel-vectorized paths won (ResNet-50's 56 × 56 64 → 256 1x1:
    /// 0.47 ms gemm-1x1, 0.68 ms channel-tiled; the 7x7 stem, depth 147: 0.86 ms shifted, 1.05 ms);
    /// with fewer than 64 channels its lanes go empty (but see <see cref="HalfTileOnVector512"/> for exactly 32).
    /// </summary>
    static bool ChannelTiledFirst(ConvProblem p)
    {
        long depth = p.CPerGroup * p.KernelVolume;
        return TilesMostlyFull(p.KPerGroup) && (depth >= 192 || p.YShape.SpatialSize <= 1024);
    }

    /// <summary>
    /// On the Vector512 tier channel-tiled also leads 1x1 layers with exactly 32 output channels (one group) summing over
    /// at least 64 input channels: its one 32-channel half tile is full. `gpuconv bench --backend cpu --algorithm …`,
    /// AVX-512 (Zen 4, 2 vCPUs), 2026-12-07, one thread, two rounds, gemm-1x1 → channel-tiled ms: MobileNetV2's
    /// 144 / 192 → 32 at 28 × 28 0.086–0.101 → 0.072–0.074 and 0.115–0.138 → 0.089–0.095, 144 → 32 at 56 × 56 0.39–0.40
    /// → 0.27–0.30, 384 → 32 at 14 × 14 0.076–0.078 → 0.044–0.046, 64 → 32 at 28 × 28 0.048–0.052 → 0.033–0.038; two
    /// threads the same way or even. Not over 16 input channels (16 → 32 at 112 × 112: 0.24–0.26 against 0.22–0.27),
    /// nor with 16, 24 or 40 channels (MobileNetV2's 32 → 16 at 112 × 112 0.20–0.26 against 0.35; 96 / 144 → 24 even;
    /// EfficientNet-B0's 144 / 240 → 40 at 28 × 28 0.10–0.20 against 0.13–0.23).
    /// </summary>
    bool HalfTileOnVector512(ConvProblem p) =>
        Tier == GemmTier.Vector512 && p.IsPointwise && p.Groups == 1 && p.KPerGroup == ChannelTileKernels.HalfChannels && p.CPerGroup >= 64;

    /// <summary>
    /// On the Vector512 tier channel-tiled also leads a 1x1 layer on a single position (one image, a 1 × 1 plane: a
    /// squeeze-and-excitation block's reduction, a classifier written as a 1x1), a matrix-vector product: its vectors
    /// along the output channels beat gemm-1x1's along the one column even with fewer than 64 channels. `gpuconv plan
    /// --policy exhaustive`, AVX-512, 2 threads: EfficientNet-B0's 1152 → 48 0.021 against 0.041 ms, MobileNetV3-Large's
    /// 672 → 28 0.012 against 0.031. Not on Vector256, where the same run was split (1152 → 48: gemm-1x1 0.026, channel-tiled 0.037).
    /// </summary>
    bool OnePositionOnVector512(ConvProblem p) =>
        Tier == GemmTier.Vector512 && p.IsPointwise && p.YShape.Dims[0] == 1 && p.YShape.SpatialSize == 1;

    /// <summary>
    /// On the Vector256 tier channel-tiled also leads 1x1 layers with 16 or 32 output channels per group: its AVX2 kernels
    /// compute 16-channel quarters (<see cref="ChannelTiledAvx2"/>), so these fill every lane, where on Vector512 a 64-lane
    /// tile would be half empty or worse. Measured against gemm-1x1 (the lead before) on an AVX2-only AMD EPYC (Zen 3),
    /// forced algorithms, four rounds of alternated runs, medians of the per-round medians, 1 / 2 threads:
    /// MobileNetV2's and EfficientNet-B0's 32 → 16 at 112 × 112 0.26 against 0.36 ms (1.38×) / 1.48–1.57×, MobileNetV2's
    /// 144 / 192 → 32 at 28 × 28 1.36–1.43× / 1.24–1.89×. Not with 24 channels (two quarters, a fourth of them empty:
    /// 96 / 144 → 24 at 56 × 56 0.89–1.04× at 1 thread) or 40 (1.09×, within the noise); nor for shallow sums into 64
    /// or more channels on large planes (ResNet-50's 64 → 256 at 56 × 56 0.73–1.10×, MobileNetV2's 16 → 96 at
    /// 112 × 112 0.66–0.73×), which stay with gemm-1x1 as on Vector512 (docs/benchmarks.md).
    /// </summary>
    bool WholeQuartersOnVector256(ConvProblem p) =>
        Tier == GemmTier.Vector256 && p.IsPointwise && p.KPerGroup is 16 or 32;

    /// <summary>
    /// Reduction-split leads backward-filter where the output plane has at least 256 positions. Measured
    /// against im2col-gemm / gemm-1x1 in the same runs (2 threads, AVX-512, batch 8 / batch 1, medians of 9):
    /// ResNet-50's 64-channel 3x3 at 56 × 56 2.40× / 1.69× faster, its 128-channel 3x3 at 28 × 28 1.50× / 1.34×,
    /// the stem 3.08× / 3.42×, the stride-2 3x3 at 56 × 56 1.40× / 1.53×, the 56 × 56 256 → 64 1x1 1.67× /
    /// 1.29×, MobileNetV2's 56 × 56 24 → 144 1.97× / 0.98×, a 32-channel 3x3x3 3.2× / 2.9×, a 1-d 1024-long
    /// 1.23× / 1.24×. On 14 × 14 and 7 × 7 planes with hundreds of channels it was behind (run first: the
    /// 512-channel 3x3 0.68× / 0.36×, the 1024 → 256 1x1 0.75× / 0.46×, MobileNetV2's 96 → 576 0.97× / 0.42×,
    /// the 256-channel 3x3 1.06× / 0.81×): dW's many row blocks each pack dy's chunk again. Depthwise goes to
    /// direct-depthwise (11–23× faster than im2col-gemm on MobileNetV2's at batch 8). It also leads for the
    /// problems its dot-product paths take (<see cref="FilterDots.Applies"/>; on 14 × 14 planes MobileNetV2's
    /// 1x1 layers ran 1.1–2.1× faster than gemm-1x1 at batch 8 and 1).
    /// </summary>
    static bool ReductionSplitFirst(ConvProblem p, GemmTier tier) => p.YShape.SpatialSize >= 256 || FilterDots.Applies(p, tier);

    /// <summary>
    /// At least 64 output channels per group, and at least three quarters of the lanes of the channel
    /// tiles used: whole 64-channel tiles, and a half tile (32) for a remainder of at most 32 channels.
    /// </summary>
    static bool TilesMostlyFull(int kg)
    {
        int width = ChannelTileKernels.Channels, rest = kg % width;
        int padded = kg - rest + (rest == 0 ? 0 : rest <= ChannelTileKernels.HalfChannels ? ChannelTileKernels.HalfChannels : width);
        return kg >= width && kg * 4 >= padded * 3;
    }

    /// <summary>
    /// Shifted-direct leads for shallow sums (C/g × taps ≤ 160) with at least 16 output channels per
    /// group (its tiles are 12 and 8 channels; fewer go through the zero-padded edge tile) and output
    /// rows that fill its 16-pixel vectors to within 4 % (a row's last tile is stored masked, its lanes
    /// computed all the same). Measured against shifted-gemm in the same run (2 threads, AVX-512):
    /// the ResNet-50 and MobileNetV2 stems 7–25 % faster, 112- and 224-wide 3x3 layers with 3–16
    /// channels 2–30 % faster, a 64-wide 5x5 at parity; 56-wide rows (32 + 24 pixels) 3–7 % slower.
    /// The same rule on the Vector256 tier (AVX2 + FMA, 6 × 16 tiles), where channel-tiled led these before: measured
    /// against it on an AVX2-only AMD EPYC (Zen 3), one thread, both forced in one build, alternated processes, medians of
    /// the per-round ratios of three runs (4, 8 and 8 rounds; docs/benchmarks.md, 2026-12-06): ResNet-50's 7x7/2 stem
    /// 1.15–1.20× faster (2.63–2.67 against 3.02–3.15 ms), MobileNetV2's / EfficientNet-B0's 3x3/2 stem 1.22–1.29× (0.32–0.34
    /// against 0.41 ms), a 16 → 32 3x3 on 112 × 112 1.08–1.13×, a 4 → 24 5x5 on 128 × 128 1.54–1.61×; the 1-d encoders at
    /// one thread (FewerRowsThanThreads gives them to im2col-gemm at two) wav2vec 2.0's 1 → 512 k10 s5 1.49–1.55× (0.54–0.56
    /// against 0.81–0.89 ms), Conv-TasNet's 1 → 512 k16 s8 1.33–1.60× (0.98–1.01 against 1.29–1.80).
    /// </summary>
    static bool ShiftedDirectFirst(ConvProblem p)
    {
        int outW = (int)p.YShape.Dims[^1], padded = (outW + 15) / 16 * 16;
        return p.CPerGroup * p.KernelVolume <= 160 && p.KPerGroup >= 16 && (padded - outW) * 25 <= outW;
    }

    /// <summary>
    /// Shifted-direct's tasks are runs of output rows (an image's, a group's), so a problem with fewer rows
    /// than threads leaves threads idle: a 1-d layer at batch 1 is one row, one thread. There im2col-gemm
    /// leads instead (shifted-gemm is slower still). Measured in the same process, runs alternated, 2 threads,
    /// constant weights (ShallowStemTimings, medians of 31 rounds; docs/benchmarks.md): Conv-TasNet's
    /// 1 → 512 k16 s8 encoder im2col-gemm 0.260 ms against shifted-direct's 0.405 (0.64 of its time, per-round
    /// medians), channel-tiled 0.347, shifted-gemm 0.510; wav2vec 2.0's 1 → 512 k10 s5 0.160 against 0.253
    /// (0.62), 0.250, 0.271; under heavy load (the second core mostly taken) still 0.85–0.90. Cutting
    /// shifted-direct's row into 4 channel parts: 0.361 / 0.215 ms, still behind, so not kept.
    /// </summary>
    bool FewerRowsThanThreads(ConvProblem p) =>
        (long)p.N * p.Groups * p.YShape.SpatialSize / p.YShape.Dims[^1] < MaxDegreeOfParallelism;

    /// <summary>
    /// Forward-phases leads for backward-data when its sub-convolutions have at least 8 output channels per
    /// group (dx's channels) or are depthwise; a 1x1 unit-stride one only where its one forward is channel-tiled's with
    /// mostly full tiles of dx channels and at least 80 dy channels to sum (else gemm-1x1, one GEMM already, leads).
    /// The 1x1 rule, per-call weights, batch 1, 2 threads, AVX-512, medians of 2 passes (build/bwf-vs-torch/run.sh --op data
    /// --all, 2026-12-07, s28): forward-phases against gemm-1x1 ResNet-50's 28 × 28 … 7 × 7 layers 0.46–1.00 against
    /// 0.57–1.21 ms (1.1–1.5×), MobileNetV2's / EfficientNet-B0's 96 … 1152 → 64 … 1280 on 14 × 14 and 7 × 7 0.9–1.3× (noisy
    /// single layers either way, e.g. features.12.expand 0.214 against 0.198 in a 9-round rerun); behind with 32–64 dy
    /// channels (MobileNetV2's 144 → 32: 0.079 against 0.044; 192 → 64 at 14 × 14 even) and on large planes with fewer
    /// than 192 (ResNet-50's 256 → 128 at 56 × 56 1.10 against 1.00). On the AVX2 tier (AVX-512 off) the same rule
    /// reads 0.82–1.14× of gemm-1x1's time (layer4.1.conv1 0.92 against 1.12 ms, layer2.1.conv1 1.00 against 0.87).
    /// Measured against gemm-col2im in the same process, runs alternated, 2 threads, AVX-512, batch 1,
    /// constant weights (as the planner times; medians of per-round ratios, docs/benchmarks.md): faster
    /// on every such layer measured — ResNet-50's stride-1 3x3 layers 1.36–1.78×, DCGAN's 4x4 s2 layers
    /// 1.13–2.26×, UNet's 2x2 s2 up-convolutions 1.17–2.09×, FCN's 3x3 s2 1.25×, 3-d 3x3x3 2.07×, depthwise
    /// 3x3 2.3–19.6×, a 32 → 8 3x3 about 2×; with 3 output channels (DCGAN's last layer, 64 → 3) 0.66–0.70×:
    /// the phases' forwards with 3 output channels fill few lanes. With per-call weights where the weights
    /// outweigh the work (DCGAN 1024 → 512 at 4 × 4, ResNet-50's 512-channel 7 × 7) it is 0.89–0.98× of
    /// gemm-col2im: its transform of W is about the forward's own weight packing, on a small layer.
    /// </summary>
    static bool ForwardPhasesFirst(ConvProblem p) => p.IsPointwise
        ? TilesMostlyFull(p.CPerGroup) && p.KPerGroup >= 80 && (p.KPerGroup >= 192 || p.YShape.SpatialSize <= 1024)
        : p.IsDepthwise || p.CPerGroup >= 8;

    /// <summary>
    /// Gemm-shuffle leads wherever it applies except behind forward-phases on deep sums (≥ 512 dy channels
    /// per group), where both run at the FMA peak and the phases' channel-tiled 1x1 forwards edge ahead of its
    /// GEMM: UNet's 1024 → 512 at 28 → 56 7.1–7.3 ms against 7.6–7.8, 512 → 256 at 52 → 104 6.5–6.6 against
    /// 6.85–7.05 (2 threads, constant weights, runs alternated). With shallower sums the phases' dx-sized
    /// temporary and scatter decide: 256 → 128 at 100 → 200 6.3–6.9 ms against 8.8–10.6, 128 → 64 at
    /// 196 → 392 7.3–8.3 against 13.2–13.7, ERFNet's 16 → 20 at 256 × 512 2.2–2.9 against 6.3–6.7.
    /// </summary>
    static bool GemmShuffleBehindPhases(ConvProblem p) => p.KPerGroup >= 512;

    /// <summary>
    /// Weight-stream leads for strided backward-data with at most 64 dy pixels in all, at least 64 dy channels
    /// per group (the GEMM's depth), not depthwise, and at most 4M weights (16 MB, its packed copy stays in L3
    /// for the next call). Measured against forward-phases, runs alternated, 2 threads, constant weights:
    /// DCGAN 512 → 256 at 4 → 8 0.175–0.18 ms against 0.21–0.22, 256 → 128 at 8 → 16 0.173–0.18 against
    /// 0.18–0.19, 512 → 256 at batch 4 0.63–0.64 against 0.71–0.73 (the phases' four fork-joins and scatter
    /// are what it saves). Not where it lost: 16 × 16 dy (DCGAN 128 → 64: 0.21 against 0.186), stride 1
    /// (ResNet-50's 512-channel 7 × 7: one forward, no scatter; 0.68–0.74 against 0.48–0.55), 32 MB of
    /// weights (DCGAN 1024 → 512: even), depthwise (20×).
    /// </summary>
    static bool WeightStreamFirst(ConvProblem p) => !p.Spec.IsUnitStride && !p.IsDepthwise && p.KPerGroup >= 64
        && (long)p.N * p.YShape.SpatialSize <= 64 && p.WShape.ElementCount <= 4L << 20;

    /// <summary>
    /// Winograd F(4x4) leads where F(2x2) would, with at most 512 input channels per group (its fp32 error grows
    /// with the sum's depth: 2.3e-6 – 6.9e-6 at ResNet-50's 64 … 512), at least 256 output pixels, and
    /// products at least 1.5× fewer than F(2x2)'s (36 per 4 × 4 tile against 16 per 2 × 2: 14 × 14 planes,
    /// cut by the tiles' edge, get 1.36×). Measured against F(2x2) in one process, runs alternated, 2 threads,
    /// constant weights (docs/benchmarks.md, 2026-12-05): batch 1 56 × 56 × 64 1.55×, 28 × 28 × 128 1.32×,
    /// 20 × 20 1.12–1.58×, 16 × 16 × 64 1.17×; behind on 14 × 14 (256 channels 0.90×, 128 0.67×) and 7 × 7 × 512
    /// (0.73×: 36 transformed weight sets, 4× the weights, streamed for 4 tiles); batch 8 alike (1.60–1.65×,
    /// 0.95×, 0.67×).
    /// </summary>
    static bool Winograd4x4First(ConvProblem p)
    {
        if (!WinogradFirst(p) || p.CPerGroup > 512 || p.YShape.SpatialSize < 256) return false;
        long h = p.YShape.Dims[^2], w = p.YShape.Dims[^1];
        long f2 = 16 * ((h + 1) / 2) * ((w + 1) / 2), f4 = 36 * ((h + 3) / 4) * ((w + 3) / 4);
        return 2 * f2 >= 3 * f4;
    }

    /// <summary>
    /// With weights that change every call (training), Winograd is offered where the batch's output planes hold at least
    /// 784 positions (28 × 28 at batch 1): its per-call transform writes (m + 2)² × K × C/g floats, which a large plane's
    /// savings repay and a small one's do not. Per-call against channel-tiled (per-call), one / two threads, AVX-512,
    /// batch 1, two rounds (docs/benchmarks.md, s28): 64 → 64 at 56 × 56 F(4x4) 0.93–1.10 against 2.11–2.13 ms / 0.53–0.64
    /// against 1.19–1.20; 128 at 28 × 28 F(2x2) 1.29–1.50 against 2.11–2.15 / 0.80–0.81 against 1.07–1.17; 256 at 28 × 28
    /// 5.0–5.8 against 8.6–8.7; 512 at 28 × 28 28.2–29.2 against 34.2–34.7 / 13.1–14.1 against 17.6; 64 at 28 × 28 0.32
    /// against 0.54–0.57; 32 and 64 at 112 × 112 F(4x4) 1.37–1.38 against 2.29 and 3.56–4.29 against 8.68–9.28. Not on
    /// 14 × 14: 256 channels 1.87–2.48 against 2.16–2.31 (two threads 1.04–1.17 against 1.09–1.14), 128 even.
    /// </summary>
    static bool PerCallWinograd(ConvProblem p) => (long)p.N * p.YShape.SpatialSize >= 784;

    /// <summary>
    /// With per-call weights F(4x4) leads (where it would for constant ones) from 3136 output positions (56 × 56): its
    /// transformed weights are 36 / 16 of F(2x2)'s, which on 28 × 28 planes cost what its fewer products save — in the
    /// runs above F(2x2) / F(4x4) per call: 64 channels 0.32 / 0.32–0.35 ms (two threads 0.20–0.21 / 0.26), 512 channels
    /// 28.2–29.2 / 30.1–31.3 (13.1–14.1 / 17.3–17.5), 128 and 256 even; on 56 × 56 F(4x4) 0.93–1.10 against 1.33–1.43 (64
    /// channels) and 3.40–3.74 against 4.87–4.91 (128).
    /// </summary>
    static bool PerCallWinograd4x4First(ConvProblem p) => (long)p.N * p.YShape.SpatialSize >= 3136;

    /// <summary>
    /// Winograd leads for 3x3 stride-1 layers with at least 32 input channels per group and 100 output
    /// pixels. ResNet-50 at batch 8, two threads, constant weights: its 56 × 56, 28 × 28 and 14 × 14 3x3
    /// layers ran 1.15–1.78× ORT's speed (channel-tiled: 0.84–1.04×); on the 7 × 7 ones at batch 1 the
    /// 16 transformed weight sets (1.8× the weights) streamed for 16 tiles, 0.93× against channel-tiled's 0.98×.
    /// </summary>
    static bool WinogradFirst(ConvProblem p) => p.CPerGroup >= 32 && p.YShape.SpatialSize >= 100 && TilesMostlyFull(p.KPerGroup);

    bool Applies(ConvProblem p, string name) => name switch
    {
        DirectDepthwise => (p.Op == ConvOp.Forward && CanDepthwise(p)) || (p.Op == ConvOp.BackwardFilter && p.IsDepthwise)
            || DepthwiseBackwardDataStride2.Applies(p),
        ReductionSplit => p.Op == ConvOp.BackwardFilter,
        Gemm1x1 => p.IsPointwise,
        ShiftedGemm => p.Op == ConvOp.Forward && !p.IsPointwise && CanShift(p),
        ShiftedDirect => p.Op == ConvOp.Forward && !p.IsPointwise && !p.IsDepthwise && CanShift(p)
            && Cpu.Shifted.ShiftedDirect.Applies(ConvGeometry.Of(p), p.CPerGroup * (int)p.KernelVolume, Tier),
        ChannelTiled => p.Op == ConvOp.Forward && !p.IsDepthwise && ChannelTiledConv.Supported(Tier) && (p.IsPointwise || CanShift(p)),
        // Channel-tiled too: a Winograd algorithm run with per-call weights (offered for constant ones only, see
        // GetAlgorithms, but a caller may pass its own) runs channel-tiled.
        Winograd or Winograd4x4 => p.KPerGroup >= ChannelTileKernels.HalfChannels && Winograd3x3.Applies(ConvGeometry.Of(p), Tier) && Applies(p, ChannelTiled),
        Im2ColGemm => p.Op != ConvOp.BackwardData,
        GemmCol2Im => p.Op == ConvOp.BackwardData,
        ForwardPhases => p.Op == ConvOp.BackwardData && PlanOf(p) != null,
        GemmShuffle => GemmPixelShuffle.Applies(p),
        WeightStream => WeightStreamBackwardData.Applies(p),
        _ => false,
    };

    static ConvAlgorithm Algorithm(string name, int id, long floats) =>
        new(BackendName, name, id, floats * sizeof(float), Deterministic: true);

    static bool CanShift(ConvProblem p) =>
        Cpu.Shifted.ShiftedGemm.SharedFloats(ConvGeometry.Of(p), p.N, p.C) <= Array.MaxLength / 2;

    static bool CanDepthwise(ConvProblem p) => p.IsDepthwise && p.KernelVolume <= DepthwiseDirect.MaxTaps;

    /// <summary>Per-run workspace of an algorithm: every thread's column tile and GEMM packing buffers.</summary>
    long WorkspaceFloats(ConvProblem p, string algorithm)
    {
        int threads = MaxDegreeOfParallelism;
        var g = ConvGeometry.Of(p);
        int cols = (int)p.YShape.SpatialSize, rows = p.CPerGroup * (int)p.KernelVolume;
        int outer = p.N * p.Groups;
        long perThread;
        switch (algorithm)
        {
            case DirectDepthwise when p.Op == ConvOp.BackwardData:
                return 0;
            case DirectDepthwise when p.Op == ConvOp.BackwardFilter:
            {
                // Small planes: the channel-blocked kernel first (its scratch per worker, its per-image sums shared).
                bool blocked = DepthwiseFilterGradientBlocked.Applies(g, p.KPerGroup, p.C, Tier);
                perThread = Math.Max(DepthwiseFilterGradient.ScratchFloats(g, p.KPerGroup) + DepthwiseDirect.TableInts(g),
                    blocked ? DepthwiseFilterGradientBlocked.ScratchFloats(g) : 0);
                return perThread * threads + (blocked ? DepthwiseFilterGradientBlocked.SharedFloats(g, p.N, p.C) : 0);
            }
            case ReductionSplit:
            {
                if (FilterDots.Applies(p, Tier))
                    return FilterDots.SharedFloats(p, threads);
                var plan = ReductionSplitFilter.Plan.Of(p, threads);
                return ReductionSplitFilter.TaskFloats(p, plan, Tier) * threads + ReductionSplitFilter.SharedFloats(p, plan);
            }
            case DirectDepthwise:
                perThread = Math.Max(DepthwiseDirect.ScratchFloats(g) + DepthwiseDirect.TableInts(g),
                    Math.Max(DepthwiseBlocked.Applies(g, p.KPerGroup, p.C) ? DepthwiseBlocked.ScratchFloats(g) : 0,
                    Math.Max(DepthwiseChannelLast.Applies(g, p.KPerGroup, p.C) ? DepthwiseChannelLast.ScratchFloats(g) : 0,
                        Math.Max(Depthwise3x3Avx2.Applies(g, p.KPerGroup) ? Depthwise3x3Avx2.ScratchFloats(g) : 0,
                            Math.Max(DepthwiseChannelLastAvx2.Applies(g, p.KPerGroup, p.C, Tier) ? DepthwiseChannelLastAvx2.ScratchFloats(g) : 0,
                                DepthwiseBlockedAvx2.Applies(g, p.KPerGroup, p.C, Tier) ? DepthwiseBlockedAvx2.ScratchFloats(g) : 0)))));
                break;
            case ShiftedGemm:
            {
                var t = ConvTiling.For(outer, p.KPerGroup, Cpu.Phases.StridePhaseLayout.Of(g).Cols, rows, threads, Tier);
                if (Cpu.Shifted.ShiftedGemm.Unpacked(Tier))
                    return Cpu.Shifted.ShiftedGemm.UnpackedTaskFloats(t, rows, Tier) * threads + Cpu.Shifted.ShiftedGemm.SharedFloats(g, p.N, p.C);
                perThread = (long)t.RowTile * t.ColTile + Sgemm.PackFloats(t.RowTile, t.ColTile, rows, Tier);
                return perThread * threads + Cpu.Shifted.ShiftedGemm.SharedFloats(g, p.N, p.C) + SharedPackedB(t, outer, rows, plainB: false);
            }
            case ShiftedDirect:
                return Cpu.Shifted.ShiftedDirect.TaskFloats(g, p.N, p.Groups, p.CPerGroup, rows, threads) * threads + Cpu.Shifted.ShiftedDirect.SharedFloats(g, p.N, p.C, rows, p.K);
            case ChannelTiled:
            {
                long shared = ChannelPanels.Floats(p.Groups, p.KPerGroup, rows) + 2L * (rows + cols + 8 + (long)g.InD * g.InH) + p.KernelVolume
                    + (p.Spec.IsUnpadded ? 0 : Cpu.Shifted.ShiftedGemm.SharedFloats(g, p.N, p.C));   // at most; small inputs are padded per worker instead
                return ChannelTiledConv.TaskFloats(g, cols, p.CPerGroup, outer, p.Spec.IsUnpadded, Tier) * threads + shared;
            }
            case Winograd:
                // Shared: the transformed panels of per-call weights; or channel-tiled's workspace, where it runs instead (non-finite inputs).
                return Math.Max(Winograd3x3.TaskFloats<F2x2>(g, p.CPerGroup) * threads + Winograd3x3.PanelFloats<F2x2>(p.Groups, p.KPerGroup, p.CPerGroup), WorkspaceFloats(p, ChannelTiled));
            case Winograd4x4:
                return Math.Max(Winograd3x3.TaskFloats<F4x4>(g, p.CPerGroup) * threads + Winograd3x3.PanelFloats<F4x4>(p.Groups, p.KPerGroup, p.CPerGroup), WorkspaceFloats(p, ChannelTiled));
            case GemmShuffle:
                // + Wᵀ where the weights come per call (constant ones are kept beside the workspace, as packed panels are).
                return GemmPixelShuffle.TaskFloats(p, threads, Tier) * threads + (GemmPixelShuffle.TakesTransposed(p) ? GemmPixelShuffle.TransposedFloats(p) : 0);
            case WeightStream:
                // + the packed W of per-call weights.
                return WeightStreamBackwardData.TaskFloats(p, threads, Tier) * threads + WeightStreamBackwardData.PackedFloats(p, threads, Tier);
            case ForwardPhases:
            {
                // The sub-runs use the shared and per-worker workspaces one after another; the phases' outputs
                // and the per-call sub-kernels are held beside them.
                var plan = PlanOf(p)!;
                long sub = 0;
                foreach (var ph in plan.Phases)
                    if (ph.Sub is { } q) sub = Math.Max(sub, WorkspaceFloats(q, ph.Algorithm));
                return sub + plan.TempFloats + plan.ScratchFloats + 128L * (p.KernelVolume + 15) * threads;   // + the transform's padded and tap-major blocks per worker
            }
            case Gemm1x1 when p.Op == ConvOp.Forward:
            {
                var t = ConvTiling.For(outer, p.KPerGroup, cols, p.CPerGroup, threads, Tier);
                perThread = Sgemm.PackFloats(t.RowTile, t.ColTile, p.CPerGroup, Tier);
                return perThread * threads + SharedPackedB(t, outer, p.CPerGroup, plainB: true);
            }
            case Gemm1x1:
                perThread = p.Op switch
                {
                    ConvOp.Forward => Sgemm.PackFloats(p.KPerGroup, cols, p.CPerGroup, Tier),
                    ConvOp.BackwardData => Sgemm.PackFloats(p.CPerGroup, cols, p.KPerGroup, Tier),
                    _ => Sgemm.PackFloats(p.KPerGroup, p.CPerGroup, cols, Tier),
                };
                break;
            default:
                if (p.Op == ConvOp.Forward)
                {
                    var t = ConvTiling.For(outer, p.KPerGroup, cols, rows, threads, Tier);
                    perThread = Sgemm.PackFloats(t.RowTile, t.ColTile, rows, Tier);   // im2col packs straight into B panels
                    return perThread * threads + SharedPackedB(t, outer, rows, plainB: false);
                }
                else
                {
                    var (tile, _) = ConvTiling.Channels(p.Op == ConvOp.BackwardData ? outer : p.Groups, p.CPerGroup, p.KernelVolume * cols, threads);
                    long colRows = tile * p.KernelVolume;
                    perThread = colRows * cols + (p.Op == ConvOp.BackwardData
                        ? Sgemm.PackFloats((int)colRows, cols, p.KPerGroup, Tier)
                        : Sgemm.PackFloats(p.KPerGroup, (int)colRows, cols, Tier));
                    // Few dx channels: the small-rows GEMM's A panel and edge instead of the packing buffers.
                    if (p.Op == ConvOp.BackwardData && CpuBackwardData.SmallRows((int)colRows, Tier))
                        perThread = Math.Max(perThread, colRows * cols + SmallRowsGemm.PanelFloats(p.KPerGroup) + SmallRowsGemm.EdgeFloats(p.KPerGroup));
                }
                break;
        }
        return perThread * threads;
    }

    /// <summary>The run-wide B that row tiles share when an output is split by rows (see PrepackedB).</summary>
    long SharedPackedB(ConvTiling t, int outer, int depth, bool plainB) =>
        PrepackedB.Worth(t, Tier, plainB) ? PrepackedB.Stride(t, depth, Tier) * outer * t.ColTiles : 0;
}
