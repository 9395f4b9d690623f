using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends.Cudnn;

/// <summary>
/// The cuDNN backend's own logic on the CPU, against <see cref="FakeCudnnApi"/>: which heuristic entries
/// become candidates, what a refusal becomes, the fused call's z and NaN handling, descriptor shapes,
/// size limits and serialisation across threads. What real cuDNN then does is for the GPU tests.
/// </summary>
public class CudnnBackendFakeTests
{
    FakeCudnnApi _api = null!;
    FakeCudnnHost _host = null!;
    CudnnBackend _backend = null!;

    [SetUp]
    public void SetUp()
    {
        _api = new FakeCudnnApi();
        _host = new FakeCudnnHost(_api);
        _backend = new CudnnBackend(_host);
    }

    [TearDown]
    public void TearDown()
    {
        _backend.Dispose();
        _host.Dispose();
    }

    static ConvProblem Problem(int n = 2, ConvOp op = ConvOp.Forward, int[]? padBegin = null, int[]? padEnd = null) =>
        ConvProblem.Create(new ConvSpec([3, 3], padBegin: padBegin ?? [1], padEnd: padEnd), new TensorShape(n, 4, 8, 8), new TensorShape(6, 4, 3, 3), op);

    ConvTensors Tensors(ConvProblem p, float fill = 0.5f, bool bias = false) =>
        new(_host.Filled(p.XShape, fill), _host.Filled(p.WShape, fill), _host.Filled(p.YShape, fill), bias ? _host.Filled(new TensorShape(p.BiasLength), fill) : null);

    [Test]
    public void StrictCandidatesAreTheNonTensorOpEntriesOfTheFmaQuery()
    {
        _api.Heuristic = (_, math) => math == CudnnMathType.TensorOp
            ? [FakeCudnnApi.Entry(1, CudnnMathType.TensorOp)]
            : [FakeCudnnApi.Entry(1, CudnnMathType.Fma), FakeCudnnApi.Entry(6, CudnnMathType.TensorOp), FakeCudnnApi.Entry(0, CudnnMathType.Default),
               FakeCudnnApi.Entry(2, CudnnMathType.Fma, CudnnStatus.NotSupported)];
        var strict = _backend.GetAlgorithms(Problem(), ConvPrecision.Strict);
        Assert.That(strict.Select(a => a.Key), Is.EqualTo(new[] { "cudnn/IMPLICIT_PRECOMP_GEMM", "cudnn/IMPLICIT_GEMM" }));
        Assert.That(strict.All(a => a.Math == MathMode.Strict));
    }

    [Test]
    public void EverySuccessfulEntryOfTheTensorOpQueryIsATf32Candidate()
    {
        // The default fake tags two of the TENSOR_OP query's three entries DEFAULT_MATH: all three count.
        var all = _backend.GetAlgorithms(Problem(), ConvPrecision.AllowTF32);
        Assert.That(all.Where(a => a.Math == MathMode.TF32).Select(a => a.Name), Is.EqualTo(new[] { "IMPLICIT_PRECOMP_GEMM", "IMPLICIT_GEMM", "GEMM" }));
        Assert.That(all.Count(a => a.Math == MathMode.Strict), Is.EqualTo(3));
    }

    [Test]
    public void TheHeuristicIsAskedForMaxCountEntriesNotTheEnumCount()
    {
        _api.MaxCount = 11;
        _api.Heuristic = (_, m) => [.. Enumerable.Range(0, 11).Select(i => FakeCudnnApi.Entry(i % 8, m == CudnnMathType.TensorOp ? CudnnMathType.TensorOp : CudnnMathType.Fma))];
        var strict = _backend.GetAlgorithms(Problem(), ConvPrecision.Strict);
        Assert.That(_api.LastRequestedCount, Is.EqualTo(11));
        Assert.That(strict.Select(a => a.Id), Is.EqualTo(Enumerable.Range(0, 8)), "each algorithm once, duplicates dropped");
    }

