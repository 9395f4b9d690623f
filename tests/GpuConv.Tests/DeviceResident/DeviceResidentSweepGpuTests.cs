using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// Every device-resident entry point (Forward with bias, ForwardBiasActivation, BackwardData, BackwardFilter,
/// BackwardBias; each overwriting and accumulating) on layers of every kind (1-d with asymmetric padding, grouped and
/// dilated 2-d, transposed with output padding, 3-d, depthwise, 1x1) on the GPU engine — the planner's choice, cuDNN
/// forced, ptx forced — against the same call on a CPU engine running the float64 reference backend. The GPU
/// backends' own tests check each algorithm; this checks the engine's plumbing between the public calls and them
/// (which tensor a transposed layer writes, where bias and ReLU go, what accumulate adds to), which once sent a
/// transposed layer's bias to its input; and the host-tensor overloads on the GPU engine. Strict fp32: max relative error 1e-5 (cuDNN's transform-based
/// algorithms 1e-4).
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class DeviceResidentSweepGpuTests
{
    static readonly (string Name, ConvSpec Spec, int[] Input, int[] Filter)[] Layers =
    [
        ("1-d asymmetric", new ConvSpec([3], stride: [2], padBegin: [1], padEnd: [2]), [2, 4, 11], [6, 4, 3]),
        ("2-d grouped dilated", new ConvSpec([3, 3], padBegin: [2], dilation: [2], groups: 2), [1, 4, 7, 6], [6, 2, 3, 3]),
        ("2-d transposed", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2).AsTransposed([1, 1]), [1, 4, 4, 5], [4, 3, 3, 3]),
        ("3-d", new ConvSpec([3, 3, 3], padBegin: [1]), [1, 3, 4, 5, 4], [4, 3, 3, 3, 3]),
        ("depthwise stride 2", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 6), [2, 6, 9, 9], [6, 1, 3, 3]),
        ("1x1", new ConvSpec([1, 1]), [2, 8, 5, 5], [12, 8, 1, 1]),
    ];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var backend in new string?[] { null, "cudnn", "ptx" })
            foreach (var (name, _, _, _) in Layers)
                yield return new TestCaseData(backend, name).SetArgDisplayNames(backend ?? "planner", name);
    }

    [TestCaseSource(nameof(Cases))]
    public void EveryCallMatchesTheReferenceEngine(string? backend, string layer)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var (_, spec, inputDims, filterDims) = Layers.Single(l => l.Name == layer);
        using var gpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false, Policy = PlanPolicy.Heuristic });
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));

        var inputShape = new TensorShape(inputDims);
        var filterShape = new TensorShape(filterDims);
        var p = ConvProblem.Create(spec, inputShape, filterShape);
        var outputShape = p.OutputShape;
        var x = HostTensor.Random(inputShape, 1);
        var w = HostTensor.Random(filterShape, 2);
        var b = HostTensor.Random(new TensorShape(outputShape.C), 3);
        var dy = HostTensor.Random(outputShape, 4);

        // Each call: (what it computes on an engine given its initial output, the output's shape).
        var calls = new (string Name, TensorShape Out, Func<ConvEngine, Tensor[], Tensor, bool, Tensor> Run)[]
        {
            ("Forward + bias", outputShape, (e, t, o, acc) => e.Forward(spec, t[0], t[1], t[2], output: o, accumulate: acc)),
            ("ForwardBiasActivation relu", outputShape, (e, t, o, acc) => e.ForwardBiasActivation(spec, t[0], t[1], t[2], Activation.Relu, output: o, accumulate: acc)),
            ("BackwardData", inputShape, (e, t, o, acc) => e.BackwardData(spec, t[3], t[1], inputShape, output: o, accumulate: acc)),
            ("BackwardFilter", filterShape, (e, t, o, acc) => e.BackwardFilter(spec, t[0], t[3], filterShape, output: o, accumulate: acc)),
            ("BackwardBias", new TensorShape(outputShape.C), (e, t, o, acc) => e.BackwardBias(t[3], output: o, accumulate: acc)),
        };
        var failures = new List<string>();
        int seed = 10;
        foreach (var (name, outShape, run) in calls)
            foreach (bool accumulate in new[] { false, true })
            {
                var initial = HostTensor.Random(outShape, seed++);
                float[] Result(ConvEngine e)
                {
                    var inputs = new[] { e.Upload(x), e.Upload(w), e.Upload(b), e.Upload(dy) };
                    using var output = e.Upload(initial);
                    try
                    {
                        var returned = run(e, inputs, output, accumulate);
                        Assert.That(returned, Is.SameAs(output), $"{name}: the given output is returned");
                        return e.Download(output).Data;
                    }
                    finally
                    {
                        foreach (var t in inputs) t.Dispose();
                    }
                }
                var expected = Result(cpu);
                var got = Result(gpu);
                double tolerance = gpu.LastPlan is { } plan && CudnnAlgorithmNames.IsTransformBased(plan.Algorithm.Name) ? 1e-4 : 1e-5;
                var err = ErrorMetrics.Compare(got, [.. expected.Select(v => (double)v)]);
                string line = $"{layer} / {name}{(accumulate ? " accumulate" : "")} on {gpu.LastPlan?.Algorithm.Key ?? "(no plan)"}: max rel {err.MaxRelative:0.0e0}";
                TestContext.Out.WriteLine(line);
                if (!(err.MaxRelative < tolerance)) failures.Add(line);
            }
        Assert.That(failures, Is.Empty);
    }

    /// <summary>The host-tensor overloads on the GPU engine (copies in and out around every call) on the same layers.</summary>
    [TestCaseSource(nameof(Cases))]
    public void EveryHostTensorCallMatchesTheReferenceEngine(string? backend, string layer)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var (_, spec, inputDims, filterDims) = Layers.Single(l => l.Name == layer);
        using var gpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false, Policy = PlanPolicy.Heuristic });
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        var inputShape = new TensorShape(inputDims);
        var filterShape = new TensorShape(filterDims);
        var outputShape = ConvProblem.Create(spec, inputShape, filterShape).OutputShape;
        var x = HostTensor.Random(inputShape, 1);
        var w = HostTensor.Random(filterShape, 2);
        var b = HostTensor.Random(new TensorShape(outputShape.C), 3);
        var dy = HostTensor.Random(outputShape, 4);
        var calls = new (string Name, Func<ConvEngine, HostTensor> Run)[]
        {
            ("Forward + bias", e => e.Forward(spec, x, w, b)),
            ("ForwardBiasActivation relu", e => e.ForwardBiasActivation(spec, x, w, b, Activation.Relu)),
            ("BackwardData", e => e.BackwardData(spec, dy, w, inputShape)),
            ("BackwardFilter", e => e.BackwardFilter(spec, x, dy, filterShape)),
            ("BackwardBias", e => e.BackwardBias(dy)),
        };
        var failures = new List<string>();
        foreach (var (name, run) in calls)
        {
            var expected = run(cpu).Data;
            var got = run(gpu).Data;
            double tolerance = gpu.LastPlan is { } plan && CudnnAlgorithmNames.IsTransformBased(plan.Algorithm.Name) ? 1e-4 : 1e-5;
            var err = ErrorMetrics.Compare(got, [.. expected.Select(v => (double)v)]);
            string line = $"{layer} / host {name} on {gpu.LastPlan?.Algorithm.Key ?? "(no plan)"}: max rel {err.MaxRelative:0.0e0}";
            TestContext.Out.WriteLine(line);
            if (!(err.MaxRelative < tolerance)) failures.Add(line);
        }
        Assert.That(failures, Is.Empty);
    }
}
