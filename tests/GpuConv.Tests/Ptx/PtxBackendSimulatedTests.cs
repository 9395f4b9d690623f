using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// The ptx backend's orchestration (operand order and leading dimensions of every GEMM, group and batch
/// strides, chunking, beta accumulation, bias) proven on CPU: the backend runs against
/// <see cref="SimulatedPtxRuntime"/>, where kernels are the shipped PTX in the interpreter and SGEMM is a
/// column-major reference with cuBLAS's argument checks; results are judged by ReferenceConv.
/// </summary>
public class PtxBackendSimulatedTests
{
    static (double[] Expected, float[] Actual, PtxConvBackend Backend, SimulatedPtxRuntime Runtime) RunOne(
        ConvProblem p, ConvAlgorithm? algorithm, Random rng, bool withBias, long maxWorkspace = PtxConvBackend.DefaultMaxWorkspaceBytes)
    {
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt, maxWorkspace);
        algorithm ??= backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var y = RandomConvProblems.RandomData(rng, p.YShape.ElementCount);
        var bias = withBias && p.Op != ConvOp.BackwardFilter ? RandomConvProblems.RandomData(rng, p.BiasLength) : [];
        // The tensor the op writes starts as NaN poison, so an element the backend forgets shows up.
        Tensor X = p.Op == ConvOp.BackwardData ? rt.Allocate(p.XShape) : rt.Upload(x, p.XShape);
        Tensor W = p.Op == ConvOp.BackwardFilter ? rt.Allocate(p.WShape) : rt.Upload(w, p.WShape);
        Tensor Y = p.Op == ConvOp.Forward ? rt.Allocate(p.YShape) : rt.Upload(y, p.YShape);
        Tensor? B = bias.Length > 0 ? rt.Upload(bias, new TensorShape(bias.Length)) : null;
        backend.Run(p, algorithm, new ConvTensors(X, W, Y, B));
        var expected = ReferenceConv.Run(p, x, w, y, bias);
        var actual = rt.Download(p.Op switch { ConvOp.Forward => Y, ConvOp.BackwardData => X, _ => W });
        return (expected, actual, backend, rt);
    }

    [Test]
    public void EveryCandidateMatchesTheReferenceOnRandomProblems(
        [Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op, [Range(0, 11)] int seed)
    {
        var rng = new Random(6000 + 100 * (int)op + seed);
        var p = RandomConvProblems.Next(rng, depthwise: seed % 4 == 3, op: op, maxSpatial: 6);
        var backend = new PtxConvBackend(new SimulatedPtxRuntime());
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.AllowTF32);
        Assert.That(algorithms, Is.Not.Empty);
        foreach (var algorithm in algorithms)
        {
            var (expected, actual, _, _) = RunOne(p, algorithm, new Random(seed), withBias: seed % 2 == 0);
            var report = ErrorMetrics.Compare(actual, expected);
            Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"{algorithm.Key} on {p}: {report}");
        }
    }

    /// <summary>
    /// The backend's own launch shapes (256-thread blocks, one thread per element) run as launched:
    /// im2col over 3 × 143 = 429 output positions (one thread each, writing 9 column entries) is a full
    /// block and a partial second, bias over 572 is 2 and a partial 3rd.
    /// </summary>
    [Test]
    public void LaunchesOfSeveralFullBlocksAndAPartialOneRunUncapped()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 3, 11, 13), new TensorShape(4, 3, 3, 3));
        var (expected, actual, _, rt) = RunOne(p, null, new Random(3), withBias: true);
        var report = ErrorMetrics.Compare(actual, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), report.ToString());
        Assert.That(rt.LaunchShapes, Does.Contain((2u, 256u)), "im2col: a full block and a partial one");
        Assert.That(rt.LaunchShapes, Does.Contain((3u, 256u)), "bias: 2 full blocks and a partial one");
        Assert.That(rt.LaunchShapes.Max(s => s.Grid), Is.LessThanOrEqualTo((uint)SimulatedPtxRuntime.MaxSimulatedBlocks), "nothing was capped");
    }

    /// <summary>
    /// Every candidate on the PyTorch-computed cases (every rank, per-dimension stride/dilation/asymmetric
    /// padding, groups, depthwise): expected values from outside this code, not from ReferenceConv.
    /// </summary>
    [Test]
    public void EveryCandidateMatchesTorch([ValueSource(typeof(TorchCases), nameof(TorchCases.Names))] string name,
        [Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        var c = TorchCases.Get(name);
        var p = c.Problem.WithOp(op);
        var algorithms = new PtxConvBackend(new SimulatedPtxRuntime()).GetAlgorithms(p, ConvPrecision.Strict);
        Assert.That(algorithms, Is.Not.Empty, $"no ptx algorithm for {p}");
        foreach (var algorithm in algorithms)
        {
            var rt = new SimulatedPtxRuntime();
            var backend = new PtxConvBackend(rt);
            Tensor X = op == ConvOp.BackwardData ? rt.Allocate(p.XShape) : rt.Upload(c.X, p.XShape);
            Tensor W = op == ConvOp.BackwardFilter ? rt.Allocate(p.WShape) : rt.Upload(c.W, p.WShape);
            Tensor Y = op == ConvOp.Forward ? rt.Allocate(p.YShape) : rt.Upload(c.Dy, p.YShape);
            backend.Run(p, algorithm, new ConvTensors(X, W, Y));
            var report = ErrorMetrics.Compare(rt.Download(op switch { ConvOp.Forward => Y, ConvOp.BackwardData => X, _ => W }), c.Expected(op));
            Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"{algorithm.Key} on {name} ({p}): {report}");
        }
    }

    [Test]
    public void DepthwiseForwardOffersTheDirectKernelFirst()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 4, 5, 5), new TensorShape(8, 4, 3, 3));
        var p2 = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1], groups: 4), new TensorShape(2, 4, 5, 5), new TensorShape(8, 1, 3, 3));
        var backend = new PtxConvBackend(new SimulatedPtxRuntime());
        Assert.That(backend.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Does.Not.Contain("depthwise-direct"));
        var algorithms = backend.GetAlgorithms(p2, ConvPrecision.Strict);
        Assert.That(algorithms[0].Name, Is.EqualTo("depthwise-direct"));
        Assert.That(algorithms[0].WorkspaceBytes, Is.Zero);
        var (expected, actual, _, rt) = RunOne(p2, algorithms[0], new Random(1), withBias: true);
        Assert.That(ErrorMetrics.Compare(actual, expected).MaxRelative, Is.LessThan(1e-5));
        Assert.That(rt.Calls, Is.EqualTo(new[] { "launch depthwise_fwd_f32" }), "bias is fused; nothing else runs");
    }

    [TestCase(ConvOp.Forward)]
    [TestCase(ConvOp.BackwardData)]
    [TestCase(ConvOp.BackwardFilter)]
    public void PointwiseSkipsIm2ColAndNeedsNoWorkspace(ConvOp op)
    {
        var p = ConvProblem.Create(new ConvSpec([1, 1], groups: 2), new TensorShape(3, 4, 3, 5), new TensorShape(6, 2, 1, 1), op);
        var backend = new PtxConvBackend(new SimulatedPtxRuntime());
        var algorithm = backend.GetAlgorithms(p, ConvPrecision.Strict).Single();
        Assert.That((algorithm.Name, algorithm.WorkspaceBytes), Is.EqualTo(("gemm-1x1", 0L)));
        var (expected, actual, _, rt) = RunOne(p, algorithm, new Random(2), withBias: true);
        Assert.That(ErrorMetrics.Compare(actual, expected).MaxRelative, Is.LessThan(1e-5));
        Assert.That(rt.Calls, Has.None.StartsWith("launch im2col").And.None.StartsWith("launch col2im").And.None.StartsWith("scratch"));
    }

    [TestCase(ConvOp.Forward)]
    [TestCase(ConvOp.BackwardData)]
    [TestCase(ConvOp.BackwardFilter)]
    public void BatchChunksRespectTheWorkspaceLimitAndGiveTheSameAnswer(ConvOp op)
    {
        var p = ConvProblem.Create(new ConvSpec([3, 2], stride: [2, 1], dilation: [1, 2], padBegin: [1, 0], padEnd: [2, 1]),
            new TensorShape(5, 3, 6, 5), new TensorShape(4, 3, 3, 2), op);
        long perImage = PtxConvBackend.ColumnBytesPerImage(p);
        // Room for two images: chunks of 2, 2, 1.
        var (expected, actual, backend, rt) = RunOne(p, null, new Random(3), withBias: true, maxWorkspace: 2 * perImage + perImage / 2);
        Assert.That(ErrorMetrics.Compare(actual, expected).MaxRelative, Is.LessThan(1e-5));
        var reported = backend.GetAlgorithms(p, ConvPrecision.Strict)[0].WorkspaceBytes;
        Assert.That(reported, Is.EqualTo(2 * perImage), "workspace is the chunk's column buffer");
        Assert.That(rt.LargestScratch, Is.EqualTo(reported), "the run allocates exactly what the candidate reported");
        string kernel = op == ConvOp.BackwardData ? "launch col2im_f32" : "launch im2col_f32";
        Assert.That(rt.Calls.Count(c => c == kernel), Is.EqualTo(3), "5 images in chunks of 2");
        // Run waits once, at its end; neither the chunks nor the column buffer's return to the pool wait.
        Assert.That(rt.Synchronizations, Is.EqualTo(1));
    }

    [Test]
    public void TimeRunTimesTheIssuedWorkByTheRuntimesEventsWithoutWaitingOnTheHost()
    {
        // Stopwatch-between-synchronisations timing counted the host's wake-up latency, which the cudnn
        // backend's event timing does not: ptx-vs-cudnn ratios compared unlike things.
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 3, 5, 5), new TensorShape(4, 3, 3, 3));
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt);
        var rng = new Random(8);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var tensors = new ConvTensors(rt.Upload(x, p.XShape), rt.Upload(w, p.WShape), rt.Allocate(p.YShape));
        double ms = backend.TimeRun(p, backend.GetAlgorithms(p, ConvPrecision.Strict)[0], tensors);
        Assert.That(ms, Is.GreaterThan(0));
        Assert.That(rt.Synchronizations, Is.Zero);
        var report = ErrorMetrics.Compare(rt.Download(tensors.Y), ReferenceConv.Forward(p, x, w));
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), report.ToString());
    }

    [Test]
    public void BackwardFilterAccumulatesOverTheBatchWithBetaOneAfterTheFirstImage()
    {
        var p = ConvProblem.Create(new ConvSpec([2], padBegin: [1]), new TensorShape(3, 2, 5), new TensorShape(3, 2, 2), ConvOp.BackwardFilter);
        var (expected, actual, _, rt) = RunOne(p, null, new Random(4), withBias: false);
        Assert.That(ErrorMetrics.Compare(actual, expected).MaxRelative, Is.LessThan(1e-5));
        var betas = rt.Calls.Where(c => c.StartsWith("gemm")).Select(c => c.Contains("beta=0 ") ? 0 : 1).ToArray();
        Assert.That(betas, Is.EqualTo(new[] { 0, 1, 1 }));
    }

    [Test]
    public void TransposedConvolutionRunsAsBackwardData()
    {
        // PyTorch ConvTranspose2d(in 4, out 6, k 3, stride 2, padding 1, output_padding 1, groups 2).
        var spec = new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2).AsTransposed([1]);
        var p = ConvProblem.Create(spec, new TensorShape(2, 4, 3, 4), new TensorShape(4, 3, 3, 3));
        Assert.That(p.Op, Is.EqualTo(ConvOp.BackwardData));
        var (expected, actual, _, _) = RunOne(p, null, new Random(5), withBias: true);
        Assert.That(ErrorMetrics.Compare(actual, expected).MaxRelative, Is.LessThan(1e-5));
    }

    [Test]
    public void BackwardBiasSumsOverBatchAndSpace()
    {
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt);
        var shape = new TensorShape(3, 5, 4, 6);
        var dy = RandomConvProblems.RandomData(new Random(6), shape.ElementCount);
        var db = rt.Allocate(new TensorShape(5));
        backend.BackwardBias(rt.Upload(dy, shape), db);
        var report = ErrorMetrics.Compare(rt.Download(db), ReferenceConv.BiasGradient(shape, dy));
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), report.ToString());
        Assert.Throws<ArgumentException>(() => backend.BackwardBias(rt.Upload(dy, shape), rt.Allocate(new TensorShape(4))));
    }

    [Test]
    public void AddBiasWithReluClampsAfterAddingPerChannel()
    {
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt);
        var shape = new TensorShape(2, 3, 4);
        var y = RandomConvProblems.RandomData(new Random(7), shape.ElementCount);
        float[] bias = [0.5f, -0.25f, 0f];
        var dev = rt.Upload(y, shape);
        backend.AddBias(dev, rt.Upload(bias, new TensorShape(3)), Activation.Relu);
        var expected = y.Select((v, i) => Math.Max(0f, v + bias[i / 4 % 3])).ToArray();
        Assert.That(rt.Download(dev), Is.EqualTo(expected));
        Assert.Throws<ArgumentException>(() => backend.AddBias(dev, rt.Upload(bias[..2], new TensorShape(2))));
    }

    [Test]
    public void TF32CandidatesAppearOnlyWhenAllowed()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3]), new TensorShape(1, 2, 5, 5), new TensorShape(2, 2, 3, 3));
        var backend = new PtxConvBackend(new SimulatedPtxRuntime());
        Assert.That(backend.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Math), Is.All.EqualTo(MathMode.Strict));
        Assert.That(backend.GetAlgorithms(p, ConvPrecision.AllowTF32).Select(a => a.Key),
            Is.EqualTo(new[] { "ptx/im2col-gemm", "ptx/im2col-gemm+TF32" }));
    }

    [Test]
    public void MismatchedAlgorithmsAreRejectedBeforeAnyWork()
    {
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt);
        var p = ConvProblem.Create(new ConvSpec([3]), new TensorShape(1, 2, 5), new TensorShape(2, 2, 3));
        var t = new ConvTensors(rt.Allocate(p.XShape), rt.Allocate(p.WShape), rt.Allocate(p.YShape));
        Assert.Throws<ArgumentException>(() => backend.Run(p, new ConvAlgorithm("cudnn", "GEMM", 2, 0, true), t));
        var ex = Assert.Throws<ArgumentException>(() => backend.Run(p, new ConvAlgorithm(PtxConvBackend.BackendName, "gemm-1x1", PtxConvBackend.Pointwise, 0, true), t));
        Assert.That(ex!.Message, Does.Contain("1x1"));
        Assert.Throws<ArgumentException>(() => backend.Run(p, backend.GetAlgorithms(p, ConvPrecision.Strict)[0],
            new ConvTensors(new HostTensor(p.XShape), rt.Allocate(p.WShape), rt.Allocate(p.YShape))));
        Assert.That(rt.Calls, Is.Empty, "nothing was launched");
    }

    [Test]
    public void WorkspaceAllocationFailureSurfacesAsWorkspaceAllocationException()
    {
        var rt = new SimulatedPtxRuntime { ScratchLimit = 16 };
        var backend = new PtxConvBackend(rt);
        var p = ConvProblem.Create(new ConvSpec([3]), new TensorShape(1, 2, 5), new TensorShape(2, 2, 3));
        var t = new ConvTensors(rt.Allocate(p.XShape), rt.Allocate(p.WShape), rt.Allocate(p.YShape));
        Assert.Throws<WorkspaceAllocationException>(() => backend.Run(p, backend.GetAlgorithms(p, ConvPrecision.Strict)[0], t));
    }
}