    [TestCase(CudnnStatus.BadParam)]
    [TestCase(CudnnStatus.NotSupported)]
    [TestCase(CudnnStatus.InternalError)]
    public void ACandidateWhoseWorkspaceSizeQueryFailsIsDroppedNotFatal(CudnnStatus status)
    {
        _api.WorkspaceStatus = (_, algo) => algo == 0 ? status : CudnnStatus.Success;
        var strict = _backend.GetAlgorithms(Problem(), ConvPrecision.Strict);
        Assert.That(strict.Select(a => a.Name), Is.EqualTo(new[] { "IMPLICIT_PRECOMP_GEMM", "GEMM" }));
        Assert.That(_backend.DescribeHeuristics(Problem()), Does.Contain("IMPLICIT_GEMM").And.Contain("dropped: its workspace-size query failed"));
    }

    [Test]
    public void BothHeuristicTablesCanBePrinted()
    {
        var text = _backend.DescribeHeuristics(Problem());
        TestContext.Out.WriteLine(text);
        Assert.That(text, Does.Contain("strict query (FMA math)").And.Contain("TF32 query (TENSOR_OP math)"));
        Assert.That(text, Does.Contain("not a candidate: tensor-op kernel in the strict query").Or.Contain("candidate, workspace"));
        Assert.That(text.Split('\n').Count(l => l.Contains(": candidate, workspace", StringComparison.Ordinal)), Is.EqualTo(6));
    }

    [TestCase(CudnnStatus.NotSupported)]
    [TestCase(CudnnStatus.NotSupportedShape)]
    [TestCase(CudnnStatus.BadParam)]
    [TestCase(CudnnStatus.ExecutionFailed)]
    public void ARunTimeRefusalIsAnAlgorithmDecline(CudnnStatus status)
    {
        var p = Problem(op: ConvOp.BackwardData);
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        _api.ConvolutionStatus = (_, algo) => algo == algorithm.Id ? status : CudnnStatus.Success;
        var e = Assert.Throws<AlgorithmDeclinedException>(() => _backend.Run(p, algorithm, Tensors(p)));
        Assert.That(e!.Algorithm, Is.EqualTo(algorithm.Key));
        Assert.That(e.InnerException, Is.InstanceOf<GpuConv.Cuda.CudnnException>());
        Assert.That(Assert.Throws<AlgorithmDeclinedException>(() => _backend.TimeRun(p, algorithm, Tensors(p))), Is.Not.Null);
    }

    [Test]
    public void AnInternalErrorIsNotADecline()
    {
        var p = Problem();
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        _api.ConvolutionStatus = (_, _) => CudnnStatus.InternalError;
        Assert.Throws<GpuConv.Cuda.CudnnException>(() => _backend.Run(p, algorithm, Tensors(p)));
    }

    [Test]
    public void TheCandidatesMathTypeIsSetBeforeItRuns()
    {
        var p = Problem();
        foreach (var a in _backend.GetAlgorithms(p, ConvPrecision.AllowTF32))
            _backend.Run(p, a, Tensors(p));
        var expected = _backend.GetAlgorithms(p, ConvPrecision.AllowTF32)
            .Select(a => (a.Id, a.Math == MathMode.TF32 ? CudnnMathType.TensorOp : CudnnMathType.Fma));
        Assert.That(_api.Executions.ToList(), Is.EqualTo(expected.ToList()));
    }

    [Test]
    public void TheFusedCallZeroesZAndKeepsNaN()
    {
        var p = Problem();
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = Tensors(p, bias: true);
        var y = (DeviceTensor)t.Y;
        y.CopyFrom(Enumerable.Repeat(float.NaN, (int)p.YShape.ElementCount).ToArray()); // pooled memory may hold NaN

        Assert.That(_backend.TryForwardBiasActivation(p, algorithm, t, Activation.Relu), Is.True);

        Assert.That(y.Download(), Has.All.EqualTo(1f), "z (= y, alpha2 = 0) was zeroed before the call");
        var calls = _api.Calls.ToList();
        int zero = calls.FindLastIndex(c => c.StartsWith($"SetTensor 0x{y.Pointer:x} = 0", StringComparison.Ordinal));
        int fused = calls.FindLastIndex(c => c.StartsWith("BiasActivationForward", StringComparison.Ordinal));
        Assert.That(zero, Is.GreaterThanOrEqualTo(0).And.LessThan(fused));
        Assert.That(calls[fused], Does.Contain("alpha2=0 z=y"));
        Assert.That(calls, Has.Some.EqualTo("SetActivation Relu PropagateNan"), "NaN stays NaN, as unfused and in PyTorch");
    }

