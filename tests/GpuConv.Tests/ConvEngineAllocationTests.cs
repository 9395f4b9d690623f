using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests;

/// <summary>
/// What a warm engine call allocates on top of the backend's own call, on the cpu backend with a tiny
/// convolution (where the host side is all there is). Bytes allocated on the calling thread are
/// deterministic for a warm call, unlike its time, so the bound is exact enough to catch a closure, a LINQ
/// query or an array per call coming back. Before the hot path was trimmed a device-resident Forward
/// allocated 1016 B beyond the backend's Run and Run 400 B; then 368 B (of which the ConvProblem built from
/// the spec and shapes is 256 B, the ConvTensors 56 B) and 0 B; now 0 B and 0 B (problems remembered per engine,
/// the caller's tensor set reused; see WarmForwardAllocationTests for the bound on a stream-ordered device path).
/// </summary>
public class ConvEngineAllocationTests
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);
    static readonly TensorShape XShape = new(1, 8, 8, 8), WShape = new(8, 8, 3, 3);

    ConvEngine engine = null!;
    Tensor x = null!, w = null!, y = null!;
    ConvProblem problem = null!;
    IConvBackend backend = null!;
    ConvAlgorithm algorithm = null!;
    ConvTensors tensors = null!;

    [SetUp]
    public void Open()
    {
        engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "cpu", PersistPlans = false, CpuThreads = 1 });
        x = engine.Upload(HostTensor.Random(XShape, 1));
        w = engine.Upload(HostTensor.Random(WShape, 2));
        y = engine.Allocate(XShape);
        problem = ConvProblem.Create(Spec, XShape, WShape);
        var plan = engine.GetPlan(problem);
        backend = engine.Planner.BackendOf(plan);
        algorithm = plan.Algorithm;
        tensors = new ConvTensors(x, w, y);
    }

    [TearDown]
    public void Close() => engine.Dispose();

    /// <summary>Bytes this thread allocates per call of <paramref name="call"/> after a warm-up.</summary>
    static long BytesPerCall(Action call)
    {
        const int Warm = 200, Calls = 1000;
        for (int i = 0; i < Warm; i++) call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++) call();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
    }

    [Test]
    public void AWarmDeviceResidentForwardAllocatesLittleBeyondTheBackendsRun()
    {
        long backendBytes = BytesPerCall(() => backend.Run(problem, algorithm, tensors));
        long engineBytes = BytesPerCall(() => engine.Forward(Spec, x, w, output: y));

        Assert.That(engineBytes - backendBytes, Is.LessThanOrEqualTo(64),
            $"engine {engineBytes} B per call, backend {backendBytes} B: the engine's own share grew (0 B expected)");
    }

    [Test]
    public void AWarmRunOnPlannedTensorsAllocatesNothingBeyondTheBackendsRun()
    {
        long backendBytes = BytesPerCall(() => backend.Run(problem, algorithm, tensors));
        long engineBytes = BytesPerCall(() => engine.Run(problem, tensors));

        Assert.That(engineBytes - backendBytes, Is.LessThanOrEqualTo(64),
            $"engine {engineBytes} B per call, backend {backendBytes} B: the engine's own share grew (0 B expected)");
    }

    [Test]
    public void TheWarmCallsStillComputeTheConvolution()
    {
        for (int i = 0; i < 3; i++) engine.Forward(Spec, x, w, output: y);
        var reference = ReferenceConv.Forward(problem, ((HostTensor)x).Data, ((HostTensor)w).Data);

        Assert.That(ErrorMetrics.Compare(((HostTensor)y).Data, reference).MaxRelative, Is.LessThan(1e-5));
    }
}

