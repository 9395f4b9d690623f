using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;

namespace GpuConv.Tests;

/// <summary>
/// The engine's own memory check (issue 14 item 7): a problem whose estimate (less the tensors the call already has in
/// that memory, plus the chosen plan's workspace) exceeds what the memory can hold is refused with
/// <see cref="ProblemTooLargeException"/> before the engine plans, allocates or runs anything. Host memory is limited
/// through the engine's test seam; device memory through the backend set's free-memory report, the same path the GPU
/// session feeds with cuMemGetInfo.
/// </summary>
public class ConvEngineMemoryCheckTests
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);
    static readonly TensorShape XShape = new(1, 2, 5, 5), WShape = new(3, 2, 3, 3);
    static readonly ConvProblem Problem = ConvProblem.Create(Spec, XShape, WShape);

    // X 50 + W 54 + Y 75 + padded X 2*7*7 = 98 floats.
    const long EstimateBytes = (50 + 54 + 75 + 98) * 4;
    const long InputBytes = (50 + 54) * 4;
    const long OutputBytes = 75 * 4;

    static ConvEngineOptions Options() => new()
    {
        Device = DeviceKind.Cpu,
        PersistPlans = false,
        Policy = PlanPolicy.Exhaustive, // planning would time candidates: a refusal must come before that too
        Warning = m => Assert.Fail($"unexpected warning: {m}"),
    };

    static ConvEngine HostEngine(FakeBackend backend, long hostAvailable)
    {
        var engine = ConvEngine.Adopt(Options(), new BackendSet([backend], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));
        engine.HostAvailableBytes = () => hostAvailable;
        engine.MemoryCheckFloorBytes = 0; // these problems are tiny: check every call
        return engine;
    }

    static ConvEngine DeviceEngine(FakeBackend device, long deviceFree)
    {
        var engine = ConvEngine.Adopt(Options(), new BackendSet([device], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null,
            AvailableWorkspace: b => b.Memory.Kind == MemoryKind.Device ? deviceFree : null));
        engine.MemoryCheckFloorBytes = 0;
        return engine;
    }

    [Test]
    public void SmallCalls_DoNotAskForFreeMemory_ButEnsureFitsAlwaysDoes()
    {
        // The per-call check must stay off the hot path: below the floor no memory query is made.
        int queries = 0;
        var backend = new FakeBackend("host", 1).With("a");
        using var engine = ConvEngine.Adopt(Options() with { Policy = PlanPolicy.Heuristic },
            new BackendSet([backend], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));
        engine.HostAvailableBytes = () => { queries++; return 1; };
        var (x, w) = Inputs();
        for (int i = 0; i < 3; i++) engine.Forward(Spec, x, w);
        Assert.That(queries, Is.Zero, "small calls queried the available memory");
        Assert.Throws<ProblemTooLargeException>(() => engine.EnsureFits(Problem));
        Assert.That(queries, Is.EqualTo(1));
    }

    static (HostTensor X, HostTensor W) Inputs() => (HostTensor.Random(XShape, 1), HostTensor.Random(WShape, 2));

    [Test]
    public void EstimateOfTheTestProblem_IsWhatTheseTestsAssume() =>
        Assert.That(Problem.EstimatedBytes, Is.EqualTo(EstimateBytes));

    [Test]
    public void HostForward_OverTheProcessLimit_IsRefusedBeforePlanningOrRunning()
    {
        var backend = new FakeBackend("host", 1).With("a");
        using var engine = HostEngine(backend, hostAvailable: 500);
        var (x, w) = Inputs();

        var e = Assert.Throws<ProblemTooLargeException>(() => engine.Forward(Spec, x, w))!;

        // x and w already exist in the process: what the call still needs is Y and the padded copy.
        Assert.That(e.EstimatedBytes, Is.EqualTo(EstimateBytes - InputBytes));
        Assert.That(e.AvailableBytes, Is.EqualTo(500));
        Assert.That(e.Message, Does.Contain(Problem.ToString()).And.Contain("this process").And.Contain("692 bytes").And.Contain("500 bytes"));
        Assert.That(e, Is.InstanceOf<ArgumentException>(), "bad sizes are the caller's input");
        Assert.That(backend.TimeCalls("a"), Is.Zero, "nothing was planned");
        Assert.That(backend.RunCalls, Is.Empty, "nothing ran");
        Assert.That(engine.LastPlan, Is.Null);
    }

    [Test]
    public void HostForward_WithinTheLimit_Runs_AndMatchesTheReference()
    {
        var backend = new FakeBackend("host", 1).With("a");
        using var engine = HostEngine(backend, hostAvailable: EstimateBytes - InputBytes);
        var (x, w) = Inputs();

        var y = engine.Forward(Spec, x, w);

        var reference = ReferenceConv.Run(Problem, x.Data, w.Data, [], []);
        Assert.That(ErrorMetrics.Compare(y.Data, reference).MaxRelative, Is.LessThan(1e-5));
        Assert.That(backend.RunCalls["a"], Is.EqualTo(1));
    }

    [Test]
    public void ThePlansWorkspace_IsCounted_BeforeTheRun()
    {
        // The tensors fit; the only candidate's workspace does not.
        var backend = new FakeBackend("host", 1).With("greedy", workspace: 10_000);
        using var engine = HostEngine(backend, hostAvailable: EstimateBytes + 5_000);
        var (x, w) = Inputs();

        var e = Assert.Throws<ProblemTooLargeException>(() => engine.Forward(Spec, x, w))!;

        // When the plan is known the output exists, so only the padded copy and the workspace are still to come.
        Assert.That(e.EstimatedBytes, Is.EqualTo(EstimateBytes - InputBytes - OutputBytes + 10_000));
        Assert.That(e.Message, Does.Contain("greedy").And.Contain("10000 bytes of workspace"));
        Assert.That(backend.RunCalls, Is.Empty, "refused before the run");
    }

    [Test]
    public void EnsureFits_ChecksTheWholeEstimate_AgainstTheEnginesMemory()
    {
        using var engine = HostEngine(new FakeBackend("host", 1).With("a"), hostAvailable: EstimateBytes - 1);
        var e = Assert.Throws<ProblemTooLargeException>(() => engine.EnsureFits(Problem))!;
        Assert.That(e.EstimatedBytes, Is.EqualTo(EstimateBytes));
        engine.HostAvailableBytes = () => EstimateBytes;
        Assert.DoesNotThrow(() => engine.EnsureFits(Problem));
    }

    [Test]
    public void DeviceEngine_HostForward_OverFreeDeviceMemory_IsRefusedBeforeAnyDeviceAllocation()
    {
        var memory = new FakeDeviceMemory();
        var device = new FakeBackend("dev", 1, memory).With("a");
        using var engine = DeviceEngine(device, deviceFree: EstimateBytes - 1);
        var (x, w) = Inputs();

        var e = Assert.Throws<ProblemTooLargeException>(() => engine.Forward(Spec, x, w))!;

        // Every tensor would be staged on the device.
        Assert.That(e.EstimatedBytes, Is.EqualTo(EstimateBytes));
        Assert.That(e.AvailableBytes, Is.EqualTo(EstimateBytes - 1));
        Assert.That(e.Message, Does.Contain("device's free memory"));
        Assert.That(memory.Allocated, Is.Zero);
        Assert.That(device.TimeCalls("a"), Is.Zero);
    }

    [Test]
    public void DeviceResidentForward_CountsOnlyWhatTheCallStillNeeds_AndIsRefusedBeforeAllocatingItsOutput()
    {
        var memory = new FakeDeviceMemory();
        var device = new FakeBackend("dev", 1, memory).With("a");
        using var engine = DeviceEngine(device, deviceFree: 600);
        var (x, w) = Inputs();
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        int allocated = memory.Allocated;

        // The inputs are resident: Y (300 B) and the padded copy (392 B) are still needed, 692 > 600.
        var e = Assert.Throws<ProblemTooLargeException>(() => engine.Forward(Spec, dx, dw))!;
        Assert.That(e.EstimatedBytes, Is.EqualTo(EstimateBytes - InputBytes));
        Assert.That(memory.Allocated, Is.EqualTo(allocated), "no output was allocated");
        Assert.That(device.RunCalls, Is.Empty);

        // With the output given as well only the padded copy remains: it fits and runs.
        using var y = engine.Allocate(Problem.OutputShape);
        Assert.That(engine.Forward(Spec, dx, dw, output: y), Is.SameAs(y));
        var reference = ReferenceConv.Run(Problem, x.Data, w.Data, [], []);
        Assert.That(ErrorMetrics.Compare(engine.Download(y).Data, reference).MaxRelative, Is.LessThan(1e-5));
    }
}
