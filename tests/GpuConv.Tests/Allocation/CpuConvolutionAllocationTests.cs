using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Allocation;

/// <summary>A layer the CPU allocation tests run every op and every candidate algorithm of.</summary>
public sealed record CpuLayer(string Name, ConvSpec Spec, TensorShape X, TensorShape W)
{
    public override string ToString() => Name;
}

/// <summary>
/// What a warm CPU convolution allocates in the whole process (<c>GC.GetTotalAllocatedBytes(precise: true)</c>: the
/// work runs on the backend's worker threads, not only the calling one), for every op and every candidate algorithm
/// the cpu backend offers (with per-call and with constant weights) on a set of layers that between them reach every
/// algorithm family, on the Vector512 and the Vector256 tier, each backend on 2 threads, so that the parallel loops
/// hand tasks to a worker. Run straight on the backend: the engine above it is <see cref="WarmCallAllocationTests"/>'.
/// Bound: 0 B per warm call.
/// </summary>
[TestFixture, NonParallelizable]
public class CpuConvolutionAllocationTests
{
    static ConvSpec Spec(int[] kernel, int pad = 0, int stride = 1, int dilation = 1, int groups = 1, bool transposed = false, int[]? padEnd = null) =>
        new(kernel, stride: [stride], dilation: [dilation], padBegin: [pad], padEnd: padEnd ?? [pad], groups: groups, transposed: transposed);

    internal static readonly CpuLayer[] Layers =
    [
        new("3x3 64ch 14x14", Spec([3, 3], pad: 1), new(1, 64, 14, 14), new(64, 64, 3, 3)),
        new("3x3 16ch 12x12 batch 2", Spec([3, 3], pad: 1), new(2, 16, 12, 12), new(16, 16, 3, 3)),
        new("1x1 64->128 14x14", Spec([1, 1]), new(1, 64, 14, 14), new(128, 64, 1, 1)),
        new("1x1 stride 2", Spec([1, 1], stride: 2), new(1, 32, 14, 14), new(64, 32, 1, 1)),
        new("3x3 stride 2", Spec([3, 3], pad: 1, stride: 2), new(1, 32, 14, 14), new(64, 32, 3, 3)),
        new("2x2 stride 2", Spec([2, 2], stride: 2), new(1, 16, 12, 12), new(32, 16, 2, 2)),
        new("7x7 stride 2 stem", Spec([7, 7], pad: 3, stride: 2), new(1, 3, 32, 32), new(16, 3, 7, 7)),
        new("3x3 stem 3ch", Spec([3, 3], pad: 1, stride: 2), new(1, 3, 32, 32), new(32, 3, 3, 3)),
        new("depthwise 3x3", Spec([3, 3], pad: 1, groups: 32), new(1, 32, 14, 14), new(32, 1, 3, 3)),
        new("depthwise 3x3 stride 2", Spec([3, 3], pad: 1, stride: 2, groups: 32), new(1, 32, 15, 15), new(32, 1, 3, 3)),
        new("depthwise 5x5 7x7 plane", Spec([5, 5], pad: 2, groups: 40), new(2, 40, 7, 7), new(40, 1, 5, 5)),
        new("depthwise 5x5 20x20", Spec([5, 5], pad: 2, groups: 24), new(1, 24, 20, 20), new(24, 1, 5, 5)),
        new("depthwise 4x4 multiplier 2", Spec([4, 4], pad: 1, groups: 8), new(1, 8, 9, 9), new(16, 1, 4, 4)),
        new("depthwise 3x3 20ch 6x6", Spec([3, 3], pad: 1, groups: 20), new(2, 20, 6, 6), new(20, 1, 3, 3)),
        new("depthwise 7x7 24ch 9x11", Spec([7, 7], pad: 3, groups: 24), new(1, 24, 9, 11), new(24, 1, 7, 7)),
        new("grouped 3x3 dilation 2", Spec([3, 3], pad: 2, dilation: 2, groups: 2), new(1, 16, 10, 10), new(16, 8, 3, 3)),
        new("asymmetric pad", Spec([3, 3], pad: 1, padEnd: [2]), new(1, 8, 9, 9), new(8, 8, 3, 3)),
        new("1-d k5", Spec([5], pad: 2), new(2, 16, 64), new(32, 16, 5)),
        new("3-d 3x3x3", Spec([3, 3, 3], pad: 1), new(1, 8, 6, 6, 6), new(8, 8, 3, 3, 3)),
        new("transposed 4x4 stride 2", Spec([4, 4], pad: 1, stride: 2, transposed: true), new(1, 32, 7, 7), new(32, 16, 4, 4)),
        new("transposed 3x3 stride 2", Spec([3, 3], pad: 1, stride: 2, transposed: true), new(1, 16, 8, 8), new(16, 8, 3, 3)),
        new("3x3 256ch 7x7", Spec([3, 3], pad: 1), new(1, 256, 7, 7), new(256, 256, 3, 3)),
    ];

    static IEnumerable<TestCaseData> Cases()
    {
        foreach (var tier in new[] { GemmTier.Vector512, GemmTier.Vector256 })
            foreach (var layer in Layers)
                yield return new TestCaseData(layer, tier).SetArgDisplayNames(layer.Name, tier.ToString());
    }

    static readonly ConvOp[] Ops = [ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter];