    [TestCase(CudnnStatus.NotSupported)]
    [TestCase(CudnnStatus.BadParam)]
    [TestCase(CudnnStatus.ExecutionFailed)]
    public void AFusedDeclineIsExplained(CudnnStatus status)
    {
        var p = Problem();
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        _api.FusedStatus = status;
        Assert.That(_backend.TryForwardBiasActivation(p, algorithm, Tensors(p, bias: true), Activation.Relu), Is.False);
        Assert.That(_backend.LastFusedDecline, Does.StartWith("cudnn/IMPLICIT_PRECOMP_GEMM: "));
    }

    [Test]
    public void Relu6IsDeclinedBeforeAnyCudnnCall()
    {
        // cuDNN documents RELU and IDENTITY for the fused call; ReLU6 (CLIPPED_RELU) is not asked for: the engine runs the
        // plain convolution and the PTX bias kernel with the ReLU6 code instead.
        var p = Problem();
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = Tensors(p, bias: true);
        int before = _api.Calls.Count;
        Assert.That(_backend.TryForwardBiasActivation(p, algorithm, t, Activation.Relu6), Is.False);
        Assert.That(_backend.TryRunBiasActivation(p, algorithm, t, Activation.Relu6), Is.False);
        Assert.That(_backend.TryEnqueueBiasActivation(p, algorithm, t, Activation.Relu6), Is.False);
        Assert.That(_api.Calls.Count, Is.EqualTo(before), "no native call: no activation descriptor, no SetTensor, no fused call");
        Assert.That(_backend.LastFusedDecline, Does.Contain("ReLU6").And.Contain("RELU and IDENTITY"));
    }

    [Test]
    public void SiluIsDeclinedBeforeAnyCudnnCall()
    {
        // As ReLU6: the fused call's documented modes are RELU and IDENTITY (and cuDNN's exponential would not give the
        // other devices' bits); the engine runs the plain convolution and the PTX bias kernel with the SiLU code.
        var p = Problem();
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = Tensors(p, bias: true);
        int before = _api.Calls.Count;
        Assert.That(_backend.TryForwardBiasActivation(p, algorithm, t, Activation.Silu), Is.False);
        Assert.That(_backend.TryRunBiasActivation(p, algorithm, t, Activation.Silu), Is.False);
        Assert.That(_backend.TryEnqueueBiasActivation(p, algorithm, t, Activation.Silu), Is.False);
        Assert.That(_api.Calls.Count, Is.EqualTo(before), "no native call: no activation descriptor, no SetTensor, no fused call");
        Assert.That(_backend.LastFusedDecline, Does.StartWith("SiLU").And.Contain("RELU and IDENTITY"));
    }

    [Test]
    public void HardswishSigmoidHardsigmoidAndGeluAreDeclinedBeforeAnyCudnnCall(
        [Values(Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid, Activation.Gelu, Activation.GeluTanh)] Activation act)
    {
        // No fused mode for them (and cuDNN's sigmoid would not give the other devices' bits): the engine runs the plain
        // convolution and the PTX bias kernel with the activation's code.
        var p = Problem();
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = Tensors(p, bias: true);
        int before = _api.Calls.Count;
        Assert.That(_backend.TryForwardBiasActivation(p, algorithm, t, act), Is.False);
        Assert.That(_backend.TryRunBiasActivation(p, algorithm, t, act), Is.False);
        Assert.That(_backend.TryEnqueueBiasActivation(p, algorithm, t, act), Is.False);
        Assert.That(_api.Calls.Count, Is.EqualTo(before), "no native call: no activation descriptor, no SetTensor, no fused call");
        Assert.That(_backend.LastFusedDecline, Does.StartWith(act.ToString() + ":").And.Contain("RELU and IDENTITY"));
        // A constant message: a warm layer declined on every call allocates nothing for it.
        string first = _backend.LastFusedDecline!;
        _backend.TryForwardBiasActivation(p, algorithm, t, act);
        Assert.That(_backend.LastFusedDecline, Is.SameAs(first));
    }

