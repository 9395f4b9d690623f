using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Support;

namespace GpuConv.Tests;

public class ConvEngineTests
{
    TempDir dir = null!;

    [SetUp] public void MakeDir() => dir = new TempDir();
    [TearDown] public void RemoveDir() => dir.Dispose();

    ConvEngineOptions CpuOptions(PlanPolicy policy = PlanPolicy.Cached) => new()
    {
        Device = DeviceKind.Cpu,
        Policy = policy,
        PlanCachePath = dir.File("plans.json"),
        Warning = m => Assert.Fail($"unexpected warning: {m}"),
    };

    // Plain and transposed geometries with stride, dilation, asymmetric padding and groups.
    static readonly (string Name, ConvSpec Spec, int[] Input, int[] Filter)[] Cases =
    [
        ("plain2d", new ConvSpec([3, 2], stride: [2, 1], dilation: [1, 2], padBegin: [1, 0], padEnd: [2, 1], groups: 2), [2, 4, 7, 6], [6, 2, 3, 2]),
        ("plain1d", new ConvSpec([3], padBegin: [1]), [3, 2, 9], [4, 2, 3]),
        ("depthwise3d", new ConvSpec([2, 2, 2], padBegin: [1], groups: 3), [1, 3, 4, 3, 3], [3, 1, 2, 2, 2]),
        ("transposed2d", new ConvSpec([3, 3], stride: [2, 2], padBegin: [1], groups: 2, transposed: true, outputPadding: [1, 0]), [2, 4, 4, 3], [4, 3, 3, 3]),
        ("transposed1d", new ConvSpec([4], stride: [3], dilation: [2], padBegin: [2], padEnd: [1], transposed: true), [1, 3, 5], [3, 2, 4]),
    ];

    static IEnumerable<TestCaseData> AllCases() => Cases.Select((c, i) => new TestCaseData(i).SetName($"{{m}}({c.Name})"));

    [TestCaseSource(nameof(AllCases))]
    public void Forward_MatchesAnIndependentDefinition(int index)
    {
        var (_, spec, inDims, fDims) = Cases[index];
        using var engine = ConvEngine.Open(CpuOptions());
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        var bias = HostTensor.Random(new TensorShape(spec.Transposed ? fDims[1] * spec.Groups : fDims[0]), 3);

        var y = engine.Forward(spec, x, w, bias);

        var expected = spec.Transposed ? NaiveTransposed(spec, x, w, bias) : NaiveConv(spec, x, w, bias);
        Assert.That(y.Shape, Is.EqualTo(expected.Shape));
        AssertClose(y.Data, expected.Data);
    }

