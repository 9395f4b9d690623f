using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Cuda;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// The device-resident API on the paths a CPU machine has: the CPU engine (tensors are host tensors) and an
/// engine over a fake device memory (separate buffers, so every copy the engine makes or skips is counted).
/// Results are judged against the float64 reference: max relative error below 1e-5 for fp32 chains of three
/// layers (each layer compared with the reference run on the previous layer's float32 output).
/// </summary>
public class DeviceResidentTests
{
    const double Tolerance = 1e-5;

    static ConvEngineOptions CpuOptions(string? backend = null) => new()
    {
        Device = DeviceKind.Cpu,
        PersistPlans = false,
        Backend = backend,
        Warning = m => Assert.Fail($"unexpected warning: {m}"),
    };

    // A small network: 3x3 conv (stride 2, bias, ReLU), depthwise 3x3, then a transposed 2x2 back up.
    static readonly ConvSpec Conv1 = new([3, 3], stride: [2, 2], padBegin: [1]);
    static readonly ConvSpec Depthwise = new([3, 3], padBegin: [1], groups: 6);
    static readonly ConvSpec UpSample = new([2, 2], stride: [2, 2], transposed: true);

    static (HostTensor X, HostTensor W1, HostTensor B1, HostTensor W2, HostTensor W3) Inputs() => (
        HostTensor.Random(new TensorShape(2, 3, 10, 10), 1),
        HostTensor.Random(new TensorShape(6, 3, 3, 3), 2),
        HostTensor.Random(new TensorShape(6), 3),
        HostTensor.Random(new TensorShape(6, 1, 3, 3), 4),
        HostTensor.Random(new TensorShape(6, 4, 2, 2), 5));

    /// <summary>The chain as an application writes it: upload once, three calls, download once.</summary>
    static HostTensor ChainResident(ConvEngine engine)
    {
        var (x, w1, b1, w2, w3) = Inputs();
        using var dx = engine.Upload(x);
        using var dw1 = engine.Upload(w1);
        using var db1 = engine.Upload(b1);
        using var dw2 = engine.Upload(w2.Data, w2.Shape);
        using var dw3 = engine.Upload(w3);
        using var h1 = engine.ForwardBiasActivation(Conv1, dx, dw1, db1, Activation.Relu);
        using var h2 = engine.Allocate(h1.Shape);
        engine.Forward(Depthwise, h1, dw2, output: h2);
        using var y = engine.Forward(UpSample, h2, dw3);
        return engine.Download(y);
    }

    /// <summary>The same chain, each layer judged by the float64 reference on the previous layer's float32 output.</summary>
    static HostTensor ChainReference()
    {
        var (x, w1, b1, w2, w3) = Inputs();
        var h1 = Reference(Conv1, x, w1, b1);
        for (int i = 0; i < h1.Data.Length; i++) h1.Data[i] = Math.Max(h1.Data[i], 0);
        var h2 = Reference(Depthwise, h1, w2, null);
        return Reference(UpSample, h2, w3, null);
    }

    static HostTensor Reference(ConvSpec spec, HostTensor input, HostTensor w, HostTensor? bias)
    {
        var p = ConvProblem.Create(spec, input.Shape, w.Shape);
        var ux = spec.Transposed ? [] : input.Data;
        var uy = spec.Transposed ? input.Data : [];
        var r = ReferenceConv.Run(p, ux, w.Data, uy, bias is null ? [] : bias.Data);
        return new HostTensor(p.OutputShape, r.Select(v => (float)v).ToArray());
    }

    static void AssertMatchesReference(HostTensor actual, HostTensor expected)
    {
        Assert.That(actual.Shape, Is.EqualTo(expected.Shape));
        var err = ErrorMetrics.Compare(actual.Data, expected.Data.Select(v => (double)v).ToArray());
        Assert.That(err.MaxRelative, Is.LessThan(Tolerance), err.ToString());
    }

