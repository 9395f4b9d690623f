using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// On a GPU host: every cuDNN algorithm for every op against the float64 reference on a randomized
/// sweep (ranks 1–3, groups, depthwise, stride, dilation, asymmetric padding, batch > 1).
/// Tolerances (max |error| / max |reference|): strict FP32 1e-5 for direct/GEMM algorithms, 1e-4 for
/// the transform-based ones (FFT, FFT_TILING, WINOGRAD, WINOGRAD_NONFUSED: FP32, but through a
/// transform — Strict keeps them, as PyTorch does); TF32 1e-2 (10-bit mantissa inputs). Each
/// algorithm's measured worst error is printed. An algorithm cuDNN lists but refuses to run
/// (<see cref="AlgorithmDeclinedException"/>) is counted and printed as declined, not failed; every
/// sweep asserts that it ran something. Skipped with discovery's reason when no GPU is usable.
/// </summary>
[Category("Gpu")]
public class CudnnBackendGpuTests : CudnnGpuFixture
{
    const double StrictTolerance = 1e-5, TransformTolerance = 1e-4, Tf32Tolerance = 1e-2;

    internal static double ToleranceFor(ConvAlgorithm a) =>
        a.Math == MathMode.TF32 ? Tf32Tolerance : CudnnAlgorithmNames.IsTransformBased(a.Name) ? TransformTolerance : StrictTolerance;

