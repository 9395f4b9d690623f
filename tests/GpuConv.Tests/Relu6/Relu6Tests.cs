using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Threading;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Relu6;

/// <summary>
/// ReLU6 (torch.nn.ReLU6 = hardtanh(x, 0, 6)) as element-wise ops and as a fused activation, without a GPU:
/// PyTorch's special values spelled out (from torch 1.13 on this machine: relu6(NaN) = NaN, relu6(-0) = -0, +∞ → 6,
/// -∞ → 0; hardtanh_backward passes dy where 0 &lt; x &lt; 6 or x is NaN, 0 at x = 0, -0, 6 and beyond; the NaN case as
/// torch's CUDA kernel and short CPU tensors: its vectorized CPU loop, in blocks of 16 floats, gives 0 for a NaN x), the PTX
/// kernels in the interpreter bit for bit against the CPU loops, the CPU engine against the float64 reference
/// (<see cref="ReferenceActivation"/>), and ForwardBiasActivation(Relu6) on the CPU engine and on the simulated PTX
/// device against ReferenceConv (max relative error below 1e-4 of the output's largest magnitude, strict fp32).
/// </summary>
public class Relu6Tests
{
    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static readonly float Below6 = MathF.BitDecrement(6f), Above6 = MathF.BitIncrement(6f);

    /// <summary>The edge cases of both clamps: the values torch was asked about, in the order of the expectations below.</summary>
    static readonly float[] Edges =
    [
        float.NaN, -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, 6f, Below6, Above6,
        -float.Epsilon, float.Epsilon, 3f, -2f, 1e-40f, -1e-40f, float.MaxValue, -float.MaxValue,
    ];

