using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Planning;

/// <summary>
/// The engine's planning options on a GPU host (or the native fakes), through the public API: exhaustive planning times
/// the candidates of both GPU backends and the CPU, persists its choice, and a second engine starts from the cache with
/// the same plan; Deterministic, WorkspaceLimitBytes and Precision constrain what is chosen and the result still
/// matches the float64 reference (strict 1e-5, cuDNN's transform-based algorithms 1e-4, TF32 1e-2); Validate and
/// Explain report on GPU plans.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class EngineOptionsGpuTests
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);
    static readonly TensorShape XShape = new(2, 8, 10, 10);
    static readonly TensorShape WShape = new(16, 8, 3, 3);
    string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        _dir = Directory.CreateTempSubdirectory("gpuconv-options-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    static double Tolerance(Plan plan) => plan.Math == MathMode.TF32 ? 1e-2
        : CudnnAlgorithmNames.IsTransformBased(plan.Algorithm.Name) ? 1e-4 : 1e-5;

    /// <summary>Runs <paramref name="op"/> on the engine and checks it against the reference; returns the plan.</summary>
    static Plan RunAndCheck(ConvEngine engine, ConvOp op)
    {
        var p = ConvProblem.Create(Spec, XShape, WShape);
        var x = HostTensor.Random(XShape, 1);
        var w = HostTensor.Random(WShape, 2);
        var dy = HostTensor.Random(p.YShape, 3);
        var (got, expected) = op switch
        {
            ConvOp.Forward => (engine.Forward(Spec, x, w), ReferenceConv.Forward(p, x.Data, w.Data)),
            ConvOp.BackwardData => (engine.BackwardData(Spec, dy, w, XShape), ReferenceConv.BackwardData(p, dy.Data, w.Data)),
            _ => (engine.BackwardFilter(Spec, x, dy, WShape), ReferenceConv.BackwardFilter(p, x.Data, dy.Data)),
        };
        var plan = engine.LastPlan!;
        var err = ErrorMetrics.Compare(got.Data, expected);
        TestContext.Out.WriteLine($"{op}: {plan} — max rel {err.MaxRelative:0.0e0}");
        Assert.That(err.MaxRelative, Is.LessThan(Tolerance(plan)), $"{op} on {plan}");
        return plan;
    }

    [Test]
    public void ExhaustivePlansPersist_AndAWarmEngineStartsFromThem()
    {
        string cache = Path.Join(_dir, "plans.json");
        var chosen = new Dictionary<ConvOp, string>();
        using (var cold = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Policy = PlanPolicy.Exhaustive, PlanCachePath = cache }))
        {
            foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
            {
                var plan = RunAndCheck(cold, op);
                Assert.That(plan.Source, Is.EqualTo(PlanSource.Exhaustive), $"{op}");
                Assert.That(plan.TimeMs, Is.GreaterThan(0), $"{op}: the winner was timed");
                Assert.That(plan.Backend, Is.AnyOf("cudnn", "ptx"), $"{op}: a GPU engine's exhaustive plans run on the GPU (host backends are fallbacks)");
                chosen[op] = plan.Algorithm.Key;
            }
            // Explain plans afresh (times again) and remembers its choice, which is then the forward's cached plan.
            var table = cold.Explain(ConvProblem.Create(Spec, XShape, WShape));
            TestContext.Out.WriteLine(table.Format());
            chosen[ConvOp.Forward] = table.Chosen!.Algorithm.Key;
            var timedBackends = table.Rows.Where(r => r.TimeMs is > 0).Select(r => r.Backend).Distinct().ToList();
            Assert.That(timedBackends, Does.Contain("cudnn").And.Contain("ptx"), "both GPU backends' candidates were timed");
            Assert.That(timedBackends, Does.Not.Contain("cpu").And.Not.Contain("reference"), "host-memory candidates are not raced against the device");
        }
        Assert.That(File.Exists(cache), Is.True, "the plan cache was written on dispose");

        using var warm = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Policy = PlanPolicy.Cached, PlanCachePath = cache });
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
        {
            var plan = RunAndCheck(warm, op);
            Assert.That(plan.Source, Is.EqualTo(PlanSource.Cache), $"{op}: read back, not re-planned");
            Assert.That(plan.Algorithm.Key, Is.EqualTo(chosen[op]), $"{op}: the same choice");
        }
    }

    [Test]
    public void DeterministicPlansAreDeterministic_AndRepeatBitForBit()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Policy = PlanPolicy.Exhaustive, PersistPlans = false, Deterministic = true });
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
        {
            var plan = RunAndCheck(engine, op);
            Assert.That(plan.Algorithm.Deterministic, Is.True, $"{op}: {plan}");
        }
        var x = HostTensor.Random(XShape, 1);
        var dy = HostTensor.Random(ConvProblem.Create(Spec, XShape, WShape).YShape, 3);
        Assert.That(engine.BackwardFilter(Spec, x, dy, WShape).Data, Is.EqualTo(engine.BackwardFilter(Spec, x, dy, WShape).Data),
            "the same weight gradient twice");
    }

    [Test]
    public void AZeroWorkspaceLimitChoosesWorkspaceFreeCandidates()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Policy = PlanPolicy.Exhaustive, PersistPlans = false, WorkspaceLimitBytes = 0 });
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
            Assert.That(RunAndCheck(engine, op).WorkspaceBytes, Is.Zero, $"{op}");
    }

    [TestCase(ConvPrecision.Strict)]
    [TestCase(ConvPrecision.AllowTF32)]
    public void PrecisionBoundsTheMathOfThePlan(ConvPrecision precision)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Policy = PlanPolicy.Exhaustive, PersistPlans = false, Precision = precision });
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
        {
            var plan = RunAndCheck(engine, op);
            if (precision == ConvPrecision.Strict) Assert.That(plan.Math, Is.EqualTo(MathMode.Strict), $"{op}: {plan}");
        }
        var explained = engine.Explain(ConvProblem.Create(Spec, XShape, WShape));
        if (precision == ConvPrecision.Strict)
            Assert.That(explained.Rows.Where(r => r.Algorithm.Contains("+TF32") || r.Algorithm.EndsWith("TF32")).All(r => r.Status == CandidateStatus.Precision), Is.True,
                explained.Format());
    }

    [Test]
    public void ValidateReportsTheGpuPlanAgainstTheReference()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, PersistPlans = false });
        var report = engine.Validate(Spec, HostTensor.Random(XShape, 1), HostTensor.Random(WShape, 2), HostTensor.Random(new TensorShape(16), 3));
        TestContext.Out.WriteLine(report.ToString());
        Assert.That(report.Plan.Backend, Is.AnyOf("cudnn", "ptx"), "a GPU engine plans on a GPU backend");
        Assert.That(report.Error.MaxRelative, Is.LessThan(Tolerance(report.Plan)));
    }
}
