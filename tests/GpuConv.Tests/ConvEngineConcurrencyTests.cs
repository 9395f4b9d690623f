using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;

namespace GpuConv.Tests;

/// <summary>
/// One engine called from several threads at once (a web service's requests, a data loader's workers):
/// every call's result must be what the same call gives alone, whatever else runs beside it — through the
/// host-tensor overloads and the device-resident ones, forward and backward, with constant and per-call
/// weights, and while plans are still being made (exhaustive planning times candidates on the same backend).
/// </summary>
public class ConvEngineConcurrencyTests
{
    const int Threads = 4, Rounds = 12;

    TempDir dir = null!;

    [SetUp] public void MakeDir() => dir = new TempDir();
    [TearDown] public void RemoveDir() => dir.Dispose();

    /// <summary>The engine under test: the CPU backend here; the GPU fixture names a GPU backend.</summary>
    protected virtual ConvEngineOptions Options(PlanPolicy policy, string planCachePath) => new()
    {
        Device = DeviceKind.Cpu, Backend = "cpu", Policy = policy, PlanCachePath = planCachePath, CpuThreads = 2,
    };

    enum Call { Forward, ForwardConstant, ForwardResident, BackwardData, BackwardFilter }

    sealed record Case(string Name, ConvSpec Spec, HostTensor X, HostTensor W, HostTensor? Bias, Call Call)
    {
        public TensorShape OutputShape(ConvProblem p) => Call switch
        {
            Call.BackwardData => p.XShape,
            Call.BackwardFilter => p.WShape,
            _ => p.YShape,
        };
    }