    static float[] Interpret(ElementwiseOp op, float[] a, float[] b)
    {
        var mem = new PtxGlobalMemory();
        ulong pa = mem.Upload(a), pb = mem.Upload(b), po = mem.AllocatePoisoned(a.Length);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op)), new PtxDim3(1), new PtxDim3(32),
            ElementwiseKernels.Arguments(op, po, pa, pb, 0f, a.Length));
        return mem.Download(po, a.Length);
    }

    static float[] Cpu(ElementwiseOp op, float[] a, float[] b)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(op, a, b, 0f, o);
        return o;
    }

    [Test]
    public void Relu6FollowsPyTorchOnTheEdges_KernelAndCpuLoop()
    {
        float[] expected = [float.NaN, -0f, 0f, 6f, 0f, 6f, Below6, 6f, 0f, float.Epsilon, 3f, 0f, 1e-40f, 0f, 6f, 0f];
        // 16 edge values, then the same 16 again so the vector loop (8 wide) and the scalar tail both see every one.
        float[] x = [.. Edges, .. Edges, .. Edges[..5]];
        float[] want = [.. expected, .. expected, .. expected[..5]];
        foreach (var (name, got) in new[] { ("cpu", Cpu(ElementwiseOp.Relu6, x, x)), ("kernel", Interpret(ElementwiseOp.Relu6, x, x)) })
        {
            Assert.That(Bits(got), Is.EqualTo(Bits(want)), $"{name}: relu6 bits (NaN keeps its payload, -0 its sign)");
            Assert.That(BitConverter.SingleToUInt32Bits(got[1]), Is.EqualTo(0x8000_0000u), $"{name}: relu6(-0) = -0, as torch");
            Assert.That(BitConverter.SingleToUInt32Bits(got[4]), Is.Zero, $"{name}: relu6(-inf) = +0");
        }
    }

    [Test]
    public void Relu6BackwardFollowsHardtanhBackwardOnTheEdges_KernelAndCpuLoop()
    {
        float[] x = [.. Edges, .. Edges, .. Edges[..5]];
        float[] dy = [.. x.Select((_, i) => 7f + i)];
        // torch 1.13: hardtanh_backward(dy, x, 0, 6) = dy where 0 < x < 6 or x is NaN; 0 at x = ±0, 6, above and below.
        bool[] passes = [true, false, false, false, false, false, true, false, false, true, true, false, true, false, false, false];
        var want = dy.Select((g, i) => passes[i % Edges.Length] ? g : 0f).ToArray();
        foreach (var (name, got) in new[] { ("cpu", Cpu(ElementwiseOp.Relu6Backward, dy, x)), ("kernel", Interpret(ElementwiseOp.Relu6Backward, dy, x)) })
            Assert.That(Bits(got), Is.EqualTo(Bits(want)), name);
        // A NaN dy where x blocks gives 0, not NaN (a select, not a multiply by 0), as torch's hardtanh_backward.
        var nanGrad = Cpu(ElementwiseOp.Relu6Backward, [float.NaN, float.NaN, float.NaN], [-1f, 6f, 3f]);
        Assert.That(nanGrad[..2], Is.EqualTo(new[] { 0f, 0f }));
        Assert.That(float.IsNaN(nanGrad[2]));
    }

    /// <summary>Random values in ±9 (both clamps active), no exact zeros, with a few exact 6s.</summary>
    static HostTensor Spread(TensorShape shape, int seed)
    {
        var rng = new Random(seed);
        var t = new HostTensor(shape);
        for (int i = 0; i < t.Data.Length; i++)
            t.Data[i] = rng.Next(20) == 0 ? 6f : (float)((rng.NextDouble() * 8.99 + 0.01) * (rng.Next(2) == 0 ? -1 : 1));
        return t;
    }

    [TestCase(new[] { 7 })]
    [TestCase(new[] { 2, 3, 5, 5 })]
    [TestCase(new[] { 1, 64, 33, 35 })] // 73 920 elements: above ParallelElementwise.MinParallelElements
    public void CpuEngineOpsEqualTheFloat64Reference(int[] dims)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 3 });
        var shape = new TensorShape(dims);
        var x = Spread(shape, 1);
        var dy = Spread(shape, 2);
        using var tx = engine.Upload(x);
        using var tdy = engine.Upload(dy);
        var y = engine.Download(engine.Relu6(tx)).Data;
        Assert.That(y, Is.EqualTo(x.Data.Select(v => (float)ReferenceActivation.Apply(Activation.Relu6, v)).ToArray()));
        if (y.Length > 8)
        {
            Assert.That(y.Count(v => v == 0), Is.GreaterThan(0), "the clamp at 0 is exercised");
            Assert.That(y.Count(v => v == 6f), Is.GreaterThan(0), "the clamp at 6 is exercised");
        }
        var dx = engine.Download(engine.Relu6Backward(tdy, tx)).Data;
        Assert.That(dx, Is.EqualTo(Enumerable.Range(0, y.Length).Select(i => (float)ReferenceActivation.Relu6Backward(dy.Data[i], x.Data[i])).ToArray()));
        // The output instead of the input gives the same gradient (y = 0 or 6 exactly where x is blocked).
        using var ty = engine.Upload(new HostTensor(shape, y));
        Assert.That(engine.Download(engine.Relu6Backward(tdy, ty)).Data, Is.EqualTo(dx));
        // In place, as relu6(x, inplace=True).
        Assert.That(engine.Relu6(tx, output: tx), Is.SameAs(tx));
        Assert.That(engine.Download(tx).Data, Is.EqualTo(y));
    }

    [Test]
    public void ParallelLoopsGiveTheSingleLoopsBits_EveryOp([Values] bool inPlace)
    {
        // Odd length: the last chunk is short and ends mid-vector.
        const int n = (1 << 18) + 13;
        var a = ElementwiseKernelTests.Values(n, 1);
        var b = ElementwiseKernelTests.Values(n, 2);
        using var workers = new CpuWorkers(3);
        var parallel = new ParallelElementwise(workers);
        foreach (var op in Enum.GetValues<ElementwiseOp>())
        {
            var expected = new float[n];
            CpuElementwise.Run(op, a, b, -0.75f, expected);
            var output = inPlace ? (float[])a.Clone() : new float[n];
            parallel.Run(op, inPlace ? output : a, b, -0.75f, output);
            Assert.That(Bits(output), Is.EqualTo(Bits(expected)), $"{op}{(inPlace ? " in place" : "")}");
        }
    }

    [Test]
    public void AWarmParallelRunAllocatesNothingOnAnyThread()
    {
        // The operands travel in a struct loop (ChunkLoop) to the workers' runner made once: no closure, no job object.
        // Counted across every thread (the workers run most chunks), as the CPU convolutions' allocation tests count.
        using var workers = new CpuWorkers(2);
        var parallel = new ParallelElementwise(workers);
        int n = ParallelElementwise.MinParallelElements * 2;
        var a = ElementwiseKernelTests.Values(n, 3);
        var b = ElementwiseKernelTests.Values(n, 4);
        var o = new float[n];
        // The fewest bytes of several batches (WarmCalls.ProcessBytesPerCall): what other threads of the test process
        // allocate meanwhile (tests running in parallel: 9.9 B per call once over a single batch of 500) counts only if it
        // falls in every batch; a cost of the call falls in every batch.
        double bytes = GpuConv.Tests.Allocation.WarmCalls.ProcessBytesPerCall(() => parallel.Run(ElementwiseOp.Add, a, b, 0f, o), warm: 50);
        TestContext.Out.WriteLine($"parallel Add: {bytes:F2} B per call, all threads");
        Assert.That(bytes, Is.LessThan(1.0), "a warm parallel element-wise call allocates nothing (an object per call is 24 B)");
    }

    [Test]
    public void ParallelRunRefusesMismatchedLengthsBeforeAnyWork()
    {
        using var workers = new CpuWorkers(2);
        var parallel = new ParallelElementwise(workers);
        int n = ParallelElementwise.MinParallelElements;
        var output = new float[n];
        var e = Assert.Throws<ArgumentException>(() => parallel.Run(ElementwiseOp.Relu6Backward, new float[n], new float[n - 1], 0f, output))!;
        Assert.That(e.Message, Does.Contain("Relu6Backward").And.Contain($"b {n - 1}"));
        Assert.That(output, Is.All.EqualTo(0f), "nothing written");
    }

    [Test]
    public void ArgumentsAreCheckedWithClearMessages()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var a = engine.Upload(HostTensor.Random(new TensorShape(2, 3), 1));
        using var b = engine.Upload(HostTensor.Random(new TensorShape(3, 2), 2));
        var e = Assert.Throws<ArgumentException>(() => engine.Relu6Backward(a, b))!;
        Assert.That(e.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain(b.Shape.ToString()).And.Contain(a.Shape.ToString()));
        Assert.Throws<ArgumentNullException>(() => engine.Relu6(null!));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Relu6Backward(a, null!))!.ParamName, Is.EqualTo("x"));
        var wrongOut = Assert.Throws<ArgumentException>(() => engine.Relu6(a, output: b))!;
        Assert.That(wrongOut.ParamName, Is.EqualTo("output"));
        var notAnActivation = Assert.Throws<ArgumentException>(() => engine.ForwardBiasActivation(new ConvSpec([1, 1]),
            HostTensor.Random(new TensorShape(1, 2, 3, 3), 1), HostTensor.Random(new TensorShape(2, 2, 1, 1), 2), HostTensor.Random(new TensorShape(2), 3), (Activation)9))!;
        Assert.That(notAnActivation.ParamName, Is.EqualTo("activation"));
    }

    static readonly ConvSpec ThreeByThree = new([3, 3], padBegin: [1]);

    /// <summary>x, w and a bias of ±5 so that conv + bias crosses both 0 and 6; the float64 relu6(conv + bias).</summary>
    static (HostTensor X, HostTensor W, HostTensor B, double[] Expected, ConvProblem Problem) Layer(int seed, bool accumulateOnto = false, HostTensor? skip = null)
    {
        var x = HostTensor.Random(new TensorShape(2, 8, 9, 9), seed);
        var w = HostTensor.Random(new TensorShape(16, 8, 3, 3), seed + 1);
        var b = new HostTensor(new TensorShape(16), [.. Enumerable.Range(0, 16).Select(k => (k % 3 - 1) * 5f + 0.25f * k)]);
        var problem = ConvProblem.Create(ThreeByThree, x.Shape, w.Shape, ConvOp.Forward);
        var y = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        if (skip is not null) for (int i = 0; i < y.Length; i++) y[i] += skip.Data[i];
        ReferenceActivation.Apply(Activation.Relu6, y);
        return (x, w, b, y, problem);
    }

    static void AssertCloseAndClamped(float[] got, double[] expected, string what)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{what}: {report}");
        Assert.That(got.Max(), Is.EqualTo(6f), $"{what}: the clamp at 6 is exercised");
        Assert.That(got.Count(v => v == 0), Is.GreaterThan(0), $"{what}: the clamp at 0 is exercised");
        Assert.That(got.Count(v => v is > 0 and < 6), Is.GreaterThan(got.Length / 10), $"{what}: values between the clamps");
    }

    [Test]
    public void ForwardBiasRelu6OnTheCpuEngine_HostAndResident_MatchTheReference()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var (x, w, b, expected, _) = Layer(1);
        AssertCloseAndClamped(engine.ForwardBiasActivation(ThreeByThree, x, w, b, Activation.Relu6).Data, expected, "host overload");
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Relu6);
        AssertCloseAndClamped(engine.Download(y).Data, expected, "resident");

        // Residual form: relu6(skip + conv + bias), the skip in the output tensor.
        var skip = HostTensor.Random(y.Shape, 9);
        var (_, _, _, withSkip, _) = Layer(1, skip: skip);
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Relu6, output: output, accumulate: true);
        AssertCloseAndClamped(engine.Download(output).Data, withSkip, "accumulate");
    }

    [Test]
    public void ForwardBiasRelu6OnTheSimulatedPtxDevice_RunsTheBiasKernelWithTheRelu6Code()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = EngineOnBackends.Open(new PtxConvBackend(rt));
        var (x, w, b, expected, _) = Layer(3);
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        rt.Calls.Clear();
        int waits = rt.Synchronizations;
        using var y = engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Relu6);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "the bias added once");
        Assert.That(rt.Calls[^1], Is.EqualTo("launch bias_add_f32"), "after the convolution's launches");
        Assert.That(rt.Calls, Has.None.Contains("relu6_f32"), "the bias kernel applied ReLU6: no separate element-wise launch");
        Assert.That(rt.CopiesToHost, Is.Zero);
        Assert.That(rt.Synchronizations, Is.EqualTo(waits), "queued on the stream: no wait for the device");
        AssertCloseAndClamped(rt.Download(y), expected, "ptx on the simulated device");

        // Residual form on the device: the GEMM adds onto the skip (beta = 1), then the bias kernel: relu6(skip + conv + bias).
        var skip = HostTensor.Random(y.Shape, 9);
        var (_, _, _, withSkip, _) = Layer(3, skip: skip);
        using var output = engine.Upload(skip);
        rt.Calls.Clear();
        engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Relu6, output: output, accumulate: true);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "residual: the bias added once");
        Assert.That(rt.Synchronizations, Is.EqualTo(waits), "residual: no wait for the device");
        AssertCloseAndClamped(rt.Download(output), withSkip, "ptx residual on the simulated device");
    }

    [Test]
    public void BiasKernelWithEachActivationCodeMatchesTheCpuEpilogueBitForBit([Values] Activation activation)
    {
        // y (random ±9 with every edge value) + bias, then the CPU element-wise op of the activation: bias_add_f32 must give the same bits.
        var shape = new TensorShape(3, 5, 7, 3);
        int n = shape.ElementCountInt;
        var rng = new Random(11);
        var y = new float[n];
        for (int i = 0; i < n; i++) y[i] = rng.Next(4) == 0 ? Edges[rng.Next(Edges.Length)] : (float)(rng.NextDouble() * 18 - 9);
        float[] bias = [0f, -0f, 0.5f, -3f, float.NaN];
        var expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = y[i] + bias[i / 21 % 5];
        if (activation != Activation.Identity) CpuElementwise.Run(ConvEngine.ActivationOp(activation), expected, default, 0f, expected);

        var mem = new PtxGlobalMemory();
        ulong yPtr = mem.Upload(y), bPtr = mem.Upload(bias);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new(2), new(32),
            PtxConvBackend.BiasAddPack(yPtr, bPtr, n, 5, shape.SpatialSize, activation).ToObjects());
        var actual = mem.Download(yPtr, n);
        Assert.That(Bits(actual), Is.EqualTo(Bits(expected)), activation.ToString());
        if (activation == Activation.Relu6) Assert.That(actual.Count(v => v == 6f), Is.GreaterThan(n / 20), "values above 6 clamped");
    }

    [Test]
    public void BiasActivationCodesAreTheKernelsDocumentedOnes()
    {
        Assert.That(Enum.GetValues<Activation>().Select(PtxConvBackend.BiasActivationCode), Is.EqualTo(new[] { 0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u }));
        string source = ShippedKernels.Source("bias.ptx");
        Assert.That(source, Does.Contain("0: bias only; 1: ReLU; 2: ReLU6; 3: SiLU; 4: hardswish; 5: sigmoid; 6: hardsigmoid;").And.Contain("7: GELU; 8: GELU tanh"));
    }
}