    /// <summary>Declared-constant weights are prepared once by the CPU backend and give the same results as per-call weights.</summary>
    [Test]
    public void Forward_WithConstantWeights_PreparesThemOnce()
    {
        using var engine = ConvEngine.Open(CpuOptions(PlanPolicy.Heuristic));
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var x = HostTensor.Random(new TensorShape(1, 32, 9, 9), 4);
        var w = HostTensor.Random(new TensorShape(64, 32, 3, 3), 5);
        var bias = HostTensor.Random(new TensorShape(64), 6);
        var expected = NaiveConv(spec, x, w, bias);
        for (int i = 0; i < 3; i++)
            AssertClose(engine.Forward(spec, x, w, bias, constantWeights: true).Data, expected.Data);
        bool tiled = engine.LastPlan!.Algorithm.Name == CpuBackend.ChannelTiled;
        bool tileKernels = GpuConv.Cpu.ChannelTiled.ChannelTiledConv.Supported(cpu.Tier);
        Assert.That(tiled, Is.EqualTo(tileKernels), $"64 output channels over a 288-deep sum lead with channel-tiled where it has kernels (AVX-512, AVX2 + FMA); tier {cpu.Tier}");
        // Channel-tiled packs constant weights once; CPUs without its kernels have nothing to prepare.
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(tiled ? 1 : 0), engine.LastPlan.Algorithm.Key);
        AssertClose(engine.Forward(spec, x, w, bias).Data, expected.Data);
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(tiled ? 1 : 0), "weights not declared constant are not cached");
    }

    [TestCaseSource(nameof(AllCases))]
    public void BackwardData_IsTheAdjointOfForward(int index)
    {
        // <dy, f(x, w)> = <dx, x> for dx = BackwardData(dy, w): f is linear in x.
        var (_, spec, inDims, fDims) = Cases[index];
        using var engine = ConvEngine.Open(CpuOptions());
        var x = HostTensor.Random(new TensorShape(inDims), 4);
        var w = HostTensor.Random(new TensorShape(fDims), 5);
        var y = engine.Forward(spec, x, w);
        var dy = HostTensor.Random(y.Shape, 6);

        var dx = engine.BackwardData(spec, dy, w, x.Shape);

        Assert.That(dx.Shape, Is.EqualTo(x.Shape));
        AssertDotEqual(Dot(dy, y), Dot(dx, x), Scale(dy, y));
    }

    [TestCaseSource(nameof(AllCases))]
    public void BackwardFilter_IsTheAdjointOfForwardInW(int index)
    {
        // <dy, f(x, w)> = <dw, w> for dw = BackwardFilter(x, dy): f is linear in w.
        var (_, spec, inDims, fDims) = Cases[index];
        using var engine = ConvEngine.Open(CpuOptions());
        var x = HostTensor.Random(new TensorShape(inDims), 7);
        var w = HostTensor.Random(new TensorShape(fDims), 8);
        var y = engine.Forward(spec, x, w);
        var dy = HostTensor.Random(y.Shape, 9);

        var dw = engine.BackwardFilter(spec, x, dy, w.Shape);

        Assert.That(dw.Shape, Is.EqualTo(w.Shape));
        AssertDotEqual(Dot(dy, y), Dot(dw, w), Scale(dy, y));
    }

    [TestCaseSource(nameof(AllCases))]
    public void Validate_ReportsTinyErrorForEveryOp(int index)
    {
        var (_, spec, inDims, fDims) = Cases[index];
        using var engine = ConvEngine.Open(CpuOptions());
        var x = HostTensor.Random(new TensorShape(inDims), 10);
        var w = HostTensor.Random(new TensorShape(fDims), 11);
        foreach (var op in Enum.GetValues<ConvOp>())
        {
            var report = engine.Validate(spec, x, w, op: op);
            Assert.That(report.Error.MaxRelative, Is.LessThan(1e-6), $"{op}: {report}");
            Assert.That(report.Plan.Backend, Is.EqualTo(CpuBackend.BackendName), "the fast CPU backend is the CPU heuristic's first choice");
        }
    }

    [Test]
    public void Validate_NoticesAWrongBackend()
    {
        var liar = new FakeBackend("liar", 1).With("wrong");
        liar.Corrupt = true;
        using var engine = ConvEngine.Adopt(CpuOptions(), Set(liar));
        var (_, spec, inDims, fDims) = Cases[0];
        var report = engine.Validate(spec, HostTensor.Random(new TensorShape(inDims), 1), HostTensor.Random(new TensorShape(fDims), 2));
        Assert.That(report.Plan.Algorithm.Key, Is.EqualTo("liar/wrong"));
        Assert.That(report.Error.MaxRelative, Is.GreaterThan(1e-2));
    }

    [Test]
    public void DeviceBackend_GetsCopiesInItsMemory_AndTheResultComesBack()
    {
        var memory = new FakeDeviceMemory();
        var device = new FakeBackend("dev", 1, memory).With("a");
        using var engine = ConvEngine.Adopt(CpuOptions(), Set(device));
        var (_, spec, inDims, fDims) = Cases[3]; // transposed: forward is the underlying backward-data
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        var bias = HostTensor.Random(new TensorShape(fDims[1] * spec.Groups), 3);

        var y = engine.Forward(spec, x, w, bias);

        AssertClose(y.Data, NaiveTransposed(spec, x, w, bias).Data);
        Assert.That(memory.Allocated, Is.EqualTo(4), "X, W, Y and bias");
        Assert.That(memory.Freed, Is.EqualTo(4));
        Assert.That(memory.CopiesIn, Is.EqualTo(3), "the op's two inputs and the bias, not its output");
        Assert.That(memory.CopiesOut, Is.EqualTo(1));
    }

    [Test]
    public void WorkspaceFailure_FallsBackToTheNextCandidate_AndStillComputesTheRightAnswer()
    {
        var memory = new FakeDeviceMemory();
        var device = new FakeBackend("dev", 1, memory).With("greedy", workspace: 1 << 30, failsAllocation: true);
        using var engine = ConvEngine.Adopt(CpuOptions(), Set(device, new ReferenceBackend()));
        var (_, spec, inDims, fDims) = Cases[0];
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);

        var y = engine.Forward(spec, x, w);

        Assert.That(engine.LastPlan!.Source, Is.EqualTo(PlanSource.Fallback));
        Assert.That(engine.LastPlan.Backend, Is.EqualTo(ReferenceBackend.BackendName));
        AssertClose(y.Data, NaiveConv(spec, x, w, null).Data);
        Assert.That(memory.Freed, Is.EqualTo(memory.Allocated), "staged copies freed on failure too");
        engine.Forward(spec, x, w);
        Assert.That(device.RunCalls["greedy"], Is.EqualTo(1));
    }

    [Test]
    public void WarmCache_FirstCallAfterRestartIsACacheHit()
    {
        var (_, spec, inDims, fDims) = Cases[0];
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        using (var cold = ConvEngine.Open(CpuOptions()))
        {
            cold.Forward(spec, x, w);
            Assert.That(cold.LastPlan!.Source, Is.EqualTo(PlanSource.Heuristic));
        }
        Assert.That(File.Exists(dir.File("plans.json")));

        using var warm = ConvEngine.Open(CpuOptions());
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape);
        Assert.That(warm.GetPlan(problem).Source, Is.EqualTo(PlanSource.Cache));
        warm.Forward(spec, x, w);
        Assert.That(warm.LastPlan!.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(warm.Explain(problem).Rows.Single(r => r.Status == CandidateStatus.Chosen).Backend, Is.EqualTo(CpuBackend.BackendName));
    }

    // Console.WriteLine(engine.Explain(problem)) printed the record's members ("Rows = System.Collections.Generic.List`1[…]").
    [Test]
    public void Explain_PrintsTheCandidateTable()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var problem = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 4, 8, 8), new TensorShape(6, 4, 3, 3));
        var explanation = engine.Explain(problem);
        string text = explanation.ToString();
        Assert.That(text, Is.EqualTo(explanation.Format()));
        Assert.That(text, Does.Not.Contain("System.Collections"));
        foreach (var row in explanation.Rows)
            Assert.That(text, Does.Contain(row.Algorithm), "every candidate has its line");
    }

    [Test]
    public void ExhaustivePolicy_TimesOnceAndRemembersForCachedEngines()
    {
        var a = new FakeBackend("a", 1).With("slow", 9);
        var b = new FakeBackend("b", 2).With("fast", 1);
        var (_, spec, inDims, fDims) = Cases[1];
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        using (var engine = ConvEngine.Adopt(CpuOptions(PlanPolicy.Exhaustive), Set(a, b)))
        {
            var y = engine.Forward(spec, x, w);
            engine.Forward(spec, x, w);
            Assert.That(engine.LastPlan!.Algorithm.Key, Is.EqualTo("b/fast"));
            Assert.That(a.TimeCalls("slow"), Is.EqualTo(4), "1 warm-up + 3 timed, once");
            AssertClose(y.Data, NaiveConv(spec, x, w, null).Data);
        }
        using var cached = ConvEngine.Adopt(CpuOptions(PlanPolicy.Cached), Set(new FakeBackend("a", 1).With("slow", 9), new FakeBackend("b", 2).With("fast", 1)));
        cached.Forward(spec, x, w);
        Assert.That(cached.LastPlan!.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(cached.LastPlan.Algorithm.Key, Is.EqualTo("b/fast"));
    }

    /// <summary>
    /// Exhaustive planning times a call as it runs: per-call weights (training, the default) get the
    /// candidate that is fast without prepared weights, constant weights the one that is fast once W is
    /// prepared — on the host and the device-resident paths alike.
    /// </summary>
    [Test]
    public void ExhaustivePlans_FollowEachCallsConstantWeights()
    {
        var be = new FakeBackend("be", 1).With("prepares", 1, perCallTimeMs: 9).With("streams", 3);
        using var engine = ConvEngine.Adopt(CpuOptions(PlanPolicy.Exhaustive), Set(be));
        var (_, spec, inDims, fDims) = Cases[1];
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        engine.Forward(spec, x, w);
        Assert.That(engine.LastPlan!.Algorithm.Name, Is.EqualTo("streams"));
        engine.Forward(spec, x, w, constantWeights: true);
        Assert.That(engine.LastPlan!.Algorithm.Name, Is.EqualTo("prepares"));
        using var resident = engine.Forward(spec, (Tensor)x, w);
        Assert.That(engine.LastPlan!.Algorithm.Name, Is.EqualTo("streams"));
    }

    [Test]
    public void AvailableWorkspace_FromTheBackendSet_ReachesThePlanner()
    {
        var be = new FakeBackend("be", 1).With("big", workspace: 1 << 20).With("small", workspace: 16);
        using var engine = ConvEngine.Adopt(CpuOptions(PlanPolicy.Heuristic), Set(be) with { AvailableWorkspace = _ => 1024 });
        var (_, spec, inDims, fDims) = Cases[1];
        engine.Forward(spec, HostTensor.Random(new TensorShape(inDims), 1), HostTensor.Random(new TensorShape(fDims), 2));
        Assert.That(engine.LastPlan!.Algorithm.Name, Is.EqualTo("small"));
    }

    /// <summary>A backend that fuses bias + ReLU by running the reference and clamping itself, counting fused calls.</summary>
    sealed class FusingBackend : IConvBackend, IFusedBiasActivation
    {
        readonly ReferenceBackend inner = new();
        public int FusedCalls;
        public bool Decline;
        public string Name => "fusing";
        public IMemorySpace Memory => HostMemorySpace.Instance;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem problem) => null;
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) => [new ConvAlgorithm(Name, "fused", 0, 0, true)];
        public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) =>
            inner.Run(problem, inner.GetAlgorithms(problem, ConvPrecision.Strict)[0], tensors);
        public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) { Run(problem, algorithm, tensors); return 1; }
        public bool TryRunBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation)
        {
            if (Decline) return false;
            Run(problem, algorithm, tensors);
            if (activation == Activation.Relu)
            {
                var y = ((HostTensor)tensors.Y).Data;
                for (int i = 0; i < y.Length; i++) y[i] = Math.Max(0, y[i]);
            }
            FusedCalls++;
            return true;
        }
        public void Dispose() { }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ForwardBiasActivation_UsesAFusingBackendOrFallsBack(bool decline)
    {
        var (_, spec, inDims, fDims) = Cases[0];
        var fusing = new FusingBackend { Decline = decline };
        using var engine = ConvEngine.Adopt(CpuOptions(PlanPolicy.Heuristic), Set(fusing));
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        var bias = HostTensor.Random(new TensorShape(fDims[0]), 3);
        var relu = engine.ForwardBiasActivation(spec, x, w, bias, Activation.Relu);
        Assert.That(fusing.FusedCalls, Is.EqualTo(decline ? 0 : 1));
        AssertClose(relu.Data, NaiveConv(spec, x, w, bias).Data.Select(v => Math.Max(0f, v)).ToArray());
    }

    [Test]
    public void ForwardBiasActivation_IsReluOfForwardPlusBias()
    {
        var (_, spec, inDims, fDims) = Cases[0];
        using var engine = ConvEngine.Open(CpuOptions());
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        var bias = HostTensor.Random(new TensorShape(fDims[0]), 3);
        var plain = NaiveConv(spec, x, w, bias);
        Assert.That(plain.Data.Count(v => v < 0), Is.GreaterThan(0), "the test needs negative pre-activations");

        var relu = engine.ForwardBiasActivation(spec, x, w, bias, Activation.Relu);
        var identity = engine.ForwardBiasActivation(spec, x, w, bias, Activation.Identity);

        AssertClose(relu.Data, plain.Data.Select(v => Math.Max(0f, v)).ToArray());
        AssertClose(identity.Data, plain.Data);
    }

    [Test]
    public void BackwardBias_SumsOverBatchAndSpace()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var dy = HostTensor.Random(new TensorShape(2, 3, 4, 5), 1);
        var db = engine.BackwardBias(dy);
        Assert.That(db.Shape, Is.EqualTo(new TensorShape(3)));
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int n = 0; n < 2; n++)
                for (int s = 0; s < 20; s++) sum += dy.Data[(n * 3 + c) * 20 + s];
            Assert.That(db.Data[c], Is.EqualTo(sum).Within(1e-5));
        }
    }

    [Test]
    public void Run_OnTensorsAlreadyInPlace()
    {
        using var engine = ConvEngine.Open(CpuOptions(PlanPolicy.Heuristic));
        var (_, spec, inDims, fDims) = Cases[0];
        var x = HostTensor.Random(new TensorShape(inDims), 1);
        var w = HostTensor.Random(new TensorShape(fDims), 2);
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape);
        var y = new HostTensor(problem.YShape);
        var plan = engine.Run(problem, new ConvTensors(x, w, y));
        Assert.That(plan.Source, Is.EqualTo(PlanSource.Heuristic));
        AssertClose(y.Data, NaiveConv(spec, x, w, null).Data);
        Assert.Throws<ArgumentException>(() => engine.Run(problem, new ConvTensors(x, w, new HostTensor(problem.XShape))));
    }

    [Test]
    public void BadInputs_ThrowNamingTheField_BeforeAnyWork()
    {
        var counting = new FakeBackend("count", 1).With("a");
        using var engine = ConvEngine.Adopt(CpuOptions(), Set(counting));
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var x = HostTensor.Random(new TensorShape(1, 2, 5, 5), 1);
        var w = HostTensor.Random(new TensorShape(4, 2, 3, 3), 2);

        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Forward(spec, null!, w))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Forward(null!, x, w))!.ParamName, Is.EqualTo("spec"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.Forward(spec, x, HostTensor.Random(new TensorShape(4, 3, 3, 3), 1)))!.ParamName, Is.EqualTo("w"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.Forward(spec, HostTensor.Random(new TensorShape(1, 2, 5), 1), w))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.Forward(new ConvSpec([3, 3]), HostTensor.Random(new TensorShape(1, 2, 2, 2), 1), w))!.ParamName, Is.EqualTo("x"), "output size < 1");
        var bias = Assert.Throws<ArgumentException>(() => engine.Forward(spec, x, w, HostTensor.Random(new TensorShape(3), 1)))!;
        Assert.That(bias.ParamName, Is.EqualTo("bias"));
        Assert.That(bias.Message, Does.Contain("[4]"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.BackwardData(spec, HostTensor.Random(new TensorShape(1, 4, 5, 4), 1), w, x.Shape))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.BackwardData(spec, HostTensor.Random(new TensorShape(1, 4, 5, 5), 1), w, new TensorShape(1, 2, 5)))!.ParamName, Is.EqualTo("inputShape"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.BackwardFilter(spec, x, HostTensor.Random(new TensorShape(1, 4, 5, 5), 1), new TensorShape(4, 2, 3, 2)))!.ParamName, Is.EqualTo("filterShape"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.BackwardFilter(spec, x, HostTensor.Random(new TensorShape(2, 4, 5, 5), 1), w.Shape))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.BackwardBias(HostTensor.Random(new TensorShape(5), 1)))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.ForwardBiasActivation(spec, x, w, HostTensor.Random(new TensorShape(4), 1), (Activation)9))!.ParamName, Is.EqualTo("activation"));
        Assert.That(Assert.Throws<ArgumentException>(() => engine.Validate(spec, x, w, HostTensor.Random(new TensorShape(4), 1), ConvOp.BackwardData))!.ParamName, Is.EqualTo("bias"));
        Assert.That(counting.RunCalls, Is.Empty, "nothing ran");
    }

    [Test]
    public void BadOptions_ThrowNamingTheField()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => ConvEngine.Open(CpuOptions() with { WorkspaceLimitBytes = -5 }))!.ParamName, Is.EqualTo("WorkspaceLimitBytes"));
        Assert.That(Assert.Throws<ArgumentException>(() => ConvEngine.Open(CpuOptions() with { MaxCachedPlans = 0 }))!.ParamName, Is.EqualTo("MaxCachedPlans"));
        Assert.That(Assert.Throws<ArgumentException>(() => ConvEngine.Open(CpuOptions() with { GpuIndex = -1 }))!.ParamName, Is.EqualTo("GpuIndex"));
        Assert.That(Assert.Throws<ArgumentException>(() => ConvEngine.Open(CpuOptions() with { PlanCachePath = " " }))!.ParamName, Is.EqualTo("PlanCachePath"));
        var backend = Assert.Throws<ArgumentException>(() => ConvEngine.Open(CpuOptions() with { Backend = "ptx" }))!;
        Assert.That(backend.ParamName, Is.EqualTo("Backend"));
        Assert.That(backend.Message, Does.Contain("GPU backends are off: not requested (Device = Cpu)"));
        var probe = GpuConv.Cuda.Discovery.CudaDiscovery.Probe();
        if (!probe.IsAvailable)
        {
            var gpu = Assert.Throws<InvalidOperationException>(() => ConvEngine.Open(CpuOptions() with { Device = DeviceKind.Gpu }))!;
            Assert.That(gpu.Message, Does.Contain(probe.Reason));
        }
        else
        {
            // With a GPU, asking for it must give GPU backends that compute the right answer.
            using var engine = ConvEngine.Open(CpuOptions(PlanPolicy.Heuristic) with { Device = DeviceKind.Gpu });
            Assert.That(engine.Device.Kind, Is.EqualTo("gpu"));
            Assert.That(engine.GpuUnavailableReason, Is.Null);
            Assert.That(engine.Backends.Select(b => b.Name), Has.Some.AnyOf("cudnn", "ptx"));
            var (_, spec, inDims, fDims) = Cases[1];
            var x = HostTensor.Random(new TensorShape(inDims), 1);
            var w = HostTensor.Random(new TensorShape(fDims), 2);
            var bias = HostTensor.Random(new TensorShape(spec.Transposed ? fDims[1] * spec.Groups : fDims[0]), 3);
            var y = engine.Forward(spec, x, w, bias);
            var expected = spec.Transposed ? NaiveTransposed(spec, x, w, bias) : NaiveConv(spec, x, w, bias);
            AssertClose(y.Data, expected.Data);
        }
    }

    [Test]
    public void Open_Auto_FallsBackToCpuAndSaysWhy()
    {
        using var engine = ConvEngine.Open(CpuOptions() with { Device = DeviceKind.Auto, Backend = "REFERENCE" });
        var probe = GpuConv.Cuda.Discovery.CudaDiscovery.Probe();
        if (probe.IsAvailable)
        {
            Assert.That(engine.Device.Kind, Is.EqualTo("gpu"));
            Assert.That(engine.GpuUnavailableReason, Is.Null);
        }
        else
        {
            Assert.That(engine.Device.Kind, Is.EqualTo("cpu"));
            Assert.That(engine.GpuUnavailableReason, Is.EqualTo(probe.Reason));
            // One line on every platform: it goes into logs and the CLI's device report.
            Assert.That(engine.GpuUnavailableReason, Is.Not.Empty.And.Not.Contain("\n"), "the reason is one line");
        }
        Assert.That(engine.Backends.Select(b => b.Name), Does.Contain(ReferenceBackend.BackendName));
    }

    [Test]
    public void Dispose_DisposesTheBackendsAndSavesTheCache()
    {
        var be = new FakeBackend("be", 1).With("a");
        var engine = ConvEngine.Adopt(CpuOptions(PlanPolicy.Heuristic), Set(be));
        var (_, spec, inDims, fDims) = Cases[1];
        engine.Forward(spec, HostTensor.Random(new TensorShape(inDims), 1), HostTensor.Random(new TensorShape(fDims), 2));
        engine.Dispose();
        Assert.That(be.Disposed, Is.True);
        Assert.Throws<ObjectDisposedException>(() => engine.BackwardBias(HostTensor.Random(new TensorShape(1, 1, 1), 1)));
    }

    static BackendSet Set(params IConvBackend[] backends) =>
        new(backends, DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), "GPU not part of this test");

    // ---- independent definitions (PyTorch semantics), written separately from ReferenceConv ----

    /// <summary>Plain convolution by gathering, any rank (1–3), in float64.</summary>
    static HostTensor NaiveConv(ConvSpec s, HostTensor x, HostTensor w, HostTensor? bias)
    {
        int r = s.Rank, n = x.Shape.N, c = x.Shape.C, k = w.Shape[0], g = s.Groups, cg = c / g, kg = k / g;
        int[] inS = x.Shape.Spatial, outS = s.OutputSpatial(inS), kS = [.. s.Kernel];
        var y = new HostTensor(new TensorShape([n, k, .. outS]));
        foreach (var o in Positions(outS))
            for (int b = 0; b < n; b++)
                for (int ko = 0; ko < k; ko++)
                {
                    double sum = bias?.Data[ko] ?? 0;
                    int grp = ko / kg;
                    for (int ci = 0; ci < cg; ci++)
                        foreach (var t in Positions(kS))
                        {
                            var i = new int[r];
                            bool inside = true;
                            for (int d = 0; d < r; d++)
                            {
                                i[d] = o[d] * s.Stride[d] - s.PadBegin[d] + t[d] * s.Dilation[d];
                                inside &= i[d] >= 0 && i[d] < inS[d];
                            }
                            if (!inside) continue;
                            sum += (double)x.Data[Flat(x.Shape, b, grp * cg + ci, i)] * w.Data[Flat(w.Shape, ko, ci, t)];
                        }
                    y.Data[Flat(y.Shape, b, ko, o)] = (float)sum;
                }
        return y;
    }

    /// <summary>Transposed convolution by scattering each input element through the kernel, any rank.</summary>
    static HostTensor NaiveTransposed(ConvSpec s, HostTensor x, HostTensor w, HostTensor? bias)
    {
        int r = s.Rank, n = x.Shape.N, cin = x.Shape.C, g = s.Groups, cing = cin / g, coutg = w.Shape[1], cout = coutg * g;
        int[] inS = x.Shape.Spatial, kS = [.. s.Kernel];
        var outS = new int[r];
        for (int d = 0; d < r; d++)
            outS[d] = (inS[d] - 1) * s.Stride[d] - s.PadBegin[d] - s.PadEnd[d] + s.Dilation[d] * (kS[d] - 1) + 1 + s.OutputPadding[d];
        var outShape = new TensorShape([n, cout, .. outS]);
        var acc = new double[outShape.ElementCount];
        foreach (var i in Positions(inS))
            for (int b = 0; b < n; b++)
                for (int ci = 0; ci < cin; ci++)
                {
                    int grp = ci / cing;
                    double v = x.Data[Flat(x.Shape, b, ci, i)];
                    for (int co = 0; co < coutg; co++)
                        foreach (var t in Positions(kS))
                        {
                            var o = new int[r];
                            bool inside = true;
                            for (int d = 0; d < r; d++)
                            {
                                o[d] = i[d] * s.Stride[d] - s.PadBegin[d] + t[d] * s.Dilation[d];
                                inside &= o[d] >= 0 && o[d] < outS[d];
                            }
                            if (inside) acc[Flat(outShape, b, grp * coutg + co, o)] += v * w.Data[Flat(w.Shape, ci, co, t)];
                        }
                }
        var y = new HostTensor(outShape);
        long spatial = outShape.SpatialSize;
        for (int e = 0; e < acc.Length; e++)
            y.Data[e] = (float)(acc[e] + (bias?.Data[(int)(e / spatial % cout)] ?? 0));
        return y;
    }

    static IEnumerable<int[]> Positions(int[] sizes)
    {
        var p = new int[sizes.Length];
        while (true)
        {
            yield return (int[])p.Clone();
            int d = sizes.Length - 1;
            while (d >= 0 && ++p[d] == sizes[d]) p[d--] = 0;
            if (d < 0) yield break;
        }
    }

    static int Flat(TensorShape shape, int a, int b, int[] rest)
    {
        long index = (long)a * shape[1] + b;
        for (int d = 0; d < rest.Length; d++) index = index * shape[2 + d] + rest[d];
        return (int)index;
    }

    static double Dot(HostTensor a, HostTensor b) => a.Data.Zip(b.Data, (p, q) => (double)p * q).Sum();
    static double Scale(HostTensor a, HostTensor b) => a.Data.Zip(b.Data, (p, q) => Math.Abs((double)p * q)).Sum();

    static void AssertDotEqual(double left, double right, double scale) =>
        Assert.That(Math.Abs(left - right), Is.LessThan(1e-5 * scale + 1e-9), $"adjoint identity: {left} vs {right}");

    static void AssertClose(float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        // Not LINQ's Max: it skips NaN, so [1, NaN, 3] against [1, 2, 3] would pass.
        double maxRef = Differences.MaxMagnitude(expected);
        double maxDiff = Differences.MaxAbs(actual, expected);
        Assert.That(maxDiff / maxRef, Is.LessThan(1e-5), $"max abs diff {maxDiff}, max |ref| {maxRef}");
    }
}
