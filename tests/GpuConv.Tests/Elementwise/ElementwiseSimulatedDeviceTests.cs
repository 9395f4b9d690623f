using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Elementwise;

/// <summary>
/// The engine's element-wise calls on a device memory that launches kernels — the simulated GPU runtime, whose
/// launches run kernels/elementwise.ptx in the PTX interpreter — against the CPU engine bit for bit: the device path of
/// ConvEngine.Elementwise (pointers, argument order, in place) without a GPU. Also: ReLU left unfused by the planned
/// backend runs as the relu_f32 kernel with no copy to the host, and a device memory without kernels still works
/// through host copies.
/// </summary>
public class ElementwiseSimulatedDeviceTests
{
    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    [Test]
    public void EveryOpMatchesTheCpuEngineBitForBit_OnTheStream_WithoutDownloads()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        Assert.That(device.Memory, Is.SameAs(rt));
        var shape = new TensorShape(2, 3, 7, 5); // 210 elements: not a multiple of 8 or of 256
        var a = new HostTensor(shape, ElementwiseKernelTests.Values(210, 1));
        var b = new HostTensor(shape, ElementwiseKernelTests.Values(210, 2));
        using var da = device.Upload(a);
        using var db = device.Upload(b);
        using var ca = cpu.Upload(a);
        using var cb = cpu.Upload(b);

        var results = new (string Op, Tensor Device, Tensor Cpu)[]
        {
            ("Add", device.Add(da, db), cpu.Add(ca, cb)),
            ("Relu", device.Relu(da), cpu.Relu(ca)),
            ("ReluBackward", device.ReluBackward(da, db), cpu.ReluBackward(ca, cb)),
            ("Relu6", device.Relu6(da), cpu.Relu6(ca)),
            ("Relu6Backward", device.Relu6Backward(da, db), cpu.Relu6Backward(ca, cb)),
            ("Silu", device.Silu(da), cpu.Silu(ca)),
            ("SiluBackward", device.SiluBackward(da, db), cpu.SiluBackward(ca, cb)),
            ("Scale", device.Scale(da, -1.5f), cpu.Scale(ca, -1.5f)),
            ("Gelu", device.Gelu(da), cpu.Gelu(ca)),
            ("GeluBackward", device.GeluBackward(da, db), cpu.GeluBackward(ca, cb)),
            ("Gelu tanh", device.Gelu(da, GeluApproximation.Tanh), cpu.Gelu(ca, GeluApproximation.Tanh)),
            ("GeluBackward tanh", device.GeluBackward(da, db, GeluApproximation.Tanh), cpu.GeluBackward(ca, cb, GeluApproximation.Tanh)),
        };
        using var dy = device.Upload(b);
        using var cy = cpu.Upload(b);
        device.AddScaled(dy, 0.25f, da);
        cpu.AddScaled(cy, 0.25f, ca);
        Assert.That(rt.CopiesToHost, Is.Zero, "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        Assert.That(rt.Calls, Is.EqualTo(new[] { "launch add_f32", "launch relu_f32", "launch relu_backward_f32", "launch relu6_f32", "launch relu6_backward_f32", "launch silu_f32", "launch silu_backward_f32", "launch scale_f32", "launch gelu_f32", "launch gelu_backward_f32", "launch gelu_tanh_f32", "launch gelu_tanh_backward_f32", "launch add_scaled_f32" }));

        foreach (var (op, d, c) in results)
            Assert.That(Bits(device.Download(d).Data), Is.EqualTo(Bits(cpu.Download(c).Data)), op);
        Assert.That(Bits(device.Download(dy).Data), Is.EqualTo(Bits(cpu.Download(cy).Data)), "AddScaled");

        // In place on the device: the output is an input.
        device.Relu(da, output: da);
        device.Add(da, db, output: db);
        Assert.That(Bits(device.Download(db).Data), Is.EqualTo(Bits(cpu.Download(cpu.Add(cpu.Relu(ca), cb)).Data)), "relu_(a); b = a + b");
    }

