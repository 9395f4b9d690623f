using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using GpuConv.Tests.Cpu;

namespace GpuConv.Tests.Review;

/// <summary>
/// The CPU backend's fused bias + activation against its plain run followed by the element-wise op, on random shapes
/// beyond the fixed layer list: 1-d to 3-d, batch up to 3, grouped and depthwise, strides, padding, tiny outputs and
/// tails, every candidate algorithm, with and without accumulate. SiLU is not idempotent, so an activation applied twice
/// (or to the sums before the bias or the accumulated add) shows in the bits; ReLU6 checks the clamp; hardswish (and, on
/// alternate seeds, sigmoid or hardsigmoid, and GELU or its tanh form) the activations that run as a region pass like SiLU.
/// </summary>
[TestFixture, NonParallelizable]
public class FusedActivationFuzzTests
{
    /// <summary>A 2-d 3x3 stride-1 layer with at least 32 output channels per group: Winograd's shapes, odd sizes for the tile tails.</summary>
    static ConvProblem WinogradProblem(Random r)
    {
        int groups = r.Next(1, 3), c = r.Next(4, 40), k = r.Next(32, 72), h = r.Next(3, 20), w = r.Next(3, 20), pad = r.Next(0, 2);
        var spec = new ConvSpec([3, 3], padBegin: [pad], groups: groups);
        return ConvProblem.Create(spec, new TensorShape(r.Next(1, 3), groups * c, h + 2 - 2 * pad, w + 2 - 2 * pad), new TensorShape(groups * k, c, 3, 3), ConvOp.Forward);
    }

    static ConvProblem RandomProblem(Random r, bool big)
    {
        int rank = r.Next(1, 4);
        int groupsKind = r.Next(3);
        int cPerGroup = r.Next(1, 7), kPerGroup = r.Next(1, 7);
        int groups = groupsKind == 0 ? 1 : groupsKind == 1 ? 2 : r.Next(2, 9);
        if (groupsKind == 2) { cPerGroup = 1; kPerGroup = r.Next(1, 3); }
        if (big) { cPerGroup = r.Next(8, 40); kPerGroup = r.Next(8, 40); if (groupsKind == 2) { cPerGroup = 1; kPerGroup = 1; groups = r.Next(16, 70); } }
        int n = r.Next(1, 4);
        var kernel = new int[rank]; var stride = new int[rank]; var pad = new int[rank]; var spatial = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            kernel[d] = r.Next(4) switch { 0 => 1, 1 => 3, 2 => 3, _ => r.Next(1, 6) };
            stride[d] = r.Next(3) == 0 ? 2 : 1;
            pad[d] = r.Next(0, Math.Min(kernel[d], 3));
            int max = rank == 1 ? 70 : rank == 2 ? (big ? 30 : 20) : 7;
            if (big && rank == 3) max = 4;
            spatial[d] = r.Next(kernel[d], max + kernel[d]);
        }
        var spec = new ConvSpec(kernel, stride, padBegin: pad, groups: groups);
        var xShape = new TensorShape([n, groups * cPerGroup, .. spatial]);
        var wShape = new TensorShape([groups * kPerGroup, cPerGroup, .. kernel]);
        return ConvProblem.Create(spec, xShape, wShape, ConvOp.Forward);
    }

    [Test]
    public void FusedEqualsPlainThenElementwiseOnRandomShapes([Range(0, 15)] int block, [Values] bool vector256)
    {
        var tier = vector256 ? GemmTier.Vector256 : GemmTier.Vector512;
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"skipped: {tier} is not accelerated here (best {GemmTiers.Best})");
        using var backend = new CpuBackend(2, tier);
        IFusedBiasActivation fusing = backend;
        var failures = new List<string>();
        int runs = 0;
        for (int c = 0; c < (block >= 6 ? 10 : 25); c++)
        {
            int seed = block * 1000 + c;
            var problem = block >= 12 ? WinogradProblem(new Random(seed)) : RandomProblem(new Random(seed), big: block >= 6);
            var x = HostTensor.Random(problem.XShape, seed);
            var w = HostTensor.Random(problem.WShape, seed + 1);
            var bias = HostTensor.Random(new TensorShape(problem.BiasLength), seed + 2);
            for (int i = 0; i < bias.Data.Length; i++) bias.Data[i] *= 6f;
            var initial = HostTensor.Random(problem.YShape, seed + 3);
            for (int i = 0; i < initial.Data.Length; i++) initial.Data[i] *= 4f;
            foreach (bool constant in new[] { false, true })
            {
                var p = problem.WithConstantWeights(constant);
                foreach (var algorithm in backend.GetAlgorithms(p, ConvPrecision.Strict))
                    foreach (bool accumulate in new[] { false, true })
                        foreach (var act in new[] { Activation.Silu, Activation.Relu6, Activation.Hardswish, c % 2 == 0 ? Activation.Sigmoid : Activation.Hardsigmoid,
                            c % 2 == 0 ? Activation.Gelu : Activation.GeluTanh })
                        {
                            var unfused = new HostTensor(p.YShape);
                            var fused = new HostTensor(p.YShape);
                            if (accumulate) { initial.Data.CopyTo(unfused.Data, 0); initial.Data.CopyTo(fused.Data, 0); }
                            backend.Run(p, algorithm, new ConvTensors(x, w, unfused, bias) { ConstantWeights = constant, Accumulate = accumulate });
                            CpuElementwise.Run(ConvEngine.ActivationOp(act), unfused.Data, default, 0f, unfused.Data);
                            bool took = fusing.TryRunBiasActivation(p, algorithm, new ConvTensors(x, w, fused, bias) { ConstantWeights = constant, Accumulate = accumulate }, act);
                            runs++;
                            string name = $"seed {seed} {p} {algorithm.Name} {(constant ? "constant" : "per-call")} {(accumulate ? "accumulate " : "")}{act}";
                            if (!took) { failures.Add($"{name}: declined"); continue; }
                            int at = CpuFusedActivationTests.FirstDifference(fused.Data, unfused.Data);
                            if (at >= 0) failures.Add($"{name}: element {at} fused {fused.Data[at]:R} unfused {unfused.Data[at]:R}");
                        }
            }
        }
        TestContext.Out.WriteLine($"{runs} fused runs");
        Assert.That(runs, Is.GreaterThan(block >= 6 ? 40 : 100));
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(20)));
    }
}
