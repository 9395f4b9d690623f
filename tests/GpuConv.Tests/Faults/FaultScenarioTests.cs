using System.Runtime.InteropServices;
using System.Text.Json;
using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using GpuConv.Reference;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Faults;

/// <summary>
/// What the user sees through the public API when the driver, cuDNN or cuBLAS fails — each test runs in a child
/// process against the native fakes with faults injected (FaultInjectionRunTests starts them; GPUCONV_FAULT_CHILD
/// names the group, so each group gets a process of its own: discovery is probed once per process). Everywhere
/// else they skip. After every engine is disposed the fakes must report nothing live: no context retain, device
/// or pinned allocation, stream, event, module, cuDNN handle or descriptor, cuBLAS handle.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class FaultScenarioTests
{
    public const string GroupVariable = "GPUCONV_FAULT_CHILD";

    // Small enough for the fake's double-precision loops and the PTX interpreter; stride, padding and bias on.
    static readonly ConvSpec Spec = new([3, 3], stride: [1, 1], padBegin: [1, 1]);
    static readonly HostTensor X = HostTensor.Random(new TensorShape(2, 4, 7, 7), 11);
    static readonly HostTensor W = HostTensor.Random(new TensorShape(6, 4, 3, 3), 12);
    static readonly HostTensor Bias = HostTensor.Random(new TensorShape(6), 13);
    // fp32 against the float64 reference: cuDNN's transform algorithms are held to 1e-4 (CudnnBackend's notes).
    const double Tolerance = 1e-4;

    string _folder = null!;

    static void RequireGroup(string group)
    {
        if (Environment.GetEnvironmentVariable(GroupVariable) != group)
            Assert.Ignore($"runs in a child process against the native fakes with faults injected (FaultInjectionRunTests, group '{group}')");
    }

    [SetUp]
    public void MakeFolder() => _folder = Directory.CreateTempSubdirectory("gpuconv-faults-").FullName;

    [TearDown]
    public void Clean()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        if (Environment.GetEnvironmentVariable(GroupVariable) == "run") FakeFaults.Set("");
    }

    static ConvEngineOptions Options(PlanPolicy policy = PlanPolicy.Heuristic, string? backend = null, string? planCache = null) => new()
    {
        Policy = policy,
        Backend = backend,
        PlanCachePath = planCache,
        PersistPlans = planCache is not null,
        Warning = _ => { },
    };

    static void AssertMatchesReference(ConvEngine engine, string what)
    {
        var report = engine.Validate(Spec, X, W, Bias);
        Assert.That(report.Error.MaxRelative, Is.LessThan(Tolerance), $"{what}: {report}");
    }

    static void AssertNothingLive(string when) => Assert.That(FakeFaults.Leaks(), Is.Empty, $"live native resources {when}");

    // ---------------------------------------------------------------- discovery and opening

    [Test, Category("fault-cuinit")]
    public void CuInitFailureMeansTheCpuPathWithAOneLineReason()
    {
        RequireGroup("cuinit");
        using (var engine = ConvEngine.Open(Options()))
        {
            Assert.That(engine.GpuUnavailableReason, Does.Contain("cuInit failed").And.Contain("CUDA_ERROR_UNKNOWN"));
            Assert.That(engine.GpuUnavailableReason, Does.Not.Contain('\n'));
            Assert.That(engine.Backends.Select(b => b.Name), Is.EquivalentTo(new[] { "cpu", "reference" }));
            AssertMatchesReference(engine, "cpu path");
        }
        var e = Assert.Throws<InvalidOperationException>(() => ConvEngine.Open(Options() with { Device = DeviceKind.Gpu }))!;
        Assert.That(e.Message, Does.Contain("cuInit failed"));
        AssertNothingLive("after the engines were disposed");
    }

    [Test, Category("fault-nodevice")]
    public void ADriverWithNoDeviceMeansTheCpuPathWithAOneLineReason()
    {
        RequireGroup("nodevice");
        using var engine = ConvEngine.Open(Options());
        Assert.That(engine.GpuUnavailableReason, Is.EqualTo("no CUDA device: the driver reports 0 devices"));
        Assert.That(engine.Backends.Select(b => b.Name), Is.EquivalentTo(new[] { "cpu", "reference" }));
        AssertMatchesReference(engine, "cpu path");
    }

    [Test, Category("fault-cudnncreate")]
    public void FailingCudnnCreateLeavesThePtxBackendWithTheReason()
    {
        RequireGroup("cudnncreate");
        using (var engine = ConvEngine.Open(Options()))
        {
            Assert.That(engine.GpuUnavailableReason, Is.Null, "the GPU is there: only cuDNN failed");
            Assert.That(engine.Backends.Select(b => b.Name), Does.Contain("ptx").And.Not.Contain("cudnn"));
            Assert.That(engine.UnavailableBackends.Keys, Is.EquivalentTo(new[] { "cudnn" }));
            Assert.That(engine.UnavailableBackends["cudnn"], Does.Contain("cudnnCreate").And.Contain("CUDNN_STATUS_INTERNAL_ERROR").And.Not.Contain('\n'));
            AssertMatchesReference(engine, "without cuDNN");
            Assert.That(engine.LastPlan!.Backend, Is.EqualTo("ptx"));
            var e = Assert.Throws<ArgumentException>(() => ConvEngine.Open(Options(backend: "cudnn")))!;
            Assert.That(e.Message, Does.Contain("cudnnCreate"), "asking for cudnn says why it is not there");
        }
        AssertNothingLive("after the engine was disposed");
    }

    [Test, Category("fault-cudnnmissing")]
    public void MissingCudnnLeavesThePtxBackendWithTheReason()
    {
        RequireGroup("cudnnmissing");
        using (var engine = ConvEngine.Open(Options()))
        {
            Assert.That(engine.GpuUnavailableReason, Is.Null);
            Assert.That(engine.Backends.Select(b => b.Name), Does.Contain("ptx").And.Not.Contain("cudnn"));
            Assert.That(engine.UnavailableBackends["cudnn"], Does.Contain("libcudnn"));
            AssertMatchesReference(engine, "without cuDNN");
        }
        AssertNothingLive("after the engine was disposed");
    }

    [Test, Category("fault-cublascreate")]
    public void FailingCublasCreateLeavesCudnnAndDeclinesTheGemmAlgorithms()
    {
        RequireGroup("cublascreate");
        using (var engine = ConvEngine.Open(Options()))
        {
            AssertMatchesReference(engine, "cudnn while cuBLAS fails");
            Assert.That(engine.LastPlan!.Backend, Is.EqualTo("cudnn"));
        }
        using (var engine = ConvEngine.Open(Options(backend: "ptx")))
        {
            // Only ptx allowed: its GEMM algorithm is declined (cuBLAS will not open), and nothing is left.
            var e = Assert.Throws<InvalidOperationException>(() => engine.Forward(Spec, X, W, Bias))!;
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.InnerException, Is.InstanceOf<AlgorithmDeclinedException>());
            Assert.That(e.Message, Does.Contain("no candidate left").And.Contain("cublasCreate_v2").And.Contain("CUBLAS_STATUS_ALLOC_FAILED"));
        }
        using (var engine = ConvEngine.Open(Options(PlanPolicy.Exhaustive)))
        {
            var explanation = engine.Explain(Problem());
            Assert.That(explanation.Chosen!.Backend, Is.Not.EqualTo("ptx"));
            Assert.That(explanation.Rows.Where(r => r.Backend == "ptx" && r.Status == CandidateStatus.Failed).Select(r => r.Reason),
                Has.Some.Contain("cublasCreate_v2"), explanation.Format());
        }
        AssertNothingLive("after the engines were disposed");
    }

    /// <summary>
    /// Without cuBLAS there is no ptx backend, so nothing fuses ReLU into a transposed layer (cuDNN's fused call is for
    /// forward convolutions): the engine applies it after the run, now with the element-wise kernel on the stream. Every
    /// copy to the host fails while the call runs, so a host round trip would fail the test.
    /// </summary>
    [Test, Category("fault-cublasmissing")]
    public void WithoutCublas_AnUnfusedReluRunsOnTheDevice_NoCopyToTheHost()
    {
        RequireGroup("cublasmissing");
        var up = new ConvSpec([2, 2], stride: [2, 2], transposed: true);
        var x = HostTensor.Random(new TensorShape(2, 4, 5, 5), 21);
        var w = HostTensor.Random(new TensorShape(4, 6, 2, 2), 22);
        var bias = HostTensor.Random(new TensorShape(6), 23);
        using (var engine = ConvEngine.Open(Options()))
        {
            Assert.That(engine.Backends.Select(b => b.Name), Does.Contain("cudnn").And.Not.Contain("ptx"));
            Assert.That(engine.UnavailableBackends["ptx"], Does.Contain("cuBLAS not loaded"));
            using var dx = engine.Upload(x);
            using var dw = engine.Upload(w);
            using var db = engine.Upload(bias);
            Tensor y;
            long injected;
            FakeFaults.Set("cuMemcpyDtoHAsync_v2@*=1");
            try
            {
                y = engine.ForwardBiasActivation(up, dx, dw, db, Activation.Relu);
                engine.Relu(y, output: y); // idempotent: the element-wise call itself, also without cuBLAS
                engine.Synchronize();
                injected = FakeFaults.Injected;
            }
            finally { FakeFaults.Set(""); }
            using (y)
            {
                Assert.That(injected, Is.Zero, "no copy to the host was attempted");
                Assert.That(engine.LastPlan!.Backend, Is.EqualTo("cudnn"));
                using var reference = ConvEngine.Open(Options(backend: "reference") with { Device = DeviceKind.Cpu });
                var expected = reference.ForwardBiasActivation(up, x, w, bias, Activation.Relu).Data;
                var got = engine.Download(y).Data;
                Assert.That(ErrorMetrics.Compare(got, expected.Select(v => (double)v).ToArray()).MaxRelative, Is.LessThan(Tolerance));
                Assert.That(got.Count(v => v == 0), Is.InRange(1, got.Length - 1), "ReLU clipped some, not all");
            }
        }
        AssertNothingLive("after the engine was disposed");
    }

    static ConvProblem Problem() => ConvProblem.Create(Spec, X.Shape, W.Shape, ConvOp.Forward);

    // ---------------------------------------------------------------- faults while running

    [Test, Category("fault-run")]
    public void OutOfMemoryWhilePlanningIsAClearErrorAndTheNextCallWorks()
    {
        RequireGroup("run");
        using (var engine = ConvEngine.Open(Options(PlanPolicy.Exhaustive)))
        {
            FakeFaults.Set("cuMemAlloc_v2@1+=2");
            var e = Assert.Throws<DeviceOutOfMemoryException>(() => engine.Forward(Spec, X, W, Bias))!;
            Assert.That(e.Message, Does.Contain("out of device memory"));
            FakeFaults.Set("");
            AssertMatchesReference(engine, "the call after the out-of-memory one");
            // The failure was the device's state, not the candidates': planned again, every GPU candidate is timed.
            var explanation = engine.Explain(Problem());
            Assert.That(explanation.Rows.Where(r => r.Backend is "cudnn" or "ptx").Select(r => r.Status), Has.None.EqualTo(CandidateStatus.Failed),
                explanation.Format());
            Assert.That(explanation.Rows.Where(r => r.Backend == "cudnn" && r.TimeMs is not null), Is.Not.Empty, explanation.Format());
        }
        AssertNothingLive("after the engine was disposed");
    }

    [Test, Category("fault-run")]
    public void OneFailedAllocationIsAbsorbedByThePool()
    {
        RequireGroup("run");
        using (var hold = FakeFaults.HoldContext())
        {
            var baseline = FakeFaults.Live();
            using (var engine = ConvEngine.Open(Options()))
            {
                AssertMatchesReference(engine, "warm-up");
                // A larger problem needs new blocks: its first cuMemAlloc fails, the pool frees its cache and retries.
                FakeFaults.Set("cuMemAlloc_v2@1=2");
                var x = HostTensor.Random(new TensorShape(3, 4, 15, 15), 21);
                var report = engine.Validate(Spec, x, W, Bias);
                Assert.That(report.Error.MaxRelative, Is.LessThan(Tolerance), report.ToString());
                Assert.That(FakeFaults.Injected, Is.EqualTo(1), "the fault was hit");
            }
            Assert.That(FakeFaults.Live(), Is.EqualTo(baseline), "the engine freed everything it made (the context is still held)");
        }
        AssertNothingLive("after the context was released");
    }

    [TestCase(5000, "CUDNN_STATUS_EXECUTION_FAILED"), TestCase(3000, "CUDNN_STATUS_NOT_SUPPORTED"), TestCase(2000, "CUDNN_STATUS_BAD_PARAM")]
    [Category("fault-run")]
    public void ACudnnAlgorithmRefusedAtRunTimeFallsToTheNextAndThePlanCacheSurvives(int status, string statusName)
    {
        RequireGroup("run");
        string cache = Path.Join(_folder, "plans.json");
        // A plans file the user already has: an entry for another problem, written by an earlier engine.
        var other = HostTensor.Random(new TensorShape(1, 4, 5, 5), 31);
        using (var engine = ConvEngine.Open(Options(PlanPolicy.Cached, planCache: cache)))
            engine.Forward(Spec, other, W);
        var before = Entries(cache);
        Assert.That(before, Has.Count.EqualTo(1));

        using (var engine = ConvEngine.Open(Options(PlanPolicy.Cached, planCache: cache)))
        {
            var first = engine.GetPlan(Problem());
            Assert.That(first.Backend, Is.EqualTo("cudnn"));
            FakeFaults.Set($"cudnnConvolutionForward#{first.Algorithm.Id}@*={status}");
            AssertMatchesReference(engine, $"after {first.Algorithm.Key} was refused with {statusName}");
            var ran = engine.LastPlan!;
            Assert.That(ran.Source, Is.EqualTo(PlanSource.Fallback));
            Assert.That(ran.Algorithm.Key, Is.Not.EqualTo(first.Algorithm.Key));
            Assert.That(ran.Why, Does.Contain(statusName));
        }
        var after = Entries(cache);
        foreach (var (hash, entry) in before)
            Assert.That(after.GetValueOrDefault(hash), Is.EqualTo(entry), "the user's earlier plan is kept unchanged");
        Assert.That(after, Has.Count.EqualTo(2), "the fallback was remembered");
        Assert.That(after.Values.Count(e => e.Contains("\"Fallback\"", StringComparison.Ordinal)), Is.EqualTo(1), string.Join('\n', after.Values));
        AssertNothingLive("after the engines were disposed");
    }

    /// <summary>The plan cache file's entries by hash, each as its JSON text (the file must parse).</summary>
    static Dictionary<string, string> Entries(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.GetProperty("entries").EnumerateArray()
            .ToDictionary(e => e.GetProperty("hash").GetString()!, e => e.GetRawText());
    }

    [Test, Category("fault-run")]
    public void AFailedKernelLoadDeclinesPtxWithTheDriversWordsAndCudnnStillRuns()
    {
        RequireGroup("run");
        FakeFaults.Set("cuModuleLoadDataEx@*=218");
        using (var engine = ConvEngine.Open(Options(PlanPolicy.Exhaustive)))
        {
            var explanation = engine.Explain(Problem());
            Assert.That(explanation.Chosen!.Backend, Is.Not.EqualTo("ptx"), explanation.Format());
            Assert.That(explanation.Rows.Where(r => r.Backend == "ptx" && r.Status == CandidateStatus.Failed).Select(r => r.Reason),
                Has.Some.Contain("cuModuleLoadDataEx").And.Some.Contain("CUDA_ERROR_INVALID_PTX"), explanation.Format());
            Assert.That(explanation.Rows.Where(r => r.Backend == "cudnn").Select(r => r.Status), Has.None.EqualTo(CandidateStatus.Failed));
        }
        using (var engine = ConvEngine.Open(Options()))
        {
            AssertMatchesReference(engine, "cudnn while PTX cannot load");
            Assert.That(engine.LastPlan!.Backend, Is.EqualTo("cudnn"));
        }
        using (var engine = ConvEngine.Open(Options(backend: "ptx")))
        {
            // Only ptx allowed: its algorithm is declined with the driver's words, and nothing is left.
            var e = Assert.Throws<InvalidOperationException>(() => engine.Forward(Spec, X, W, Bias))!;
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.InnerException, Is.InstanceOf<AlgorithmDeclinedException>());
            Assert.That(e.Message, Does.Contain("no candidate left").And.Contain("cuModuleLoadDataEx").And.Contain("CUDA_ERROR_INVALID_PTX"));
        }
        AssertNothingLive("after the engines were disposed");
    }

    [TestCase("cudnn", PlanPolicy.Cached, "cudnnConvolutionForward@1=5000!")]
    [TestCase("cudnn", PlanPolicy.Exhaustive, "cudnnConvolutionForward@1=5000!")]
    [TestCase("ptx", PlanPolicy.Cached, "cuLaunchKernel@1=700!")]
    [TestCase("ptx", PlanPolicy.Exhaustive, "cuLaunchKernel@1=700!")] // ptx is timed last of the GPU backends: then only the CPU is left to time
    [Category("fault-run")]
    public void AStickyIllegalAddressFailsThatCallClearlyAndEveryLaterOneUntilANewEngine(string backend, PlanPolicy policy, string rule)
    {
        RequireGroup("run");
        string cache = Path.Join(_folder, "plans.json");
        // Cached: ptx alone, so the fault hits its launch. Exhaustive: every backend, timed in priority order.
        var engine = ConvEngine.Open(Options(policy, planCache: cache) with { Backend = backend == "ptx" && policy != PlanPolicy.Exhaustive ? "ptx" : null });
        var x = HostTensor.Random(new TensorShape(1, 4, 6, 6), 41); // a new problem: planned (timed, when exhaustive), then run
        string key = engine.Planner.KeyFor(ConvProblem.Create(Spec, x.Shape, W.Shape, ConvOp.Forward)).Hash;
        try
        {
            if (policy != PlanPolicy.Exhaustive) // (exhaustive would pick the CPU for so small a problem)
            {
                AssertMatchesReference(engine, "before the fault");
                Assert.That(engine.LastPlan!.Backend, Is.EqualTo(backend));
            }
            FakeFaults.Set(rule);
            var first = Assert.Throws<CudaException>(() => engine.Forward(Spec, x, W, Bias))!;
            TestContext.Out.WriteLine("the faulting call: " + first.Message);
            Assert.That(first.Status, Is.EqualTo(CuResult.ErrorIllegalAddress));
            Assert.That(first.ContextUnusable, Is.True);
            Assert.That(first.Message, Does.Contain("CUDA_ERROR_ILLEGAL_ADDRESS"));
            Assert.That(first.Message, Does.Contain(backend == "cudnn" ? "cudnnConvolutionForward" : "cuLaunchKernel"), "the message names the call that met the fault");
            for (int i = 0; i < 3; i++)
            {
                var later = Assert.Throws<CudaException>(() => engine.Forward(Spec, X, W, Bias), $"later call {i} must not return a result")!;
                Assert.That(later.Status, Is.EqualTo(CuResult.ErrorIllegalAddress));
                Assert.That(later.Message, Does.Contain("unusable"));
            }
        }
        finally
        {
            Assert.DoesNotThrow(engine.Dispose, "Dispose after a sticky error");
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        AssertNothingLive("after the engine was disposed (releasing the context frees what the driver refused to free)");
        // A device fault is no algorithm's refusal: nothing in the plan cache may steer this problem away from the GPU.
        if (File.Exists(cache) && Entries(cache).TryGetValue(key, out var entry))
        {
            Assert.That(entry, Does.Not.Contain("\"Fallback\""));
            Assert.That(entry, Does.Contain($"\"{backend}\""), "the entry names the GPU backend it was planned for");
        }

        // A new engine in this (still faulted) process: the CPU path, with the driver's reason.
        using (var cpu = ConvEngine.Open(Options()))
        {
            Assert.That(cpu.GpuUnavailableReason, Does.Contain("CUDA_ERROR_ILLEGAL_ADDRESS"));
            AssertMatchesReference(cpu, "the CPU path after the fault");
        }
        AssertNothingLive("after the CPU engine was disposed");
    }

    /// <summary>
    /// The graph-API path meets a sticky fault as the legacy one does: cudnnBackendExecute's EXECUTION_FAILED is the
    /// device's (a <see cref="CudaException"/> naming the call), not the engine config declining, which would send the
    /// planner on to candidates that fail too and remember a refusal.
    /// </summary>
    [Test, Category("fault-run")]
    public void AStickyFaultInAGraphEngineConfigIsTheDevicesFailureNotADecline()
    {
        RequireGroup("run");
        var engine = ConvEngine.Open(Options(backend: "cudnn"));
        try
        {
            var cudnn = engine.Backends.OfType<GpuConv.Backends.Cudnn.CudnnBackend>().Single();
            var problem = ConvProblem.Create(Spec, X.Shape, W.Shape);
            var graph = cudnn.GetAlgorithms(problem, ConvPrecision.Strict).FirstOrDefault(a => a.Name.StartsWith("GRAPH_", StringComparison.Ordinal));
            Assert.That(graph, Is.Not.Null, $"the fake offers graph engine configs ({cudnn.GraphCandidatesOff ?? "on"})");
            using var x = engine.Upload(X);
            using var w = engine.Upload(W);
            using var y = engine.Allocate(problem.YShape);
            FakeFaults.Set("cudnnBackendExecute@1=5000!");
            var e = Assert.Throws<CudaException>(() => cudnn.Run(problem, graph!, new ConvTensors(x, w, y)))!;
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.Status, Is.EqualTo(CuResult.ErrorIllegalAddress));
            Assert.That(e.Message, Does.Contain("cudnnBackendExecute"), "the message names the call that met the fault");
        }
        finally
        {
            Assert.DoesNotThrow(engine.Dispose, "Dispose after a sticky error");
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        AssertNothingLive("after the engine was disposed");
    }

    /// <summary>
    /// cuDNN refusing a backend-API (graph) step for a problem (NOT_SUPPORTED on cudnnBackendFinalize): its operation
    /// graph (descriptor type 15: cuDNN will not build that graph), or both heuristics queries (type 4), costs only the
    /// graph candidates — the legacy algorithms are still offered and run the problem; a refused mode-A query alone
    /// leaves FALLBACK's configs. A refusal is cuDNN's answer, not a failure (LastGraphFailure stays null), and every
    /// backend descriptor made on the way is destroyed. Not reached before (build/gpu-coverage.sh): the fake graph API
    /// built every graph.
    /// </summary>
    [Category("fault-run")]
    [TestCase("cudnnBackendFinalize#15@*=3000", false)]
    [TestCase("cudnnBackendFinalize#4@*=3000", false)]
    [TestCase("cudnnBackendFinalize#4@1=3000", true)]
    public void CudnnRefusingAGraphLeavesTheOtherCandidates(string rule, bool graphCandidatesLeft)
    {
        RequireGroup("run");
        static bool IsGraph(ConvAlgorithm a) => a.Name.StartsWith("GRAPH_", StringComparison.Ordinal);
        var p = Problem();
        long descriptorsBefore = BackendDescriptorsLive();
        using (var control = ConvEngine.Open(Options(backend: "cudnn")))
            Assert.That(control.Backends.Single(b => b.Name == "cudnn").GetAlgorithms(p, ConvPrecision.Strict).Where(IsGraph), Is.Not.Empty,
                "without the fault this problem has graph candidates");
        using (var engine = ConvEngine.Open(Options(backend: "cudnn")))
        {
            var cudnn = (CudnnBackend)engine.Backends.Single(b => b.Name == "cudnn");
            IReadOnlyList<ConvAlgorithm> offered;
            FakeFaults.Set(rule);
            try
            {
                offered = cudnn.GetAlgorithms(p, ConvPrecision.Strict);
                Assert.That(FakeFaults.Injected, Is.GreaterThan(0), "the fault was hit");
                AssertMatchesReference(engine, rule);
            }
            finally { FakeFaults.Set(""); }
            Assert.That(offered.Where(a => !IsGraph(a)), Is.Not.Empty, "the legacy candidates");
            if (graphCandidatesLeft) Assert.That(offered.Where(IsGraph), Is.Not.Empty, "FALLBACK's configs");
            else
            {
                Assert.That(offered.Where(IsGraph), Is.Empty, "no graph candidate");
                Assert.That(IsGraph(engine.LastPlan!.Algorithm), Is.False, engine.LastPlan.ToString());
            }
            Assert.That(engine.LastPlan!.Backend, Is.EqualTo("cudnn"));
            Assert.That(cudnn.LastGraphFailure, Is.Null, "a refusal is not a failure");
        }
        Assert.That(BackendDescriptorsLive(), Is.EqualTo(descriptorsBefore), "every backend descriptor was destroyed");
        AssertNothingLive("after the engine was disposed");
    }

    /// <summary>
    /// The device cannot allocate a plan's cuDNN workspace (cuMemAlloc out of memory, the pool's retry included): the
    /// allocation becomes the candidate's refusal (CudaGpuRuntime.AllocateScratch → WorkspaceAllocationException) and
    /// the planner falls back to the next candidate, here down to one without a workspace; the result is right. Not
    /// reached before (build/gpu-coverage.sh): every workspace was allocated.
    /// </summary>
    [Test, Category("fault-run")]
    public void AWorkspaceTheDeviceCannotAllocateFallsBackToTheNextCandidate()
    {
        RequireGroup("run");
        var p = Problem();
        using (var engine = ConvEngine.Open(Options(PlanPolicy.Cached, backend: "cudnn")))
        {
            var cudnn = engine.Backends.Single(b => b.Name == "cudnn");
            var withWorkspace = cudnn.GetAlgorithms(p, ConvPrecision.Strict).First(a => a.WorkspaceBytes > 0 && !a.Name.StartsWith("GRAPH_", StringComparison.Ordinal));
            engine.Planner.Cache.Put(engine.Planner.KeyFor(p), new Plan(cudnn.Name, withWorkspace, PlanSource.Exhaustive, "test: a workspace plan"));
            // Device-resident, so the only allocation of the call is the workspace.
            using var dx = engine.Upload(X);
            using var dw = engine.Upload(W);
            using var dy = engine.Allocate(p.YShape);
            FakeFaults.Set("cuMemAlloc_v2@*=2");
            try { engine.Forward(Spec, dx, dw, output: dy); }
            finally { FakeFaults.Set(""); }
            var plan = engine.LastPlan!;
            Assert.That(plan.Source, Is.EqualTo(PlanSource.Fallback), plan.ToString());
            Assert.That(plan.Why, Does.Contain(withWorkspace.Key), "names the candidate whose workspace failed");
            Assert.That(plan.WorkspaceBytes, Is.Zero, plan.ToString());
            var expected = ReferenceConv.Forward(p, X.Data, W.Data);
            Assert.That(ErrorMetrics.Compare(engine.Download(dy).Data, expected).MaxRelative, Is.LessThan(Tolerance));
        }
        AssertNothingLive("after the engine was disposed");
    }

    static unsafe long BackendDescriptorsLive()
    {
        nint f = 0;
        Assert.That(NativeLibrary.TryLoad("libcudnn.so.9", out var lib) && NativeLibrary.TryGetExport(lib, "gpuconv_fake_cudnn_backend_live", out f),
            Is.True, "the fake cuDNN's backend-descriptor counter");
        return ((delegate* unmanaged<long>)f)();
    }

    [Test, Category("fault-run")]
    public void ThousandsOfCallsWithPeriodicFaultsLeakNothing()
    {
        RequireGroup("run");
        var problems = new (ConvSpec Spec, HostTensor X, HostTensor W)[]
        {
            (Spec, HostTensor.Random(new TensorShape(1, 3, 6, 6), 51), HostTensor.Random(new TensorShape(4, 3, 3, 3), 52)),
            (new ConvSpec([1, 1]), HostTensor.Random(new TensorShape(2, 4, 5, 5), 53), HostTensor.Random(new TensorShape(3, 4, 1, 1), 54)),
            (new ConvSpec([3], padBegin: [1], padEnd: [2]), HostTensor.Random(new TensorShape(1, 2, 9), 55), HostTensor.Random(new TensorShape(2, 2, 3), 56)),
        };
        var references = problems.Select(p => ReferenceOf(p.Spec, p.X, p.W)).ToArray();
        int calls = 0, failed = 0, checkedResults = 0;
        using (var hold = FakeFaults.HoldContext())
        {
            var baseline = FakeFaults.Live();
            using (var engine = ConvEngine.Open(Options()))
            {
                FakeFaults.Set("cudnnConvolutionForward@%37=5000;cuMemcpyHtoDAsync_v2@%101=999;cuMemAlloc_v2@%3=2;" +
                               "cudnnCreateActivationDescriptor@%11=4000;cuMemcpyDtoHAsync_v2@%151=999");
                for (int i = 0; i < 2100; i++)
                {
                    var (spec, x, w) = problems[i % problems.Length];
                    calls++;
                    try
                    {
                        var y = i % 2 == 0 ? engine.Forward(spec, x, w) : engine.ForwardBiasActivation(spec, x, w, new HostTensor(w.Shape[0]), Activation.Identity);
                        var expected = references[i % problems.Length];
                        Assert.That(Differences.MaxRelative(y.Data, expected), Is.LessThan(Tolerance), $"call {i}: {engine.LastPlan}");
                        checkedResults++;
                    }
                    catch (Exception e) when (e is CudaException or CudnnException)
                    {
                        failed++;
                    }
                }
                TestContext.Out.WriteLine($"{calls} calls: {checkedResults} results checked, {failed} failed with an injected fault ({FakeFaults.Injected} injected)");
                Assert.That(failed, Is.GreaterThan(10), "faults reached the user");
                Assert.That(checkedResults, Is.GreaterThan(1000));
            }
            Assert.That(FakeFaults.Live(), Is.EqualTo(baseline), "after 2,100 calls with faults the engine freed everything it made");
        }
        AssertNothingLive("after the context was released");
    }

    [Test, Category("fault-run")]
    public void AHandleWhoseStreamCannotBeSetIsDestroyedAtOnce()
    {
        RequireGroup("run");
        FakeFaults.Set("cudnnSetStream@1=2000;cublasSetStream_v2@1=7");
        using (var engine = ConvEngine.Open(Options(backend: "ptx")))
        {
            Assert.That(engine.UnavailableBackends["cudnn"], Does.Contain("cudnnSetStream").And.Contain("CUDNN_STATUS_BAD_PARAM"));
            Assert.That(FakeFaults.Live()["cudnn_handles"], Is.Zero, "the cuDNN handle made before the refusal is destroyed, not left to the finalizer");
            var e = Assert.Catch(() => engine.Forward(Spec, X, W, Bias))!;
            Assert.That(e.ToString(), Does.Contain("cublasSetStream_v2"));
            Assert.That(FakeFaults.Live()["cublas_handles"], Is.Zero, "the cuBLAS handle made before the refusal is destroyed");
        }
        AssertNothingLive("after the engine was disposed");
    }

    [Test, Category("fault-run")]
    public void DeviceResidentCallsWithPeriodicFaultsLeakNothing()
    {
        RequireGroup("run");
        var reference = ReferenceOf(Spec, X, W);
        int ok = 0, failed = 0;
        using (var hold = FakeFaults.HoldContext())
        {
            var baseline = FakeFaults.Live();
            using (var engine = ConvEngine.Open(Options()))
            {
                var x = engine.Upload(X);
                var w = engine.Upload(W);
                using var ownX = (IDisposable)x; // device tensors: the caller's to dispose
                using var ownW = (IDisposable)w;
                FakeFaults.Set("cudnnConvolutionForward@%13=5000;cuMemAlloc_v2@%2=2;cuMemcpyDtoHAsync_v2@%17=999;cuMemcpyHtoDAsync_v2@%19=999");
                for (int i = 0; i < 400; i++)
                {
                    Tensor? y = null;
                    try
                    {
                        // Every other call into a tensor of the caller's, the rest into a new one the engine allocates.
                        y = i % 2 == 0 ? engine.Allocate(new TensorShape(2, 6, 7, 7)) : null;
                        var written = engine.Forward(Spec, x, w, output: y);
                        y ??= written;
                        if (i % 5 == 0) engine.Upload(W.Data, w); // an upload that may fail, into a tensor the engine holds
                        var host = engine.Download(written);
                        Assert.That(Differences.MaxRelative(host.Data, reference), Is.LessThan(Tolerance), $"call {i}: {engine.LastPlan}");
                        ok++;
                    }
                    catch (Exception e) when (e is CudaException or CudnnException or DeviceOutOfMemoryException)
                    {
                        failed++;
                    }
                    finally
                    {
                        (y as IDisposable)?.Dispose();
                    }
                }
                TestContext.Out.WriteLine($"device-resident: {ok} results checked, {failed} calls failed with an injected fault ({FakeFaults.Injected} injected)");
                Assert.That(failed, Is.GreaterThan(10));
                Assert.That(ok, Is.GreaterThan(200));
            }
            Assert.That(FakeFaults.Live(), Is.EqualTo(baseline), "device-resident calls with faults: the engine freed everything it made");
        }
        AssertNothingLive("after the context was released");
    }

    [Test, Category("fault-run")]
    public void AStickyFaultInADeviceResidentCallFailsItAndTheDownload()
    {
        RequireGroup("run");
        var engine = ConvEngine.Open(Options());
        Tensor? x = null, w = null, y = null;
        try
        {
            x = engine.Upload(X);
            w = engine.Upload(W);
            FakeFaults.Set("cudnnConvolutionForward@1=5000!");
            var e = Assert.Throws<CudaException>(() => y = engine.Forward(Spec, x, w))!;
            Assert.That(e.ContextUnusable, Is.True, e.Message);
            Assert.Throws<CudaException>(() => engine.Download(x), "a download after the fault");
            Assert.Throws<CudaException>(() => engine.Synchronize());
        }
        finally
        {
            Assert.DoesNotThrow(() =>
            {
                engine.Dispose();
                foreach (var t in new[] { x, w, y }) (t as IDisposable)?.Dispose(); // after the engine: must not throw either
            });
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        AssertNothingLive("after the engine and the tensors were disposed");
    }

    static float[] ReferenceOf(ConvSpec spec, HostTensor x, HostTensor w)
    {
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape, ConvOp.Forward);
        return ReferenceConv.Run(problem, x.Data, w.Data, [], []).Select(v => (float)v).ToArray();
    }
}