    [Test]
    public void BackwardBiasDescriptorsHaveAtLeastFourDims()
    {
        using var dy = _host.Filled(new TensorShape(3, 5), 1);
        using var db = _host.Filled(new TensorShape(5), 0);
        _backend.BackwardBias(dy, db);
        Assert.That(_api.Calls, Has.Some.EqualTo("BackwardBias dy=[3,5,1,1] db=[1,5,1,1]"));
        Assert.That(CudnnBackend.BiasGradientDims(new TensorShape(2, 4, 7)), Is.EqualTo((new[] { 2, 4, 7, 1 }, new[] { 1, 4, 1, 1 })));
        Assert.That(CudnnBackend.BiasGradientDims(new TensorShape(2, 4, 3, 5, 6)), Is.EqualTo((new[] { 2, 4, 3, 5, 6 }, new[] { 1, 4, 1, 1, 1 })));
    }

    [Test]
    public void APaddedCopyBeyondTwoToThe31ElementsIsRefusedBeforeAnyCudnnCall()
    {
        // x and y fit cuDNN's int descriptors (2^31 - 8192 elements each); padding each row by 16 does not.
        var p = ConvProblem.Create(new ConvSpec([17], padBegin: [0], padEnd: [16]), new TensorShape(1024, 1, (1 << 21) - 8), new TensorShape(1, 1, 17));
        int before = _api.Calls.Count;
        Assert.That(_backend.WhyUnsupported(p), Does.Contain("padded copy of x").And.Contain("2147491840 elements"));
        var e = Assert.Throws<ArgumentException>(() => _backend.GetAlgorithms(p, ConvPrecision.Strict));
        Assert.That(e!.ParamName, Is.EqualTo("problem"));
        Assert.That(_api.Calls.Count, Is.EqualTo(before));
    }

    [Test]
    public void PackedStridesRefuseToOverflow()
    {
        Assert.That(CudnnDescriptors.PackedStrides([2, 3, 4, 5]), Is.EqualTo(new[] { 60, 20, 5, 1 }));
        var e = Assert.Throws<ArgumentException>(() => CudnnDescriptors.PackedStrides([2, 1 << 16, 1 << 15, 1]));
        Assert.That(e!.Message, Does.Contain("[2, 65536, 32768, 1]").And.Contain("2147483647"));
    }

    [Test]
    public void AsymmetricPaddingCopiesThroughTheInteriorOfThePaddedBuffer()
    {
        var p = Problem(n: 1, padBegin: [0, 2], padEnd: [2, 1]);
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = Tensors(p);
        _backend.Run(p, algorithm, t);
        var calls = _api.Calls.ToList();
        var zero = calls.Single(c => c.StartsWith("SetTensor 0x", StringComparison.Ordinal));
        ulong buffer = Convert.ToUInt64(zero.Split(' ')[1][2..], 16);
        // Padded dims [1, 4, 10, 11]: x[0,0,0,0] sits at row 0, column 2 of the padded plane: 8 bytes in.
        Assert.That(calls, Has.Some.EqualTo($"TransformTensor 0x{((DeviceTensor)t.X).Pointer:x} -> 0x{buffer + 8:x}"));
        Assert.That(CudnnBackend.AlignmentOf(buffer + 8), Is.EqualTo(8));
        Assert.That(CudnnBackend.AlignmentOf(0x1004), Is.EqualTo(4));
        Assert.That(CudnnBackend.AlignmentOf(0x10000), Is.EqualTo(256));
    }