    /// <summary>A backend on the simulated device that neither fuses bias + ReLU nor is the ptx backend (as cudnn alone, without cuBLAS).</summary>
    sealed class NonFusingBackend(PtxConvBackend inner) : IConvBackend
    {
        public string Name => "nonfusing";
        public IMemorySpace Memory => inner.Memory;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem problem) => inner.WhyUnsupported(problem);
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) =>
            [.. inner.GetAlgorithms(problem, precision).Take(1).Select(a => a with { Backend = Name })];
        public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) =>
            inner.Run(problem, inner.GetAlgorithms(problem, ConvPrecision.Strict)[0], tensors);
        public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) => 1;
        public void Dispose() { }
    }

    [TestCase(false, Activation.Relu)]
    [TestCase(true, Activation.Relu)]
    [TestCase(false, Activation.Relu6)]
    [TestCase(true, Activation.Relu6)]
    [TestCase(false, Activation.Silu)]
    [TestCase(true, Activation.Silu)]
    [TestCase(false, Activation.Hardswish)]
    [TestCase(true, Activation.Hardswish)]
    [TestCase(false, Activation.Sigmoid)]
    [TestCase(true, Activation.Hardsigmoid)]
    [TestCase(false, Activation.Gelu)]
    [TestCase(true, Activation.GeluTanh)]
    public void UnfusedActivationRunsTheKernelOnTheDevice_NoDownload(bool transposed, Activation activation)
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = EngineOnBackends.Open(new NonFusingBackend(new PtxConvBackend(rt)));
        var spec = transposed ? new ConvSpec([3, 3], stride: [2, 2], padBegin: [1], transposed: true) : new ConvSpec([3, 3], padBegin: [1]);
        var x = HostTensor.Random(new TensorShape(2, 4, 6, 6), 1);
        var w = HostTensor.Random(transposed ? new TensorShape(4, 5, 3, 3) : new TensorShape(5, 4, 3, 3), 2);
        var bias = HostTensor.Random(new TensorShape(5), 3);
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var db = engine.Upload(bias);
        int downloadsBefore = rt.CopiesToHost;
        using var y = engine.ForwardBiasActivation(spec, dx, dw, db, activation);
        Assert.That(engine.LastPlan!.Backend, Is.EqualTo("nonfusing"));
        Assert.That(rt.CopiesToHost, Is.EqualTo(downloadsBefore), "the activation ran on the device, not through a host copy");
        Assert.That(rt.Calls, Has.Member("launch " + ElementwiseKernels.Entry(ConvEngine.ActivationOp(activation))));

        // The float64 reference backend (rounded once to fp32 at the end), ReLU applied by the host overload.
        using var reference = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        var expected = reference.ForwardBiasActivation(spec, x, w, bias, activation).Data;
        var got = engine.Download(y).Data;
        Assert.That(ErrorMetrics.Compare(got, expected.Select(v => (double)v).ToArray()).MaxRelative, Is.LessThan(1e-5));
        if (activation is Activation.Silu or Activation.Hardswish or Activation.Gelu or Activation.GeluTanh)
            Assert.That(got.Count(v => v < 0), Is.InRange(1, got.Length - 1), $"{activation}'s negative dip: some outputs below 0, not all");
        else if (activation is Activation.Sigmoid or Activation.Hardsigmoid)
            Assert.That(got.Count(v => v > 0.5f), Is.InRange(1, got.Length - 1), $"{activation}: outputs on both sides of 0.5");
        else
            Assert.That(got.Count(v => v == 0), Is.InRange(1, got.Length - 1), "the activation clipped some, not all");
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsGoesThroughHostCopies()
    {
        // Only the stand-in memories of tests are like this: a GPU engine's memory launches kernels.
        var memory = new FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        var x = HostTensor.Random(new TensorShape(3, 11), 4);
        using var t = engine.Upload(x);
        int before = memory.CopiesOut;
        engine.Relu(t, output: t);
        Assert.That(memory.CopiesOut, Is.EqualTo(before + 1));
        Assert.That(engine.Download(t).Data, Is.EqualTo(x.Data.Select(v => v < 0 ? 0f : v).ToArray()));
        using var u = engine.Upload(x);
        engine.AddScaled(u, 2f, t);
        Assert.That(engine.Download(u).Data, Is.EqualTo(x.Data.Select(v => MathF.FusedMultiplyAdd(2f, v < 0 ? 0f : v, v)).ToArray()));
    }
}
