using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Training;

/// <summary>Layers the GPU accumulate tests run: symmetric and asymmetric padding (cuDNN's padded copy), 1x1, depthwise, groups, 1-d.</summary>
static class AccumulateGpuLayers
{
    public static readonly (int[] X, int[] W, ConvSpec Spec)[] All =
    [
        ([2, 8, 10, 10], [16, 8, 3, 3], new ConvSpec([3, 3], padBegin: [1])),
        ([2, 8, 9, 9], [12, 4, 3, 3], new ConvSpec([3, 3], stride: [2], padBegin: [0, 1], padEnd: [1, 0], groups: 2)),
        ([2, 12, 6, 6], [8, 12, 1, 1], new ConvSpec([1, 1])),
        ([1, 8, 8, 8], [8, 1, 3, 3], new ConvSpec([3, 3], padBegin: [1], groups: 8)),
        ([2, 4, 20], [6, 4, 5], new ConvSpec([5], padBegin: [1], padEnd: [3])),
    ];

    public static IEnumerable<ConvProblem> Problems(ConvOp op) =>
        All.Select(l => ConvProblem.Create(l.Spec, new TensorShape(l.X), new TensorShape(l.W), op));

    /// <summary>db = (initial +) the sum of dy, through <paramref name="backwardBias"/>(dy, db, accumulate), against the reference.</summary>
    public static void CheckBiasGradient(IMemorySpace memory, Action<Tensor, Tensor, bool> backwardBias)
    {
        var dy = HostTensor.Random(new TensorShape(2, 6, 5, 7), 11);
        var initial = HostTensor.Random(new TensorShape(6), 12);
        var sums = ReferenceConv.BiasGradient(dy.Shape, dy.Data);
        var ddy = memory.Allocate(dy.Shape);
        var db = memory.Allocate(initial.Shape);
        try
        {
            memory.CopyFromHost(dy.Data, ddy);
            memory.CopyFromHost(initial.Data, db);
            backwardBias(ddy, db, true);
            var got = new float[6];
            memory.CopyToHost(db, got);
            Assert.That(ErrorMetrics.Compare(got, [.. sums.Select((s, c) => s + initial.Data[c])]).MaxRelative, Is.LessThan(1e-6), "accumulated");
            backwardBias(ddy, db, false);
            memory.CopyToHost(db, got);
            Assert.That(ErrorMetrics.Compare(got, sums).MaxRelative, Is.LessThan(1e-6), "overwritten");
        }
        finally
        {
            (ddy as IDisposable)?.Dispose();
            (db as IDisposable)?.Dispose();
        }
    }
}

/// <summary>
/// On a GPU host (or the native fakes): accumulate (cuDNN beta = 1) on every cuDNN algorithm of every op, strict and
/// TF32, on <see cref="AccumulateGpuLayers"/>, asymmetric padding's crop added through cudnnTransformTensor with
/// beta = 1 (or plan B + cudnnAddTensor); and cudnnConvolutionBackwardBias with beta = 1. Tolerances as
/// CudnnBackendGpuTests: strict 1e-5, transform-based 1e-4, TF32 1e-2. The name ends in "CudnnBackendGpuTests" so
/// NativeFakeRunTests' plan-B run (the transform refusing interior pointers) runs it too.
/// </summary>
[Category("Gpu")]
public class AccumulateOnCudnnBackendGpuTests : CudnnGpuFixture
{

    static double ToleranceFor(ConvAlgorithm a) => Backends.CudnnBackendGpuTests.ToleranceFor(a);

    [Test]
    public void EveryAlgorithmAccumulates([Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op,
        [Values(ConvPrecision.Strict, ConvPrecision.AllowTF32)] ConvPrecision precision)
    {
        var failures = new List<string>();
        var declined = new List<string>();
        int runs = 0, seed = 300 + 10 * (int)op;
        foreach (var p in AccumulateGpuLayers.Problems(op))
            runs += AccumulateCheck.EveryAlgorithm(_cudnn, p, precision, seed += 7, withBias: true, ToleranceFor, failures, declined).Count;
        foreach (var d in declined) TestContext.Out.WriteLine("declined: " + d);
        Assert.That(failures, Is.Empty);
        Assert.That(runs, Is.GreaterThanOrEqualTo(AccumulateGpuLayers.All.Length), "at least one algorithm per layer ran");
    }

    [Test]
    public void TheBiasGradientAccumulates() =>
        AccumulateGpuLayers.CheckBiasGradient(_runtime.Memory, (dy, db, accumulate) => _cudnn.BackwardBias(dy, db, accumulate));
}

/// <summary>
/// On a GPU host (or the native fakes): accumulate on every ptx algorithm of every op (GEMM beta = 1 where the GEMM
/// writes the output; depthwise-direct and col2im into a scratch, added by bias_add_f32), and the bias gradient;
/// strict FP32, max rel 1e-5.
/// </summary>
[Category("Gpu")]
public class AccumulateOnPtxBackendGpuTests
{
    CudaContext _context = null!;
    CudaGpuRuntime _runtime = null!;
    PtxConvBackend _ptx = null!;