/// <summary>
/// What renting a workspace costs a warm device-resident call on the managed path (Gpu category: against the native
/// fakes in CI, on the device on a GPU host): the same call planned with a workspace and without one, the difference
/// measured. cuDNN's backward-data ALGO_0 needs no workspace and is non-deterministic, so the deterministic engine plans
/// ALGO_1 (an index table in its workspace on the fakes; a real cuDNN's choice is checked and the test skips without one).
/// Each rent allocated a DeviceBuffer (a SafeHandle) and its scratch wrapper until the runtime reused its leases: the
/// difference was 128 B per call against the fakes, then 48 B — the purpose string the cudnn backend formatted per call
/// (<c>algorithm.Key</c>, "cudnn/ALGO_1", computed on each read) — and is 0 B since ConvAlgorithm formats Key once, when its
/// parts are set. Both calls are 0 B in all now (the workspace-free one's 72 B, a forward problem made per backward call to
/// find the cuDNN descriptors, are gone too); WarmCallAllocationGpuTests covers every op.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ConvEngineWorkspaceAllocationGpuTests
{
    const int Warm = 200, Calls = 1000;
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);
    static readonly TensorShape XShape = new(1, 8, 8, 8), WShape = new(8, 8, 3, 3);

    static (long BytesPerCall, ConvAlgorithm Algorithm) WarmBackwardData(bool deterministic)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions
        {
            Device = DeviceKind.Gpu, Backend = "cudnn", Deterministic = deterministic, PersistPlans = false, Warning = _ => { },
        });
        var problem = ConvProblem.Create(Spec, XShape, WShape, ConvOp.BackwardData);
        var hw = HostTensor.Random(WShape, 2);
        var hdy = HostTensor.Random(problem.YShape, 1);
        using var dy = engine.Upload(hdy);
        using var w = engine.Upload(hw);
        using var dx = engine.Allocate(XShape);
        for (int i = 0; i < Warm; i++) engine.BackwardData(Spec, dy, w, XShape, output: dx);
        engine.Synchronize();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++) engine.BackwardData(Spec, dy, w, XShape, output: dx);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        // The calls still compute (strict FP32 against the float64 reference).
        var reference = ReferenceConv.Run(problem, [], hw.Data, hdy.Data, []);
        Assert.That(ErrorMetrics.Compare(engine.Download(dx).Data, reference).MaxRelative, Is.LessThan(1e-4), engine.GetPlan(problem).Algorithm.Key);
        return (bytes / Calls, engine.GetPlan(problem).Algorithm);
    }

    [Test]
    public void RentingAWorkspaceAllocatesNoObjectPerCall()
    {
        var status = GpuConv.Cuda.Discovery.CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        if (status.CudnnVersion is null) Assert.Ignore($"skipped: cuDNN not loadable: {status.CudnnReason}");
        bool underFakes = GpuConv.Tests.NativeFakes.NativeFakeLibraries.Folder is not null;
        var (with, rented) = WarmBackwardData(deterministic: true);
        var (without, free) = WarmBackwardData(deterministic: false);
        TestContext.Out.WriteLine($"{rented.Key} ({rented.WorkspaceBytes} B workspace): {with} B per call; {free.Key} ({free.WorkspaceBytes} B): {without} B per call");
        if (rented.WorkspaceBytes == 0 || free.WorkspaceBytes > 0)
        {
            // The fakes' algorithm table is known, so there the contrast must exist. A real cuDNN may plan otherwise
            // (no skip: on a GPU host a skip fails issue 13's "0 skipped"); both calls are still held to 0 B below.
            Assert.That(underFakes, Is.False, $"against the fakes {rented.Key} rents and {free.Key} does not: the case is not measured");
            TestContext.Out.WriteLine("no workspace-only difference on this device: each call is held to 0 B on its own");
        }
        else
            Assert.That(with - without, Is.LessThanOrEqualTo(0),
                $"{rented.Key} allocates {with} B per warm call, {free.Key} {without} B: renting the workspace costs {with - without} B per call (bound 0 B)");
        Assert.That(without, Is.LessThanOrEqualTo(0), $"{free.Key} allocates {without} B per warm call (bound 0 B)");
        Assert.That(with, Is.LessThanOrEqualTo(0), $"{rented.Key} allocates {with} B per warm call (bound 0 B)");
    }
}