    [Test]
    public void CpuEngine_WorksInHostMemory_AndTheChainMatchesTheReference()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        Assert.That(engine.Memory, Is.SameAs(HostMemorySpace.Instance));
        Assert.That(engine.CudaStreamHandle, Is.EqualTo((nint)0));
        Assert.That(engine.CudaContextHandle, Is.EqualTo((nint)0));
        var y = ChainResident(engine);
        AssertMatchesReference(y, ChainReference());
        engine.Synchronize(); // nothing to wait for, must not throw
    }

    [Test]
    public void CpuEngine_ResidentChain_EqualsTheHostTensorChain()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var (x, w1, b1, w2, w3) = Inputs();
        var h1 = engine.ForwardBiasActivation(Conv1, x, w1, b1, Activation.Relu);
        var h2 = engine.Forward(Depthwise, h1, w2);
        var viaHost = engine.Forward(UpSample, h2, w3);
        Assert.That(ChainResident(engine).Data, Is.EqualTo(viaHost.Data), "same backend, same data: bit-identical");
    }

    [Test]
    public void Upload_CopiesTheData_AndDownloadIntoASpanChecksItsLength()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var host = HostTensor.Random(new TensorShape(2, 3), 7);
        using var t = engine.Upload(host);
        Assert.That(t, Is.Not.SameAs(host), "an upload is a copy, on the CPU path too");
        host.Data[0] = 42;
        var back = new float[6];
        engine.Download(t, back);
        Assert.That(back[0], Is.Not.EqualTo(42f));
        var e = Assert.Throws<ArgumentException>(() => engine.Download(t, new float[5]));
        Assert.That(e!.ParamName, Is.EqualTo("destination"));
        e = Assert.Throws<ArgumentException>(() => engine.Upload(new float[5], new TensorShape(2, 3)));
        Assert.That(e!.ParamName, Is.EqualTo("data"));
        Assert.That(e.Message, Does.Contain("5").And.Contain("6"));
    }

    [Test]
    public void Backward_Resident_MatchesTheHostOverloads()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var x = HostTensor.Random(new TensorShape(2, 3, 10, 10), 1);
        var w = HostTensor.Random(new TensorShape(6, 3, 3, 3), 2);
        var dy = HostTensor.Random(new TensorShape(2, 6, 5, 5), 3);
        using var rx = engine.Upload(x);
        using var rw = engine.Upload(w);
        using var rdy = engine.Upload(dy);

        var dx = engine.Download(engine.BackwardData(Conv1, rdy, rw, x.Shape));
        var dw = engine.Download(engine.BackwardFilter(Conv1, rx, rdy, w.Shape));
        using var db = engine.Allocate(new TensorShape(6));
        engine.BackwardBias(rdy, db);

        Assert.That(dx.Data, Is.EqualTo(engine.BackwardData(Conv1, dy, w, x.Shape).Data));
        Assert.That(dw.Data, Is.EqualTo(engine.BackwardFilter(Conv1, x, dy, w.Shape).Data));
        Assert.That(engine.Download(db).Data, Is.EqualTo(engine.BackwardBias(dy).Data));
        var p = ConvProblem.Create(Conv1, x.Shape, w.Shape, ConvOp.BackwardData);
        var expected = ReferenceConv.Run(p, [], w.Data, dy.Data, []);
        Assert.That(ErrorMetrics.Compare(dx.Data, expected).MaxRelative, Is.LessThan(Tolerance));
    }

    [Test]
    public void BadArguments_NameTheArgument()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var (x, w1, b1, _, _) = Inputs();
        using var rx = engine.Upload(x);
        using var rw = engine.Upload(w1);

        var e = Assert.Throws<ArgumentException>(() => engine.Forward(Conv1, rx, rw, output: engine.Allocate(new TensorShape(2, 6, 4, 4))));
        Assert.That(e!.ParamName, Is.EqualTo("output"));
        Assert.That(e.Message, Does.Contain("[2, 6, 5, 5]"));

        e = Assert.Throws<ArgumentException>(() => engine.Forward(new ConvSpec([3, 3], padBegin: [1]), rx, engine.Upload(new HostTensor(3, 3, 3, 3)), output: rx));
        Assert.That(e!.ParamName, Is.EqualTo("output"), "writing over an input");

        e = Assert.Throws<ArgumentException>(() => engine.Forward(Conv1, rx, rw, bias: engine.Upload(new HostTensor(5))));
        Assert.That(e!.ParamName, Is.EqualTo("bias"));

        e = Assert.Throws<ArgumentException>(() => engine.Forward(Conv1, rw, rx));
        Assert.That(e!.ParamName, Is.EqualTo("w").Or.EqualTo("x"));

        e = Assert.Throws<ArgumentException>(() => engine.BackwardBias(engine.Upload(new HostTensor(4))));
        Assert.That(e!.ParamName, Is.EqualTo("dy"));

        e = Assert.Throws<ArgumentException>(() => engine.ForwardBiasActivation(Conv1, rx, rw, engine.Upload(b1), (Activation)99));
        Assert.That(e!.ParamName, Is.EqualTo("activation"));
    }

    [Test]
    public void CpuEngine_AllocateOfAShapeNoArrayHolds_IsAnArgumentExceptionNamingTheShape()
    {
        // Bad input, as the README promises, not the shape's InvalidOperationException from inside the allocation.
        using var engine = ConvEngine.Open(CpuOptions());
        var e = Assert.Throws<ArgumentException>(() => engine.Allocate(new TensorShape(65536, 65536)));
        Assert.That(e!.ParamName, Is.EqualTo("shape"));
        Assert.That(e.Message, Does.Contain("[65536, 65536]").And.Contain("4294967296"));
    }

    [Test]
    public void CpuEngine_RefusesDeviceMemory_AndSaysWhy()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        using var runtime = new HostBackedRuntime();
        using var device = new DeviceTensor(runtime, new TensorShape(2, 3, 10, 10));
        using var w = engine.Upload(new HostTensor(6, 3, 3, 3));

        var e = Assert.Throws<ArgumentException>(() => engine.Forward(Conv1, device, w));
        Assert.That(e!.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain("Device memory").And.Contain("Host memory").And.Contain("CPU"));

        var wrap = Assert.Throws<InvalidOperationException>(() => engine.Wrap(0x1000, 6, new TensorShape(6)));
        Assert.That(wrap!.Message, Does.Contain("Host memory"));
        Assert.Throws<InvalidOperationException>(() => engine.UseStream(0x1234));
        Assert.DoesNotThrow(() => engine.UseStream(0), "0 = the engine's own stream, valid everywhere");
    }

    // On a GPU a disposed tensor is refused; the CPU path ran on it, so code that used a tensor after its
    // `using` scope passed every test on a CPU machine and failed only on the first GPU.
    [Test]
    public void DisposedTensor_IsRefusedOnTheCpuPath_AsOnAGpu()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var (xHost, w1Host, _, _, _) = Inputs();
        using var w = engine.Upload(w1Host);
        var x = engine.Upload(xHost);
        var y = engine.Forward(Conv1, x, w);
        ((IDisposable)x).Dispose();
        ((IDisposable)y).Dispose();

        ExpectArgument.Throws(() => engine.Forward(Conv1, x, w), "x", "x was disposed");
        ExpectArgument.Throws(() => engine.Download(y), "tensor", "tensor was disposed");
        ExpectArgument.Throws(() => engine.Upload(xHost.Data, x), "destination", "destination was disposed");
        using var x2 = engine.Upload(xHost);
        ExpectArgument.Throws(() => engine.Forward(Conv1, x2, w, output: y), "output", "output was disposed");
        ExpectArgument.Throws(() => engine.BackwardBias(y), "dy", "dy was disposed");
        // The host-tensor overloads copy their inputs, on a GPU as here: a disposed host tensor still serves them.
        Assert.That(engine.Forward(Conv1, (HostTensor)x, w1Host).Shape, Is.EqualTo(y.Shape));
    }

    // engine.Upload(data, w) into weights used with constantWeights: true left the CPU backend's prepared copy
    // (packed panels, Winograd transforms) in place, so every later call ran on the old weights (no error;
    // ResNet's 64-channel 3x3 was off by ~50 absolute), while a GPU, which prepares nothing, gave the new result.
    [Test]
    public void UploadIntoConstantWeights_RunsOnTheNewWeights_ForEveryCpuAlgorithm()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        var problem = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 16, 12, 12), new TensorShape(16, 16, 3, 3));
        var (wOld, wNew) = (HostTensor.Random(problem.WShape, 2), HostTensor.Random(problem.WShape, 3));
        using var x = engine.Upload(HostTensor.Random(problem.XShape, 1));
        using var w = engine.Upload(wOld);
        var algorithms = cpu.GetAlgorithms(problem, ConvPrecision.Strict);
        Assert.That(algorithms, Is.Not.Empty);
        foreach (var algorithm in algorithms)
        {
            engine.Upload(wOld.Data, w);
            var y = new HostTensor(problem.YShape);
            cpu.Run(problem, algorithm, new ConvTensors((HostTensor)x, (HostTensor)w, y) { ConstantWeights = true });   // prepares wOld
            engine.Upload(wNew.Data, w);
            cpu.Run(problem, algorithm, new ConvTensors((HostTensor)x, (HostTensor)w, y) { ConstantWeights = true });
            var expected = new HostTensor(problem.YShape);
            cpu.Run(problem, algorithm, new ConvTensors((HostTensor)x, wNew.Clone(), expected));
            var error = ErrorMetrics.Compare(y.Data, expected.Data.Select(v => (double)v).ToArray());
            Assert.That(error.MaxRelative, Is.LessThan(Tolerance), $"{algorithm.Key}: ran on the weights before the upload");
        }
    }

    // Tensor (what Allocate/Upload/Forward return) implemented IDisposable explicitly: `t.Dispose()` did not
    // compile (CS1061), only `using` or a cast. Now it disposes whatever the tensor is.
    [Test]
    public void TensorDispose_IsCallable_AndReachesTheTensorsOwnDispose()
    {
        using var engine = ConvEngine.Open(CpuOptions());
        Tensor host = engine.Upload(new HostTensor(2, 3, 10, 10));
        host.Dispose();
        Assert.That(((HostTensor)host).IsDisposed, Is.True);
        using var runtime = new HostBackedRuntime();
        Tensor device = new DeviceTensor(runtime, new TensorShape(2, 3));
        device.Dispose();
        Assert.That(((DeviceTensor)device).IsDisposed, Is.True);
        var memory = new FakeDeviceMemory();
        Tensor fake = memory.Allocate(new TensorShape(4));
        fake.Dispose();
        fake.Dispose();
        Assert.That(memory.Freed, Is.EqualTo(1), "the fake's own Dispose ran, once");
    }

    [Test]
    public void DisposedEngine_Throws()
    {
        var engine = ConvEngine.Open(CpuOptions());
        using var t = engine.Allocate(new TensorShape(2));
        engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.Allocate(new TensorShape(2)));
        Assert.Throws<ObjectDisposedException>(() => engine.Download(t));
    }

    // --- an engine over fake device memory: what is copied, what waits ---

    static ConvEngine FakeDeviceEngine(StreamOrderedFake device, params IConvBackend[] others) =>
        ConvEngine.Adopt(CpuOptions(), new BackendSet([device, .. others], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));

    [Test]
    public void FakeDevice_ChainIsIssuedWithoutWaiting_AndCopiesOnlyAtTheEnds()
    {
        var memory = new FakeDeviceMemory();
        var device = new StreamOrderedFake(memory);
        using var engine = FakeDeviceEngine(device, new CpuBackend(1));
        Assert.That(engine.Memory, Is.SameAs(memory));

        var y = ChainResident(engine);

        AssertMatchesReference(y, ChainReference());
        Assert.That(device.Enqueued, Is.EqualTo(3), "three convolutions issued on the stream");
        Assert.That(device.WaitedRuns, Is.EqualTo(0), "no call waited for its result");
        Assert.That(memory.CopiesIn, Is.EqualTo(5 + 1), "five uploads, plus ReLU through the host (this fake cannot fuse it)");
        Assert.That(memory.CopiesOut, Is.EqualTo(1 + 1), "one download, plus the ReLU read-back");
        Assert.That(memory.Freed, Is.EqualTo(memory.Allocated), "every tensor of the chain was disposed");
    }

    [Test]
    public void FakeDevice_RefusesHostTensors_WithAHintToUpload()
    {
        using var engine = FakeDeviceEngine(new StreamOrderedFake(new FakeDeviceMemory()), new CpuBackend(1));
        var e = Assert.Throws<ArgumentException>(() => engine.Forward(Conv1, new HostTensor(2, 3, 10, 10), engine.Allocate(new TensorShape(6, 3, 3, 3))));
        Assert.That(e!.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain("Upload"));
    }

    [Test]
    public void FakeDevice_APlanInHostMemory_RunsOnCopies_AndWritesTheGivenOutput()
    {
        var memory = new FakeDeviceMemory();
        var device = new StreamOrderedFake(memory) { Unsupported = true };
        using var engine = FakeDeviceEngine(device, new CpuBackend(1));
        var (x, w1, b1, _, _) = Inputs();
        using var rx = engine.Upload(x);
        using var rw = engine.Upload(w1);
        using var rb = engine.Upload(b1);
        using var y = engine.Allocate(new TensorShape(2, 6, 5, 5));

        var returned = engine.ForwardBiasActivation(Conv1, rx, rw, rb, Activation.Relu, output: y);

        Assert.That(returned, Is.SameAs(y));
        Assert.That(engine.LastPlan!.Backend, Is.EqualTo("cpu"));
        Assert.That(device.Enqueued + device.WaitedRuns, Is.EqualTo(0));
        var expected = Reference(Conv1, x, w1, b1);
        for (int i = 0; i < expected.Data.Length; i++) expected.Data[i] = Math.Max(expected.Data[i], 0);
        AssertMatchesReference(engine.Download(y), expected);
        Assert.That(engine.Download(engine.BackwardBias(y)).Data,
            Is.EqualTo(engine.BackwardBias(engine.Download(y)).Data).Within(1e-6), "bias gradient through the host on a device without a kernel");
    }

    [Test]
    public void FakeDevice_APlanInHostMemory_RunsOnCopiesThatNeverCarryTheConstantWeightsPromise()
    {
        // The copies are new every call: a backend keeping prepared weights per tensor must not keep them for a copy.
        var memory = new FakeDeviceMemory();
        var device = new StreamOrderedFake(memory) { Unsupported = true };
        var host = new FakeBackend("host", 2).With("a");
        using var engine = FakeDeviceEngine(device, host);
        var (x, w1, _, _, _) = Inputs();
        using var rx = engine.Upload(x);
        using var rw = engine.Upload(w1);
        using var y = engine.Allocate(new TensorShape(2, 6, 5, 5));

        engine.Forward(Conv1, rx, rw, output: y, constantWeights: true);

        Assert.That(host.RunCalls.GetValueOrDefault("a"), Is.EqualTo(1));
        Assert.That(host.RanWithConstantWeights, Is.False);
        AssertMatchesReference(engine.Download(y), Reference(Conv1, x, w1, null));
    }

    /// <summary>A device backend on a fake memory whose runs are "issued on a stream": it counts issued and waited runs.</summary>
    internal sealed class StreamOrderedFake(FakeDeviceMemory memory) : IConvBackend, IStreamOrderedBackend
    {
        public int Enqueued { get; private set; }
        public int WaitedRuns { get; private set; }
        public bool Unsupported { get; init; }
        public string Name => "fake-gpu";
        public IMemorySpace Memory => memory;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem problem) => Unsupported ? "switched off by the test" : null;

        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) =>
            [new ConvAlgorithm(Name, "reference", 0, 0, Deterministic: true)];

        public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            WaitedRuns++;
            Compute(problem, tensors);
        }

        public void Enqueue(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            Enqueued++;
            Compute(problem, tensors);
        }

        public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) => 1;

        void Compute(ConvProblem problem, ConvTensors t)
        {
            t.Validate(problem, MemoryKind.Device);
            static float[] Data(Tensor? x) => x is FakeDeviceTensor d ? d.Data : [];
            var r = ReferenceConv.Run(problem, Data(t.X), Data(t.W), Data(t.Y), Data(t.Bias));
            var target = Data(problem.Op switch { ConvOp.Forward => t.Y, ConvOp.BackwardData => t.X, _ => t.W });
            for (int i = 0; i < target.Length; i++) target[i] = t.Accumulate ? (float)(target[i] + r[i]) : (float)r[i];
        }

        public void Dispose() { }
    }
}