    [OneTimeSetUp]
    public void Open()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        _context = CudaContext.Open(0);
        _runtime = new CudaGpuRuntime(_context);
        _ptx = new PtxConvBackend(_runtime);
    }

    [OneTimeTearDown]
    public void Close()
    {
        _ptx?.Dispose();
        _runtime?.Dispose();
        _context?.Dispose();
    }

    [Test]
    public void EveryAlgorithmAccumulates([Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        var failures = new List<string>();
        var covered = new HashSet<string>();
        int seed = 500 + 10 * (int)op;
        foreach (var p in AccumulateGpuLayers.Problems(op))
            covered.UnionWith(AccumulateCheck.EveryAlgorithm(_ptx, p, ConvPrecision.Strict, seed += 7, withBias: true, _ => 1e-5, failures));
        Assert.That(failures, Is.Empty);
        Assert.That(covered, Is.SupersetOf(AccumulateCheck.PtxAlgorithms(op).Select(a => $"{op}/{a}")), string.Join(", ", covered));
    }

    [Test]
    public void TheBiasGradientAccumulates() =>
        AccumulateGpuLayers.CheckBiasGradient(_runtime.Memory, (dy, db, accumulate) => _ptx.BackwardBias(dy, db, accumulate));
}

/// <summary>
/// On a GPU host (or the native fakes): the engine's device-resident calls with accumulate, on the engine's own
/// plans (cudnn first, as the planner picks): dW and db over two micro-batches add up to the whole batch's
/// (plus what the tensors held), dx of two paths and y += conv + bias sum; max rel 1e-5 (strict FP32, transform
/// algorithms 1e-4).
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class AccumulateOnDeviceResidentGpuTests
{
    [TestCase(null)]
    [TestCase("ptx")]
    public void MicroBatchesAndTwoPathsAddUp(string? backend)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false });
        Assert.That(engine.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var spec = new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2);
        var xs = new TensorShape(2, 4, 9, 9);
        var ws = new TensorShape(6, 2, 3, 3);
        var p = ConvProblem.Create(spec, xs, ws);
        var hx = HostTensor.Random(xs, 1);
        var hw = HostTensor.Random(ws, 2);
        var hdy = HostTensor.Random(new TensorShape(2, 6, 5, 5), 3);
        HostTensor Half(HostTensor t, int n) => new(t.Shape.WithDim(0, 1), t.Data[(n * t.Data.Length / 2)..((n + 1) * t.Data.Length / 2)]);
        var initialW = HostTensor.Random(ws, 4);
        var initialB = HostTensor.Random(new TensorShape(6), 5);
        using var dw = engine.Upload(initialW);
        using var db = engine.Upload(initialB);
        for (int n = 0; n < 2; n++)
        {
            using var x = engine.Upload(Half(hx, n));
            using var dy = engine.Upload(Half(hdy, n));
            engine.BackwardFilter(spec, x, dy, ws, output: dw, accumulate: true);
            engine.BackwardBias(dy, output: db, accumulate: true);
        }
        double Tolerance() => engine.LastPlan is { } plan && CudnnAlgorithmNames.IsTransformBased(plan.Algorithm.Name) ? 1e-4 : 1e-5;
        var expectedW = ReferenceConv.BackwardFilter(p, hx.Data, hdy.Data).Select((v, i) => v + initialW.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(dw).Data, expectedW).MaxRelative, Is.LessThan(Tolerance()), $"dW ({engine.LastPlan})");
        var expectedB = ReferenceConv.BiasGradient(hdy.Shape, hdy.Data).Select((v, i) => v + initialB.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(db).Data, expectedB).MaxRelative, Is.LessThan(1e-5), "db");

        var skip = HostTensor.Random(xs, 6);
        using var rw = engine.Upload(hw);
        using var rdy = engine.Upload(hdy);
        using var dx = engine.Upload(skip);
        engine.BackwardData(spec, rdy, rw, xs, output: dx, accumulate: true);
        var expectedX = ReferenceConv.BackwardData(p, hdy.Data, hw.Data).Select((v, i) => v + skip.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(dx).Data, expectedX).MaxRelative, Is.LessThan(Tolerance()), $"dx ({engine.LastPlan})");

        var hb = HostTensor.Random(new TensorShape(6), 7);
        var initialY = HostTensor.Random(hdy.Shape, 8);
        using var rx = engine.Upload(hx);
        using var rb = engine.Upload(hb);
        using var y = engine.Upload(initialY);
        engine.Forward(spec, rx, rw, rb, output: y, accumulate: true);
        var expectedY = ReferenceConv.Forward(p, hx.Data, hw.Data, hb.Data).Select((v, i) => v + initialY.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(y).Data, expectedY).MaxRelative, Is.LessThan(Tolerance()), $"y ({engine.LastPlan})");
    }
}