    // Different kernels of the CPU backend (Winograd with constant weights, channel-tiled, 1x1 GEMM,
    // depthwise, col2im, im2col for the filter gradient), so concurrent calls share its workers, workspaces
    // and prepared-weight caches.
    static List<Case> MakeCases()
    {
        int seed = 1;
        HostTensor R(params int[] dims) => HostTensor.Random(new TensorShape(dims), seed++);
        var pad1 = new ConvSpec([3, 3], padBegin: [1]);
        return
        [
            new("3x3 constant", pad1, R(1, 16, 12, 12), R(32, 16, 3, 3), R(32), Call.ForwardConstant),
            new("3x3 resident", pad1, R(2, 8, 9, 11), R(8, 8, 3, 3), R(8), Call.ForwardResident),
            new("1x1", new ConvSpec([1, 1]), R(1, 24, 10, 10), R(40, 24, 1, 1), null, Call.Forward),
            new("depthwise s2", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 12), R(1, 12, 15, 15), R(12, 1, 3, 3), R(12), Call.ForwardConstant),
            new("1-d dilated", new ConvSpec([3], dilation: [2], padBegin: [2]), R(2, 6, 30), R(10, 6, 3), R(10), Call.Forward),
            new("3-d", new ConvSpec([2, 3, 3], padBegin: [0, 1, 1]), R(1, 4, 5, 7, 7), R(6, 4, 2, 3, 3), null, Call.ForwardResident),
            // For the backward calls X holds dy (BackwardData) or x (BackwardFilter), W holds w or dy.
            new("backward-data s2", new ConvSpec([3, 3], stride: [2], padBegin: [1]), R(1, 16, 7, 7), R(16, 8, 3, 3), null, Call.BackwardData),
            new("backward-filter", pad1, R(2, 8, 10, 10), R(2, 12, 10, 10), null, Call.BackwardFilter),
        ];
    }

    static TensorShape BackwardDataInputShape => new(1, 8, 13, 13);

    static HostTensor RunOnce(ConvEngine engine, Case c)
    {
        switch (c.Call)
        {
            case Call.Forward: return engine.Forward(c.Spec, c.X, c.W, c.Bias);
            case Call.ForwardConstant: return engine.Forward(c.Spec, c.X, c.W, c.Bias, constantWeights: true);
            case Call.BackwardData: return engine.BackwardData(c.Spec, c.X, c.W, BackwardDataInputShape);
            case Call.BackwardFilter:
                return engine.BackwardFilter(c.Spec, c.X, c.W, new TensorShape(c.W.Shape[1], c.X.Shape[1], 3, 3));
            default:
                using (var x = engine.Upload(c.X))
                using (var w = engine.Upload(c.W))
                using (var b = c.Bias is null ? null : engine.Upload(c.Bias))
                using (var y = engine.Forward(c.Spec, x, w, b, constantWeights: true))
                    return engine.Download(y);
        }
    }

    /// <summary>The float64 reference for a case (what every path is judged by).</summary>
    static double[] Reference(Case c)
    {
        switch (c.Call)
        {
            case Call.BackwardData:
            {
                var p = ConvProblem.Create(c.Spec, BackwardDataInputShape, c.W.Shape, ConvOp.BackwardData);
                return ReferenceConv.BackwardData(p, c.X.Data, c.W.Data);
            }
            case Call.BackwardFilter:
            {
                var p = ConvProblem.Create(c.Spec, c.X.Shape, new TensorShape(c.W.Shape[1], c.X.Shape[1], 3, 3), ConvOp.BackwardFilter);
                return ReferenceConv.BackwardFilter(p, c.X.Data, c.W.Data);
            }
            default:
            {
                var p = ConvProblem.Create(c.Spec, c.X.Shape, c.W.Shape);
                return ReferenceConv.Forward(p, c.X.Data, c.W.Data, c.Bias is null ? default : c.Bias.Data);
            }
        }
    }

    /// <summary>Runs every case on <see cref="Threads"/> threads at once, each in its own rotated order, <see cref="Rounds"/> times.</summary>
    static List<(Case Case, HostTensor Result)> RunConcurrently(ConvEngine engine, List<Case> cases)
    {
        var results = new List<(Case, HostTensor)>[Threads];
        var failures = new List<Exception>();
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var mine = results[t] = [];
            try
            {
                start.SignalAndWait();
                for (int round = 0; round < Rounds; round++)
                    for (int i = 0; i < cases.Count; i++)
                    {
                        var c = cases[(i + t * 3 + round) % cases.Count];
                        mine.Add((c, RunOnce(engine, c)));
                    }
            }
            catch (Exception e) { lock (failures) failures.Add(e); }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        Assert.That(failures, Is.Empty, () => string.Join(Environment.NewLine, failures));
        return results.SelectMany(r => r).ToList();
    }

    [Test]
    public void ConcurrentCalls_GiveTheResultsOfTheSameCallsAlone()
    {
        using var engine = ConvEngine.Open(Options(PlanPolicy.Heuristic, dir.File("plans.json")));
        var cases = MakeCases();
        // Alone, twice: the second run shows each call is deterministic by itself (same plan, same tiling),
        // so any difference below comes from the calls running side by side.
        var alone = cases.ToDictionary(c => c, c => RunOnce(engine, c));
        foreach (var c in cases)
        {
            Assert.That(RunOnce(engine, c).Data, Is.EqualTo(alone[c].Data), $"{c.Name}: two runs alone differ");
            var err = ErrorMetrics.Compare(alone[c].Data, Reference(c));
            Assert.That(err.MaxRelative, Is.LessThan(1e-4), $"{c.Name} alone vs the float64 reference: {err}");
        }

        var together = RunConcurrently(engine, cases);

        Assert.That(together, Has.Count.EqualTo(Threads * Rounds * cases.Count));
        foreach (var (c, result) in together)
            Assert.That(result.Data, Is.EqualTo(alone[c].Data), $"{c.Name}: result differs when run beside other calls");
    }

    [Test]
    public void ConcurrentFirstCalls_UnderExhaustivePlanning_AreCorrectAndPlannedOnce()
    {
        string cachePath = dir.File("plans.json");
        var cases = MakeCases();
        List<(Case Case, HostTensor Result)> together;
        using (var engine = ConvEngine.Open(Options(PlanPolicy.Exhaustive, cachePath)))
        {
            // No call alone first: every thread's first calls race to plan the same problems, timing
            // candidates while other threads run convolutions.
            together = RunConcurrently(engine, cases);
        }

        // Plans may differ between threads only until the first is cached; every result is judged by the reference.
        var reference = cases.ToDictionary(c => c, Reference);
        foreach (var (c, result) in together)
        {
            var err = ErrorMetrics.Compare(result.Data, reference[c]);
            Assert.That(err.MaxRelative, Is.LessThan(1e-4), $"{c.Name} vs the float64 reference: {err}");
        }

        // The cache written at dispose holds one plan per distinct problem (the two forward calls on the
        // 3x3 pad-1 geometry are different problems: different shapes).
        using var reopened = ConvEngine.Open(Options(PlanPolicy.Cached, cachePath));
        foreach (var c in cases)
        {
            RunOnce(reopened, c);
            Assert.That(reopened.LastPlan!.Source, Is.EqualTo(PlanSource.Cache), $"{c.Name}: not planned from the cache written by the concurrent engine");
        }
    }
}

/// <summary>
/// The same on a GPU host, per GPU backend, with deterministic algorithms (so a call alone gives the same
/// bits every time and any difference comes from the calls running side by side): device-resident calls
/// from several threads share one stream, one cuDNN handle, one cuBLAS handle and one memory pool.
/// Skipped with discovery's reason when no GPU is usable.
/// </summary>
[TestFixture("cudnn"), TestFixture("ptx"), Category("Gpu"), NonParallelizable]
public class ConvEngineConcurrencyGpuTests(string backend) : ConvEngineConcurrencyTests
{
    [OneTimeSetUp]
    public void RequireGpu()
    {
        var status = GpuConv.Cuda.Discovery.CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
    }

    protected override ConvEngineOptions Options(PlanPolicy policy, string planCachePath) => new()
    {
        Device = DeviceKind.Gpu, Backend = backend, Policy = policy, PlanCachePath = planCachePath, Deterministic = true,
    };
}
