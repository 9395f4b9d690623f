using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// Repeated runs of the same problem allocate nothing on the calling thread: workspaces are pooled, the run context
/// is the backend's own, and the parallel loops take struct bodies. (Shape and geometry helpers that built arrays and
/// LINQ iterators on every call once added 1.3–2.9 KB per call; the fork-join jobs' closures 160–590 B.)
/// </summary>
public class CpuAllocationTests
{
    static IEnumerable<TestCaseData> Problems()
    {
        yield return new TestCaseData(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(64, 64, 3, 3)).SetName("3x3, 64 channels");
        yield return new TestCaseData(new ConvSpec([1, 1]), new TensorShape(1, 64, 28, 28), new TensorShape(256, 64, 1, 1)).SetName("1x1");
        yield return new TestCaseData(new ConvSpec([3, 3], [1], padBegin: [1], groups: 32), new TensorShape(1, 32, 14, 14), new TensorShape(32, 1, 3, 3)).SetName("depthwise 3x3");
        yield return new TestCaseData(new ConvSpec([7, 7], [2], padBegin: [3]), new TensorShape(1, 3, 64, 64), new TensorShape(16, 3, 7, 7)).SetName("7x7 stride 2");
    }

    [TestCaseSource(nameof(Problems))]
    public void SteadyStateRunsAllocateNothing(ConvSpec spec, TensorShape x, TensorShape w)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(spec, x, w);
        var algorithm = cpu.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var tensors = new ConvTensors(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(p.YShape),
            HostTensor.Random(new TensorShape(p.K), 3)) { ConstantWeights = true };
        double perCall = SteadyStateAllocation.BytesPerCall(cpu, p, algorithm, tensors, calls: 200);

        Assert.That(perCall, Is.Zero, $"{algorithm.Key} on {p}: {perCall:F1} bytes per call");
    }

    static IEnumerable<TestCaseData> TransposedProblems()
    {
        yield return new TestCaseData(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(64, 64, 3, 3)).SetName("backward-data 3x3 stride 1");
        yield return new TestCaseData(new ConvSpec([4, 4], [2], padBegin: [1]), new TensorShape(1, 64, 16, 16), new TensorShape(64, 64, 4, 4)).SetName("backward-data 4x4 stride 2");
        yield return new TestCaseData(new ConvSpec([2, 2], [2]), new TensorShape(1, 64, 16, 16), new TensorShape(64, 64, 2, 2)).SetName("backward-data 2x2 stride 2");
    }

    /// <summary>
    /// Forward-phases runs one forward per phase and one scatter (a strided problem): no array (no sub-kernel, no
    /// temporary) per call, with constant and with per-call weights.
    /// </summary>
    [TestCaseSource(nameof(TransposedProblems))]
    public void SteadyStateForwardPhasesAllocateNothing(ConvSpec spec, TensorShape x, TensorShape w)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(spec, x, w, ConvOp.BackwardData);
        // By name: gemm-shuffle leads the 2x2 stride-2 case.
        var algorithm = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ForwardPhases);
        AssertNothingAllocated(cpu, p, algorithm);
    }

    /// <summary>Weight-stream (and, with per-call weights, its packing of W): no array per call.</summary>
    [Test]
    public void SteadyStateWeightStreamAllocatesNothing()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(new ConvSpec([4, 4], [2], padBegin: [1]), new TensorShape(1, 128, 8, 8), new TensorShape(256, 128, 4, 4), ConvOp.BackwardData);
        var algorithm = cpu.GetAlgorithms(p, ConvPrecision.Strict)[0];
        Assert.That(algorithm.Name, Is.EqualTo(CpuBackend.WeightStream));
        AssertNothingAllocated(cpu, p, algorithm);
    }

    static IEnumerable<TestCaseData> ShuffleProblems()
    {
        yield return new TestCaseData(new ConvSpec([2, 2], [2]), new TensorShape(1, 64, 32, 32), new TensorShape(32, 64, 2, 2)).SetName("gemm-shuffle 2x2 stride 2");
        yield return new TestCaseData(new ConvSpec([4, 4]), new TensorShape(1, 512, 4, 4), new TensorShape(100, 512, 4, 4)).SetName("gemm-shuffle 1x1 -> 4x4");
    }

    /// <summary>Gemm-shuffle (and, with per-call weights, its Wᵀ): no array per call, the cached Wᵀ of constant weights reused.</summary>
    [TestCaseSource(nameof(ShuffleProblems))]
    public void SteadyStateGemmShuffleAllocatesNothing(ConvSpec spec, TensorShape x, TensorShape w)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(spec, x, w, ConvOp.BackwardData);
        var algorithm = cpu.GetAlgorithms(p, ConvPrecision.Strict)[0];
        Assert.That(algorithm.Name, Is.EqualTo(CpuBackend.GemmShuffle));
        AssertNothingAllocated(cpu, p, algorithm);
    }

    /// <summary>A backward-data run with constant and with per-call weights allocates nothing (bias included, dx written over).</summary>
    static void AssertNothingAllocated(CpuBackend cpu, ConvProblem p, ConvAlgorithm algorithm)
    {
        foreach (bool constant in new[] { true, false })
        {
            var tensors = new ConvTensors(new HostTensor(p.XShape), HostTensor.Random(p.WShape, 2), HostTensor.Random(p.YShape, 1),
                HostTensor.Random(new TensorShape(p.C), 3)) { ConstantWeights = constant };
            double perCall = SteadyStateAllocation.BytesPerCall(cpu, p, algorithm, tensors);
            Assert.That(perCall, Is.Zero, $"{p}, constant weights {constant}: {perCall:F1} bytes per call");
        }
    }
}
