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