    [Test]
    public void WhenCudnnRefusesThePaddedCopyPlanBCopiesTheViewInstead()
    {
        _api.TransformStatus = CudnnStatus.BadParamMisalignedPointer;
        var p = Problem(n: 1, padBegin: [0, 2], padEnd: [2, 1]);
        var algorithm = _backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = Tensors(p);
        var x = (DeviceTensor)t.X;
        x.CopyFrom(Enumerable.Range(0, (int)p.XShape.ElementCount).Select(i => (float)i).ToArray());

        _backend.Run(p, algorithm, t);

        var copy = _host.StridedCopies.Single();
        Assert.That(copy.Src, Is.EqualTo(x.Pointer));
        Assert.That(copy.Dims, Is.EqualTo(new[] { 1, 4, 8, 8 }));
        Assert.That(copy.SrcStrides, Is.EqualTo(new long[] { 256, 64, 8, 1 }));
        Assert.That(copy.DstStrides, Is.EqualTo(new long[] { 440, 110, 11, 1 }), "padded buffer [1, 4, 10, 11]");
        Assert.That(_backend.StridedCopyFallbacks, Is.EqualTo(1));

        // Backward data crops through plan B the other way round.
        var bd = Problem(n: 1, op: ConvOp.BackwardData, padBegin: [0, 2], padEnd: [2, 1]);
        _backend.Run(bd, _backend.GetAlgorithms(bd, ConvPrecision.Strict)[0], Tensors(bd));
        var crop = _host.StridedCopies.Last();
        Assert.That((crop.SrcStrides, crop.DstStrides), Is.EqualTo((new long[] { 440, 110, 11, 1 }, new long[] { 256, 64, 8, 1 })));
    }

    [Test]
    public void AnyOtherTransformFailureIsAnError()
    {
        _api.TransformStatus = CudnnStatus.InternalError;
        var p = Problem(n: 1, padBegin: [0, 2], padEnd: [2, 1]);
        Assert.Throws<GpuConv.Cuda.CudnnException>(() => _backend.Run(p, _backend.GetAlgorithms(p, ConvPrecision.Strict)[0], Tensors(p)));
        Assert.That(_host.StridedCopies, Is.Empty);
    }

    [Test]
    public void ConcurrentStrictAndTf32RunsNeverShareTheHandleOrEachOthersMathType()
    {
        _api.SpinsPerCall = 200;
        var p = Problem();
        var candidates = _backend.GetAlgorithms(p, ConvPrecision.AllowTF32);
        var strict = candidates.First(a => a.Math == MathMode.Strict && a.Id == 1);
        var tf32 = candidates.First(a => a.Math == MathMode.TF32 && a.Id == 0);
        var (ts, tt) = (Tensors(p), Tensors(p));
        while (_api.Executions.TryDequeue(out _)) { }

        var runners = new[]
        {
            Task.Run(() => { for (int i = 0; i < 150; i++) _backend.Run(p, strict, ts); }),
            Task.Run(() => { for (int i = 0; i < 150; i++) _backend.TimeRun(p, tf32, tt); }),
            // Many geometries: the descriptor cache (256 entries) is cleared while the others run.
            Task.Run(() => { for (int n = 1; n <= 300; n++) _backend.GetAlgorithms(Problem(n), ConvPrecision.AllowTF32); }),
        };
        Task.WaitAll(runners);

        Assert.That(_api.Violations, Is.Empty);
        Assert.That(_api.MaxConcurrentCalls, Is.EqualTo(1));
        var executions = _api.Executions.ToList();
        Assert.That(executions, Has.Count.EqualTo(300));
        Assert.That(executions.Where(e => e.Algo == 1).Select(e => e.Math), Has.All.EqualTo(CudnnMathType.Fma));
        Assert.That(executions.Where(e => e.Algo == 0).Select(e => e.Math), Has.All.EqualTo(CudnnMathType.TensorOp));
    }

    [Test]
    public void TheFakeNoticesConcurrentUse()
    {
        // Guard for the test above: without serialisation the fake does see overlapping calls.
        _api.SleepMsPerCall = 100;
        using var start = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(_ => new Thread(() => { start.SignalAndWait(); _api.SetConvolutionMathType(1, CudnnMathType.Fma); })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.That(_api.MaxConcurrentCalls, Is.GreaterThan(1));
        Assert.That(_api.Violations, Is.Not.Empty);
    }
}