/// <summary>
/// The engine's use of an application stream, with a recording join instead of CUDA events: every device-resident
/// call (copies included) is bracketed by Enter (engine waits for the app's stream) and Leave (app's stream waits
/// for the engine), also when the call fails inside; UseStream(0) stops it.
/// </summary>
public class ApplicationStreamOrderingTests
{
    sealed class RecordingJoin : IStreamJoin
    {
        public List<string> Log { get; } = [];
        public void Enter(nint appStream) => Log.Add($"enter {appStream}");
        public void Leave(nint appStream) => Log.Add($"leave {appStream}");
        public void Dispose() => Log.Add("disposed");
    }

    [Test]
    public void EveryCallIsBracketedOnTheApplicationStream_UntilUseStream0()
    {
        var memory = new FakeDeviceMemory();
        var device = new FakeBackend("dev", 1, memory).With("a");
        using var engine = ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet([device], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));
        var join = new RecordingJoin();
        engine.UseStreamWith(42, () => join);

        var spec = new ConvSpec([3, 3], padBegin: [1]);
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 5, 5), 1));
        using var w = engine.Upload(HostTensor.Random(new TensorShape(3, 2, 3, 3), 2));
        using var y = engine.Forward(spec, x, w);
        engine.Download(y);
        Assert.That(join.Log, Is.EqualTo(Enumerable.Repeat(new[] { "enter 42", "leave 42" }, 4).SelectMany(p => p)),
            "upload, upload, forward, download: each entered and left once, in order");

        join.Log.Clear();
        engine.UseStreamWith(0, () => join);
        engine.Download(y);
        Assert.That(join.Log, Is.Empty, "UseStream(0): the engine's own stream, no joins");
        engine.Dispose();
        Assert.That(join.Log, Is.EqualTo(new[] { "disposed" }));
    }

    [Test]
    public void AFailingCall_StillLeavesTheApplicationStream()
    {
        var memory = new FakeDeviceMemory();
        var device = new FakeBackend("dev", 1, memory).With("boom", failsAllocation: true);
        using var engine = ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet([device], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));
        var join = new RecordingJoin();
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 5, 5), 1));
        using var w = engine.Upload(HostTensor.Random(new TensorShape(3, 2, 3, 3), 2));
        engine.UseStreamWith(7, () => join);

        Assert.Throws<InvalidOperationException>(() => engine.Forward(new ConvSpec([3, 3]), x, w), "no candidate can allocate its workspace");
        Assert.That(join.Log, Is.EqualTo(new[] { "enter 7", "leave 7" }));
        Assert.That(memory.Freed, Is.EqualTo(memory.Allocated - 2), "the output made for the failed call was freed; x and w remain");
    }
}

