using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// Two GPU paths of the engine that no other Gpu test reached (build/gpu-coverage.sh found them uncovered against the
/// native fakes): <see cref="ConvEngine.Run"/> on device tensors (with and without a padding mode, accumulating or
/// not), and a device-resident call whose plan is on the CPU (e.g. an exhaustive plan the CPU won, read back from a
/// plan cache), which runs on host copies of the device tensors. Every result against the float64 reference.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public sealed class EngineRunGpuTests
{
    [OneTimeSetUp]
    public void RequireGpu()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
    }

    static ConvEngine Open(string? backend, PlanPolicy policy = PlanPolicy.Heuristic) =>
        ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, Policy = policy, PersistPlans = false });

    static double[] Reference(ConvProblem p, HostTensor x, HostTensor w, HostTensor y, HostTensor? bias) => p.Op switch
    {
        ConvOp.Forward => ReferenceConv.Forward(p, x.Data, w.Data, bias is null ? default : bias.Data),
        ConvOp.BackwardData => ReferenceConv.BackwardData(p, y.Data, w.Data),
        _ => ReferenceConv.BackwardFilter(p, x.Data, y.Data),
    };

    /// <summary>max |got - expected| / max |expected|, expected in float64 (plus what an accumulating call started from).</summary>
    static double MaxRel(float[] got, double[] expected, float[]? start = null)
    {
        double worst = 0, scale = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double e = expected[i] + (start?[i] ?? 0);
            worst = Math.Max(worst, Math.Abs(got[i] - e));
            scale = Math.Max(scale, Math.Abs(e));
        }
        return worst / scale;
    }

    static HostTensor Written(ConvProblem p, HostTensor x, HostTensor w, HostTensor y) =>
        p.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };

    [Test]
    public void RunOnDeviceTensors_MatchesTheReference([Values("cudnn", "ptx")] string backend, [Values] ConvOp op, [Values] bool accumulate)
    {
        using var engine = Open(backend);
        var spec = new ConvSpec([3, 3], stride: [2, 1], padBegin: [1, 0], padEnd: [2, 1]);
        var p = ConvProblem.Create(spec, new TensorShape(2, 5, 11, 9), new TensorShape(7, 5, 3, 3), op);
        int seed = 10 * (int)op + (accumulate ? 1 : 0);
        var x = HostTensor.Random(p.XShape, seed + 1);
        var w = HostTensor.Random(p.WShape, seed + 2);
        var y = HostTensor.Random(p.YShape, seed + 3);
        var bias = op == ConvOp.Forward ? HostTensor.Random(new TensorShape(p.BiasLength), seed + 4) : null;
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var dy = engine.Upload(y);
        using var db = bias is null ? null : engine.Upload(bias);

        var plan = engine.Run(p, new ConvTensors(dx, dw, dy, db) { Accumulate = accumulate });

        Assert.That(plan.Backend, Is.EqualTo(backend));
        var written = p.Op switch { ConvOp.Forward => dy, ConvOp.BackwardData => dx, _ => dw };
        var got = engine.Download(written).Data;
        var start = accumulate ? Written(p, x, w, y).Data : null;
        double err = MaxRel(got, Reference(p, x, w, y, bias), start);
        Assert.That(err, Is.LessThan(CudnnBackendGpuTests.ToleranceFor(plan.Algorithm)), $"{plan.Algorithm.Key} {op} accumulate={accumulate}");
    }

    [Test]
    public void RunWithAPaddingMode_OnDeviceTensors_MatchesTheReference([Values] ConvOp op, [Values(PaddingMode.Reflect, PaddingMode.Circular)] PaddingMode mode)
    {
        using var engine = Open(backend: null);
        var spec = new ConvSpec([3, 3], padBegin: [2, 1], padEnd: [1, 2], paddingMode: mode);
        var p = ConvProblem.Create(spec, new TensorShape(2, 3, 8, 7), new TensorShape(4, 3, 3, 3), op);
        int seed = 100 + 10 * (int)op + (int)mode;
        var x = HostTensor.Random(p.XShape, seed + 1);
        var w = HostTensor.Random(p.WShape, seed + 2);
        var y = HostTensor.Random(p.YShape, seed + 3);
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var dy = engine.Upload(y);
        // Backward data accumulates: the padded gradient folds back into what dx holds.
        bool accumulate = op == ConvOp.BackwardData;

        var plan = engine.Run(p, new ConvTensors(dx, dw, dy) { Accumulate = accumulate });

        Assert.That(engine.Backends.Single(b => b.Name == plan.Backend).Memory.Kind, Is.EqualTo(MemoryKind.Device), plan.ToString());
        var written = p.Op switch { ConvOp.Forward => dy, ConvOp.BackwardData => dx, _ => dw };
        double err = MaxRel(engine.Download(written).Data, Reference(p, x, w, y, null), accumulate ? x.Data : null);
        Assert.That(err, Is.LessThan(CudnnBackendGpuTests.ToleranceFor(plan.Algorithm)), $"{plan.Algorithm.Key} {op} {mode}");
    }

    /// <summary>
    /// A plan cache entry naming a CPU algorithm for a GPU engine's problem (what exhaustive planning keeps when the CPU
    /// is the fastest, e.g. on a tiny layer): the device-resident calls run it on host copies and write the device output;
    /// ForwardBiasActivation's bias and activation too. <see cref="ConvEngine.Run"/> refuses it (its tensors stay where they are).
    /// </summary>
    [Test]
    public void DeviceResidentCalls_WithACachedCpuPlan_RunOnHostCopies([Values] ConvOp op)
    {
        using var engine = Open(backend: null, PlanPolicy.Cached);
        var spec = new ConvSpec([3, 3], stride: [1, 2], padBegin: [1]);
        var p = ConvProblem.Create(spec, new TensorShape(2, 4, 9, 8), new TensorShape(6, 4, 3, 3), op);
        var cpu = engine.Backends.Single(b => b.Name == "cpu");
        var algorithm = cpu.GetAlgorithms(p, ConvPrecision.Strict)[0];
        engine.Planner.Cache.Put(engine.Planner.KeyFor(p), new Plan(cpu.Name, algorithm, PlanSource.Exhaustive, "test: the CPU was the fastest"));
        int seed = 200 + 10 * (int)op;
        var x = HostTensor.Random(p.XShape, seed + 1);
        var w = HostTensor.Random(p.WShape, seed + 2);
        var y = HostTensor.Random(p.YShape, seed + 3);
        var bias = HostTensor.Random(new TensorShape(p.BiasLength), seed + 4);
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var dy = engine.Upload(y);
        using var db = engine.Upload(bias);

        double[] expected;
        float[] got;
        switch (op)
        {
            case ConvOp.Forward:
                using (var output = engine.ForwardBiasActivation(spec, dx, dw, db, Activation.Relu6))
                    got = engine.Download(output).Data;
                expected = [.. ReferenceConv.Forward(p, x.Data, w.Data, bias.Data).Select(v => Math.Clamp(v, 0, 6))];
                break;
            case ConvOp.BackwardData:
                using (var output = engine.BackwardData(spec, dy, dw, p.XShape))
                    got = engine.Download(output).Data;
                expected = ReferenceConv.BackwardData(p, y.Data, w.Data);
                break;
            default:
                // Accumulating: the host copy of dw goes in too, and the sum comes back to the device.
                engine.BackwardFilter(spec, dx, dy, p.WShape, output: dw, accumulate: true);
                got = engine.Download(dw).Data;
                expected = [.. ReferenceConv.BackwardFilter(p, x.Data, y.Data).Select((v, i) => v + w.Data[i])];
                break;
        }

        Assert.That(engine.LastPlan!.Backend, Is.EqualTo("cpu"), engine.LastPlan.ToString());
        Assert.That(MaxRel(got, expected), Is.LessThan(1e-5), $"{op} through {algorithm.Key} on host copies");
        var ex = Assert.Throws<ArgumentException>(() => engine.Run(p, new ConvTensors(dx, dw, dy)));
        Assert.That(ex!.Message, Does.Contain("tensors are in Device memory but the plan cpu/"));
    }
}
