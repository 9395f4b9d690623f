using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Tensors;


using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// On a GPU host: every cuDNN algorithm for every op against the float64 reference on a randomized
/// sweep (ranks 1–3, groups, depthwise, stride, dilation, asymmetric padding, batch > 1).
/// Tolerances (max |error| / max |reference|): strict FP32 1e-5; TF32 1e-2 (10-bit mantissa inputs).
/// Skipped with discovery's reason when no GPU is usable.
/// </summary>
[Category("Gpu")]
public class CudnnBackendGpuTests
{
    const double StrictTolerance = 1e-5, Tf32Tolerance = 1e-2;
    CudaContext _context = null!;
    CudaGpuRuntime _runtime = null!;
    CudnnBackend _cudnn = null!;

    [OneTimeSetUp]
    public void Open()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        if (status.CudnnVersion is null) Assert.Ignore($"skipped: cuDNN not loadable: {status.CudnnReason}");
        _context = CudaContext.Open(0);
        _runtime = new CudaGpuRuntime(_context);
        _cudnn = new CudnnBackend(_runtime);
    }

    [OneTimeTearDown]
    public void Close()
    {
        _cudnn?.Dispose();
        _runtime?.Dispose();
        _context?.Dispose();
    }

    static IEnumerable<TestCaseData> Sweeps() =>
        from op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter }
        from precision in new[] { ConvPrecision.Strict, ConvPrecision.AllowTF32 }
        select new TestCaseData(op, precision).SetName($"EveryAlgorithm_{op}_{precision}");

    [TestCaseSource(nameof(Sweeps))]
    public void EveryAlgorithmMatchesReference(ConvOp op, ConvPrecision precision)
    {
        var rng = new Random(1000 + (int)op * 10 + (int)precision);
        int checkedRuns = 0;
        var failures = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            var p = RandomConvProblems.Next(rng, depthwise: i % 8 == 7, op: op, maxSpatial: 9);
            var algorithms = _cudnn.GetAlgorithms(p, precision);
            Assert.That(algorithms, Is.Not.Empty, $"cuDNN offers no algorithm for {p}");
            foreach (var a in algorithms)
            {
                var err = RunAndCompare(p, a, rng, withBias: op != ConvOp.BackwardFilter && i % 2 == 0);
                double tol = a.Math == MathMode.TF32 ? Tf32Tolerance : StrictTolerance;
                if (!(err.MaxRelative < tol)) failures.Add($"{a.Key} on {p}: {err}");
                checkedRuns++;
            }
        }
        Assert.That(failures, Is.Empty, $"{failures.Count} of {checkedRuns} runs out of tolerance");
        TestContext.Out.WriteLine($"{op} {precision}: {checkedRuns} algorithm runs within tolerance");
    }

    [Test]
    public void AsymmetricPaddingIsExactForEveryOp()
    {
        var spec = new ConvSpec([3, 3], stride: [2, 1], padBegin: [0, 2], padEnd: [2, 1]);
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
        {
            var p = ConvProblem.Create(spec, new TensorShape(2, 4, 9, 8), new TensorShape(6, 4, 3, 3), op);
            foreach (var a in _cudnn.GetAlgorithms(p, ConvPrecision.Strict))
                Assert.That(RunAndCompare(p, a, new Random(7), withBias: false).MaxRelative, Is.LessThan(StrictTolerance), $"{a.Key} {op}");
        }
    }

    [Test]
    public void BackwardBiasMatchesReference()
    {
        var dyHost = HostTensor.Random(new TensorShape(3, 5, 6, 7), 11);
        using var dy = _context.Upload(dyHost);
        using var db = _context.Allocate(new TensorShape(5));
        _cudnn.BackwardBias(dy, db);
        var err = ErrorMetrics.Compare(db.Download(), ReferenceConv.BiasGradient(dyHost.Shape, dyHost.Data));
        Assert.That(err.MaxRelative, Is.LessThan(StrictTolerance));
    }

    [Test]
    public void FusedBiasReluMatchesReferenceOrDeclines()
    {
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var p = ConvProblem.Create(spec, new TensorShape(2, 8, 12, 12), new TensorShape(16, 8, 3, 3));
        var x = HostTensor.Random(p.XShape, 1); var w = HostTensor.Random(p.WShape, 2); var b = HostTensor.Random(new TensorShape(16), 3);
        using var dx = _context.Upload(x); using var dw = _context.Upload(w); using var dbias = _context.Upload(b);
        using var dyt = _context.Allocate(p.YShape);
        var algorithm = _cudnn.GetAlgorithms(p, ConvPrecision.Strict).First(a => a.Name == "IMPLICIT_PRECOMP_GEMM");
        if (!_cudnn.TryForwardBiasActivation(p, algorithm, new ConvTensors(dx, dw, dyt, dbias), relu: true))
            Assert.Inconclusive("cuDNN declined the fused call for this configuration (the engine falls back)");
        var expected = ReferenceConv.Forward(p, x.Data, w.Data, b.Data).Select(v => Math.Max(0, v)).ToArray();
        Assert.That(ErrorMetrics.Compare(dyt.Download(), expected).MaxRelative, Is.LessThan(StrictTolerance));
    }

    ErrorReport RunAndCompare(ConvProblem p, ConvAlgorithm a, Random rng, bool withBias)
    {
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var y = RandomConvProblems.RandomData(rng, p.YShape.ElementCount);
        var b = withBias ? RandomConvProblems.RandomData(rng, p.BiasLength) : null;
        using var tx = Upload(p.XShape, x); using var tw = Upload(p.WShape, w); using var ty = Upload(p.YShape, y);
        using var tb = b is null ? null : Upload(new TensorShape(b.Length), b);
        _cudnn.Run(p, a, new ConvTensors(tx, tw, ty, tb));
        double[] expected = ReferenceConv.Run(p, x, w, y, b);
        var output = p.Op switch { ConvOp.Forward => ty, ConvOp.BackwardData => tx, _ => tw };
        return ErrorMetrics.Compare(output.Download(), expected);
    }

    DeviceTensor Upload(TensorShape shape, float[] data)
    {
        var t = _context.Allocate(shape);
        _runtime.CopyFromHost(data, t);
        return t;
    }
}