/// <summary>
/// The engine's other device-touching calls under <see cref="ConvEngine.UseStream"/>: Run on tensors already in device
/// memory (the application may have written them on its stream) and the HostTensor overloads' staged copies (pool blocks
/// the application's stream may still use) are entered and left on the application stream too.
/// </summary>
public class ApplicationStreamOrderingOfOtherCallsTests
{
    sealed class RecordingJoin : IStreamJoin
    {
        public List<string> Log { get; } = [];
        public void Enter(nint appStream) => Log.Add($"enter {appStream}");
        public void Leave(nint appStream) => Log.Add($"leave {appStream}");
        public void Dispose() { }
    }

    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    static ConvEngine Engine(FakeDeviceMemory memory) => ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
        new BackendSet([new FakeBackend("dev", 1, memory).With("a")], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));

    [Test]
    public void RunOnDeviceTensors_IsOrderedOnTheApplicationStream()
    {
        var memory = new FakeDeviceMemory();
        using var engine = Engine(memory);
        var hx = HostTensor.Random(new TensorShape(1, 2, 5, 5), 1);
        var hw = HostTensor.Random(new TensorShape(3, 2, 3, 3), 2);
        using var x = engine.Upload(hx);
        using var w = engine.Upload(hw);
        var problem = ConvProblem.Create(Spec, x.Shape, w.Shape);
        using var y = engine.Allocate(problem.YShape);
        var join = new RecordingJoin();
        engine.UseStreamWith(42, () => join);

        engine.Run(problem, new ConvTensors(x, w, y));

        Assert.That(join.Log, Is.EqualTo(new[] { "enter 42", "leave 42" }));
        var reference = ReferenceConv.Run(problem, hx.Data, hw.Data, [], []);
        engine.UseStreamWith(0, () => join);
        Assert.That(ErrorMetrics.Compare(engine.Download(y).Data, reference).MaxRelative, Is.LessThan(1e-5));
    }

    [Test]
    public void HostOverload_StagedOnTheDevice_IsOrderedOnTheApplicationStream()
    {
        var memory = new FakeDeviceMemory();
        using var engine = Engine(memory);
        var join = new RecordingJoin();
        engine.UseStreamWith(9, () => join);
        var x = HostTensor.Random(new TensorShape(1, 2, 5, 5), 1);
        var w = HostTensor.Random(new TensorShape(3, 2, 3, 3), 2);

        var y = engine.Forward(Spec, x, w);

        Assert.That(join.Log, Is.EqualTo(new[] { "enter 9", "leave 9" }));
        Assert.That(memory.CopiesIn, Is.EqualTo(2), "x and w were staged");
        var reference = ReferenceConv.Run(ConvProblem.Create(Spec, x.Shape, w.Shape), x.Data, w.Data, [], []);
        Assert.That(ErrorMetrics.Compare(y.Data, reference).MaxRelative, Is.LessThan(1e-5));
    }
}