    /// <summary>Writes to the live console log (the GPU check's log) as well as the test's own output.</summary>
    static void Report(string text)
    {
        TestContext.Progress.WriteLine(text);
        TestContext.Out.WriteLine(text);
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
        var declined = new List<string>();
        var worst = new SortedDictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < 40; i++)
        {
            var p = RandomConvProblems.Next(rng, depthwise: i % 8 == 7, op: op, maxSpatial: 9);
            var algorithms = _cudnn.GetAlgorithms(p, precision);
            Assert.That(algorithms, Is.Not.Empty, $"cuDNN offers no algorithm for {p}");
            int ranHere = 0;
            foreach (var a in algorithms)
            {
                ErrorReport err;
                try { err = RunAndCompare(p, a, rng, withBias: op != ConvOp.BackwardFilter && i % 2 == 0); }
                catch (AlgorithmDeclinedException e) { declined.Add($"{a.Key} on {p}: {e.Status}"); continue; }
                worst[a.Key] = Math.Max(worst.GetValueOrDefault(a.Key), err.MaxRelative);
                if (!(err.MaxRelative < ToleranceFor(a))) failures.Add($"{a.Key} on {p}: {err} (tolerance {ToleranceFor(a):0e0})");
                checkedRuns++;
                ranHere++;
            }
            Assert.That(ranHere, Is.GreaterThan(0), $"cuDNN listed {algorithms.Count} algorithms for {p} and declined them all: {string.Join("; ", declined)}");
        }
        Report($"{op} {precision}: {checkedRuns} algorithm runs, {declined.Count} declined, {failures.Count} out of tolerance; worst error per algorithm:");
        foreach (var (key, e) in worst) Report($"  {key,-40} {e:0.00e0}");
        foreach (var d in declined) Report($"  declined: {d}");
        Assert.That(checkedRuns, Is.GreaterThan(0));
        Assert.That(failures, Is.Empty, $"{failures.Count} of {checkedRuns} runs out of tolerance");
    }

    [Test]
    public void AsymmetricPaddingIsExactForEveryOp()
    {
        // The padded copy goes through pointers into the middle of the buffer (4-byte aligned only):
        // with GPUCONV_TRACE=1 the log shows each pointer, its alignment and cuDNN's answer.
        var spec = new ConvSpec([3, 3], stride: [2, 1], padBegin: [0, 2], padEnd: [2, 1]);
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
        {
            var p = ConvProblem.Create(spec, new TensorShape(2, 4, 9, 8), new TensorShape(6, 4, 3, 3), op);
            int ran = 0;
            foreach (var a in _cudnn.GetAlgorithms(p, ConvPrecision.Strict))
            {
                double err;
                try { err = RunAndCompare(p, a, new Random(7), withBias: false).MaxRelative; }
                catch (AlgorithmDeclinedException e) { Report($"declined: {a.Key} {op}: {e.Status}"); continue; }
                Report($"asymmetric padding {op} {a.Key}: error {err:0.00e0}");
                Assert.That(err, Is.LessThan(ToleranceFor(a)), $"{a.Key} {op}");
                ran++;
            }
            Assert.That(ran, Is.GreaterThan(0), $"no algorithm ran {op} with asymmetric padding");
        }
    }

    [Test]
    public void BackwardBiasMatchesReference([Values(2, 3, 4)] int rank)
    {
        // [N, C] and [N, C, L] are lifted to the 4 dims cuDNN's descriptors need.
        int[] dims = [3, 5, .. new[] { 6, 7 }.Take(rank - 2)];
        var dyHost = HostTensor.Random(new TensorShape(dims), 11);
        using var dy = _context.Upload(dyHost);
        using var db = _context.Allocate(new TensorShape(5));
        _cudnn.BackwardBias(dy, db);
        var err = ErrorMetrics.Compare(db.Download(), ReferenceConv.BiasGradient(dyHost.Shape, dyHost.Data));
        Assert.That(err.MaxRelative, Is.LessThan(StrictTolerance));
    }

    [Test]
    public void FusedBiasReluMatchesReferenceOrFallsBackCorrectly()
    {
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var p = ConvProblem.Create(spec, new TensorShape(2, 8, 12, 12), new TensorShape(16, 8, 3, 3));
        var x = HostTensor.Random(p.XShape, 1); var w = HostTensor.Random(p.WShape, 2); var b = HostTensor.Random(new TensorShape(16), 3);
        using var dx = _context.Upload(x); using var dw = _context.Upload(w); using var dbias = _context.Upload(b);
        using var dyt = _context.Allocate(p.YShape);
        dyt.CopyFrom(Enumerable.Repeat(float.NaN, (int)p.YShape.ElementCount).ToArray()); // as pooled memory may hold
        var candidates = _cudnn.GetAlgorithms(p, ConvPrecision.Strict);
        Assert.That(candidates, Is.Not.Empty);
        // cuDNN's fused call supports IMPLICIT_PRECOMP_GEMM for every activation; if the heuristic does not list it, report and use its first.
        var algorithm = candidates.FirstOrDefault(a => a.Name == "IMPLICIT_PRECOMP_GEMM");
        if (algorithm is null)
        {
            algorithm = candidates[0];
            Report($"cuDNN did not list IMPLICIT_PRECOMP_GEMM for {p} (listed: {string.Join(", ", candidates.Select(a => a.Name))}); using {algorithm.Name}");
        }
        var expected = ReferenceConv.Forward(p, x.Data, w.Data, b.Data).Select(v => Math.Max(0, v)).ToArray();
        var tensors = new ConvTensors(dx, dw, dyt, dbias);
        if (_cudnn.TryForwardBiasActivation(p, algorithm, tensors, Activation.Relu))
        {
            var fused = ErrorMetrics.Compare(dyt.Download(), expected);
            Report($"fused bias+ReLU with {algorithm.Key}: error {fused.MaxRelative:0.00e0}");
            Assert.That(fused.MaxRelative, Is.LessThan(ToleranceFor(algorithm)));
            return;
        }
        // Declined: say why, then check what the engine does instead (forward with bias, ReLU applied after).
        Report($"cuDNN declined the fused call: {_cudnn.LastFusedDecline}; checking the fallback");
        Assert.That(_cudnn.LastFusedDecline, Is.Not.Null.And.Not.Empty);
        _cudnn.Run(p, algorithm, tensors);
        var fallback = dyt.Download().Select(v => Math.Max(0f, v)).ToArray();
        Assert.That(ErrorMetrics.Compare(fallback, expected).MaxRelative, Is.LessThan(ToleranceFor(algorithm)));
    }

    /// <summary>
    /// A residual block's end, relu(conv(x) + bias + skip), with skip in y (accumulate: z = y, alpha2 = 1). The skip holds
    /// values of both signs, so a dropped z (alpha2 = 0) or a ReLU before the add shows as a mismatch.
    /// </summary>
    [Test]
    public void FusedBiasReluAddsTheSkipTensorWhenAccumulating()
    {
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var p = ConvProblem.Create(spec, new TensorShape(2, 8, 12, 12), new TensorShape(16, 8, 3, 3));
        var x = HostTensor.Random(p.XShape, 21); var w = HostTensor.Random(p.WShape, 22); var b = HostTensor.Random(new TensorShape(16), 23);
        var skip = HostTensor.Random(p.YShape, 24);
        using var dx = _context.Upload(x); using var dw = _context.Upload(w); using var dbias = _context.Upload(b);
        using var dyt = _context.Upload(skip);
        var candidates = _cudnn.GetAlgorithms(p, ConvPrecision.Strict);
        var algorithm = candidates.FirstOrDefault(a => a.Name == "IMPLICIT_PRECOMP_GEMM") ?? candidates[0];
        var expected = ReferenceConv.Forward(p, x.Data, w.Data, b.Data).Select((v, i) => Math.Max(0, v + skip.Data[i])).ToArray();
        var tensors = new ConvTensors(dx, dw, dyt, dbias) { Accumulate = true };
        if (_cudnn.TryForwardBiasActivation(p, algorithm, tensors, Activation.Relu))
        {
            var fused = ErrorMetrics.Compare(dyt.Download(), expected);
            Report($"fused bias+skip+ReLU with {algorithm.Key}: error {fused.MaxRelative:0.00e0}");
            Assert.That(fused.MaxRelative, Is.LessThan(ToleranceFor(algorithm)));
            return;
        }
        // Declined: y must still hold the skip tensor untouched, for the engine's unfused path to add to.
        Report($"cuDNN declined the fused call with alpha2 = 1: {_cudnn.LastFusedDecline}; checking y is untouched");
        Assert.That(dyt.Download(), Is.EqualTo(skip.Data), "a declined fused call must leave y as it was");
    }

    /// <summary>What cuDNN's heuristic lists, strict and TF32, for a few typical problems: printed for the GPU check's log.</summary>
    [Test]
    public void HeuristicTablesForBothMathModes()
    {
        var problems = new[]
        {
            ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(8, 64, 56, 56), new TensorShape(64, 64, 3, 3)),
            ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(8, 256, 14, 14), new TensorShape(512, 256, 1, 1)),
            ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1], groups: 32), new TensorShape(4, 32, 28, 28), new TensorShape(32, 1, 3, 3)),
            ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(8, 64, 28, 28), new TensorShape(64, 64, 3, 3), ConvOp.BackwardData),
            ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(8, 64, 28, 28), new TensorShape(64, 64, 3, 3), ConvOp.BackwardFilter),
            ConvProblem.Create(new ConvSpec([3, 3, 3], padBegin: [1]), new TensorShape(2, 16, 8, 16, 16), new TensorShape(32, 16, 3, 3, 3)),
        };
        foreach (var p in problems)
        {
            Report(_cudnn.DescribeHeuristics(p));
            Assert.That(_cudnn.GetAlgorithms(p, ConvPrecision.Strict), Is.Not.Empty, $"no strict candidate for {p}");
            Assert.That(_cudnn.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(a => a.Math == MathMode.TF32), Is.Not.Empty, $"no TF32 candidate for {p}");
        }
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