    /// <summary>Every algorithm the cpu backend has.</summary>
    static readonly string[] Algorithms =
    [
        CpuBackend.Im2ColGemm, CpuBackend.GemmCol2Im, CpuBackend.Gemm1x1, CpuBackend.DirectDepthwise, CpuBackend.ShiftedGemm,
        CpuBackend.ChannelTiled, CpuBackend.Winograd, CpuBackend.Winograd4x4, CpuBackend.ShiftedDirect, CpuBackend.ForwardPhases,
        CpuBackend.GemmShuffle, CpuBackend.WeightStream, CpuBackend.ReductionSplit,
    ];

    [TestCaseSource(nameof(Cases))]
    public void EveryCandidateOfEveryOpAllocatesNothingWhenWarm(CpuLayer layer, GemmTier tier)
    {
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"skipped: {tier} is not accelerated here (best {GemmTiers.Best})");
        using var backend = new CpuBackend(2, tier);
        var failures = new List<string>();
        foreach (var op in Ops)
        {
            var problem = ConvProblem.Create(layer.Spec, layer.X, layer.W, op);
            var x = HostTensor.Random(problem.XShape, 1);
            var w = HostTensor.Random(problem.WShape, 2);
            var y = HostTensor.Random(problem.YShape, 3);
            var bias = problem.Op == ConvOp.BackwardFilter ? null : HostTensor.Random(new TensorShape(problem.BiasLength), 4);
            foreach (bool constant in new[] { false, true })
            {
                var p = problem.WithConstantWeights(constant);
                var tensors = new ConvTensors(x, w, y, bias) { ConstantWeights = constant };
                foreach (var algorithm in backend.GetAlgorithms(p, ConvPrecision.Strict))
                {
                    double bytes = WarmCalls.ProcessBytesPerCall(() => backend.Run(p, algorithm, tensors));
                    string row = $"{layer.Name} {tier} {problem.Op} {(constant ? "constant" : "per-call")} weights, {algorithm.Name}: {bytes:F1} B per call";
                    TestContext.Out.WriteLine(row);
                    if (bytes >= 1) failures.Add(row);
                }
            }
        }
        Assert.That(failures, Is.Empty);
    }

    /// <summary>Counts each task's runs into its slot (<paramref name="scale"/> apart, so two loop types touch different slots).</summary>
    readonly struct CountingLoop(int[] hits, int scale) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace) => Interlocked.Add(ref hits[task], scale);
    }

    readonly struct OtherCountingLoop(int[] hits) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace) => Interlocked.Add(ref hits[task], 1000);
    }

    /// <summary>
    /// The workers themselves: jobs of two struct loop types, alternating, with task counts from 2 to 40 (late workers meet
    /// a reused runner and the next job's count), run every task exactly once and, warm, allocate nothing on any thread.
    /// </summary>
    [Test]
    public void TheWorkersRunStructLoopsOnceEachWithoutAllocating()
    {
        using var workers = new CpuWorkers(3);
        var hits = new int[40];
        for (int round = 0; round < 2000; round++)
        {
            int count = 2 + round * 7 % 39;
            Array.Clear(hits);
            if (round % 2 == 0) workers.For(count, new CountingLoop(hits, 1));
            else workers.For(count, new OtherCountingLoop(hits));
            int expected = round % 2 == 0 ? 1 : 1000;
            for (int i = 0; i < hits.Length; i++)
                if (hits[i] != (i < count ? expected : 0))
                    Assert.Fail($"round {round}, {count} tasks: task {i} counted {hits[i]}, expected {(i < count ? expected : 0)}");
        }
        double bytes = WarmCalls.ProcessBytesPerCall(() =>
        {
            workers.For(17, new CountingLoop(hits, 1));
            workers.For(5, new OtherCountingLoop(hits));
        });
        Assert.That(bytes, Is.LessThan(1), $"{bytes:F1} B per pair of jobs");
    }

    /// <summary>
    /// The layers reach every algorithm of the backend that this CPU's widest tier runs, so every family is held at 0 B.
    /// Shifted-direct has AVX-512 and AVX2 + FMA kernels: below those its layers go to shifted-gemm. Channel-tiled and
    /// both Winograds run on the channel-tile kernels, which exist on the same two tiers only: on the Vector128 tier
    /// (NEON on ARM64, SSE-only x86) their layers go to im2col-gemm and the other families.
    /// </summary>
    [Test]
    public void TheLayersReachEveryAlgorithm()
    {
        using var backend = new CpuBackend(2);
        var reached = new HashSet<string>();
        foreach (var layer in Layers)
            foreach (var op in Ops)
                foreach (bool constant in new[] { false, true })
                {
                    var p = ConvProblem.Create(layer.Spec, layer.X, layer.W, op).WithConstantWeights(constant);
                    reached.UnionWith(backend.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name));
                }
        bool shiftedDirect = (backend.Tier == GemmTier.Vector512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            || (backend.Tier == GemmTier.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported);
        bool channelTiles = ChannelTileTier.HasKernels;
        var expected = Algorithms.Where(a => (shiftedDirect || a != CpuBackend.ShiftedDirect)
            && (channelTiles || a is not (CpuBackend.ChannelTiled or CpuBackend.Winograd or CpuBackend.Winograd4x4)));
        Assert.That(expected.Except(reached), Is.Empty, $"tier {backend.Tier}");
    }
}
