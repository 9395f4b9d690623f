using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// A residual block's end on device-resident tensors: <c>ForwardBiasActivation(…, output: skip, accumulate: true)</c> is
/// activation(skip + conv(x, w) + bias), written over skip. Judged against the float64 reference (max relative error
/// 1e-5, fp32; the ReLU is applied to the reference sum). The skip tensor holds values of both signs, so a dropped add,
/// or a ReLU applied before the add, is a mismatch.
/// </summary>
public class ResidualBlockTests
{
    const double Tolerance = 1e-5;

    static readonly (ConvSpec Spec, int[] X, int[] W)[] Layers =
    [
        (new ConvSpec([3, 3], padBegin: [1]), [2, 8, 9, 9], [8, 8, 3, 3]),                             // bottleneck's 3x3
        (new ConvSpec([1, 1]), [2, 16, 7, 7], [32, 16, 1, 1]),                                          // 1x1 expansion
        (new ConvSpec([3, 3], stride: [2], padBegin: [0, 1], padEnd: [1, 0], groups: 4), [1, 8, 9, 9], [8, 2, 3, 3]), // asymmetric, grouped
        (new ConvSpec([2, 2], stride: [2], transposed: true), [1, 6, 5, 5], [6, 4, 2, 2]),             // up-sampling (unfused path)
    ];

    /// <summary>activation(skip + conv(x, w) + bias) in float64 (x the layer input, as the engine takes it), </summary>
    static double[] Expected(ConvSpec spec, ConvProblem p, HostTensor x, HostTensor w, HostTensor b, HostTensor skip, Activation activation)
    {
        var conv = ReferenceConv.Run(p, spec.Transposed ? [] : x.Data, w.Data, spec.Transposed ? x.Data : [], b.Data);
        return [.. conv.Select((v, i) =>
        {
            double sum = v + skip.Data[i];
            return activation == Activation.Relu ? Math.Max(0, sum) : sum;
        })];
    }

    /// <summary>Runs each layer as a residual block's end on <paramref name="engine"/> and checks it.</summary>
    internal static void CheckEveryLayer(ConvEngine engine, Activation activation)
    {
        int seed = 100;
        foreach (var (spec, xDims, wDims) in Layers)
        {
            var p = ConvProblem.Create(spec, new TensorShape(xDims), new TensorShape(wDims));
            var x = HostTensor.Random(new TensorShape(xDims), seed++);
            var w = HostTensor.Random(new TensorShape(wDims), seed++);
            var b = HostTensor.Random(new TensorShape(p.BiasLength), seed++);
            var skip = HostTensor.Random(p.OutputShape, seed++);
            using var dx = engine.Upload(x);
            using var dw = engine.Upload(w);
            using var db = engine.Upload(b);
            using var y = engine.Upload(skip);

            var returned = engine.ForwardBiasActivation(spec, dx, dw, db, activation, output: y, accumulate: true);

            Assert.That(returned, Is.SameAs(y));
            var got = engine.Download(y).Data;
            var err = ErrorMetrics.Compare(got, Expected(spec, p, x, w, b, skip, activation));
            Assert.That(err.MaxRelative, Is.LessThan(Tolerance), $"{spec} {activation} on {engine.LastPlan}");
            // Negative sums became 0 under ReLU, and positive ones are kept: the test covers both sides.
            if (activation == Activation.Relu)
                Assert.That(got.Count(v => v == 0), Is.InRange(1, got.Length - 1), "ReLU clipped some, not all");
        }
    }

    [Test]
    public void OnTheCpuPath([Values(Activation.Relu, Activation.Identity)] Activation activation, [Values("cpu", "reference")] string backend)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = backend, PersistPlans = false });
        CheckEveryLayer(engine, activation);
    }

    [Test]
    public void OnAFakeDeviceThatCannotFuse_ReluRunsAfterTheAccumulatedSum()
    {
        var memory = new FakeDeviceMemory();
        var device = new DeviceResidentTests.StreamOrderedFake(memory);
        using var engine = ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet([device, new CpuBackend(1)], GpuConv.Planning.DeviceIdentity.ForCpu(), GpuConv.Planning.DeviceIdentity.ForCpu(), null));
        CheckEveryLayer(engine, Activation.Relu);
        Assert.That(device.Enqueued, Is.EqualTo(Layers.Length), "every layer ran on the fake device's stream");
    }

    [Test]
    public void AccumulateWithoutAnOutput_ThrowsNamingOutput_BeforeAnyWork()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var (spec, xDims, wDims) = Layers[0];
        using var x = engine.Upload(HostTensor.Random(new TensorShape(xDims), 1));
        using var w = engine.Upload(HostTensor.Random(new TensorShape(wDims), 2));
        using var b = engine.Upload(HostTensor.Random(new TensorShape(wDims[0]), 3));
        var e = Assert.Throws<ArgumentException>(() => engine.ForwardBiasActivation(spec, x, w, b, Activation.Relu, accumulate: true));
        Assert.That(e!.ParamName, Is.EqualTo("output"));
        Assert.That(engine.LastPlan, Is.Null, "nothing was planned or run");
    }
}

/// <summary>
/// The same residual-block ends on a GPU host (or the native fakes): the planner's choice (cuDNN's fused call with
/// z = y, alpha2 = 1) and the ptx backend (plain run with beta = 1, then the bias kernel's ReLU). 1e-5 as above;
/// cuDNN's transform-based algorithms 1e-4 would not be picked for these small layers' fused call.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ResidualBlockGpuTests
{
    [TestCase(null)]
    [TestCase("ptx")]
    public void EndsOfResidualBlocksMatchTheReference(string? backend)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false });
        Assert.That(engine.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        ResidualBlockTests.CheckEveryLayer(engine, Activation.Relu);
        ResidualBlockTests.CheckEveryLayer(engine, Activation.Identity);
    }
}
