using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// The engine's pad and the convolutions with a padding mode on a device memory that launches kernels — the simulated
/// GPU runtime, whose launches run kernels/pad.ptx (and the PTX backend's convolution kernels) in the PTX interpreter:
/// Pad and PadBackward against the CPU engine bit for bit, on the stream, with no copy to the host and no wait; each
/// mode's forward, backward-data (with accumulate) and backward-filter against the float64 reference, with the pad's
/// kernels in the launch list where the engine must run them.
/// </summary>
public class PadSimulatedDeviceTests
{
    static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];

    [Test]
    public void PadAndItsGradientMatchTheCpuEngineBitForBit_OnTheStream_WithoutDownloads()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(2, 3, 5, 7);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 5));
        using var dx = device.Upload(x);
        var cx = cpu.Upload(x);
        var specs = new[]
        {
            new PadSpec(PadMode.Reflect, [2, 3], [4, 1]),
            new PadSpec(PadMode.Replicate, [5, 0], [1, 6]),
            new PadSpec(PadMode.Circular, [5, 7], [2, 0]),
            new PadSpec(PadMode.Constant, [1, 2], [0, 3], -2.5f),
        };
        var pairs = new List<(string, Tensor, Tensor)>();
        foreach (var spec in specs)
        {
            pairs.Add(($"pad {spec}", device.Pad(spec, dx), cpu.Pad(spec, cx)));
            var dyShape = spec.OutputShape(shape);
            var dy = new HostTensor(dyShape, ElementwiseKernelTests.Values(dyShape.ElementCountInt, 9));
            var held = HostTensor.Random(shape, 4);
            var dheld = device.Upload(held);
            var cheld = cpu.Upload(held);
            pairs.Add(($"backward {spec}", device.PadBackward(spec, device.Upload(dy), shape), cpu.PadBackward(spec, cpu.Upload(dy), shape)));
            pairs.Add(($"backward accumulate {spec}", device.PadBackward(spec, device.Upload(dy), shape, dheld, accumulate: true),
                cpu.PadBackward(spec, cpu.Upload(dy), shape, cheld, accumulate: true)));
        }
        Assert.That(rt.CopiesToHost, Is.Zero, "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)).Distinct(), Is.EquivalentTo(new[] { "launch pad_f32", "launch pad_backward_f32" }));
        foreach (var (what, d, c) in pairs)
            Assert.That(Bits(device.Download(d).Data), Is.EqualTo(Bits(cpu.Download(c).Data)), what);
    }

    [TestCase(PaddingMode.Reflect, 2)]
    [TestCase(PaddingMode.Replicate, 1)]
    [TestCase(PaddingMode.Circular, 3)]
    [TestCase(PaddingMode.Reflect, 3)]
    public void ConvolutionsWithAPaddingModeRunThePadKernelsAndMatchTheReference(PaddingMode mode, int rank)
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        for (int seed = 0; seed < 2; seed++)
        {
            var p = RandomPaddedProblems.Create(seed + 900, mode, rank);
            var x = HostTensor.Random(p.XShape, seed + 1);
            var w = HostTensor.Random(p.WShape, seed + 2);
            var dy = HostTensor.Random(p.YShape, seed + 3);
            var bias = HostTensor.Random(new TensorShape(p.K), seed + 4);
            var held = HostTensor.Random(p.XShape, seed + 5);
            using var gx = device.Upload(x);
            using var gw = device.Upload(w);
            using var gdy = device.Upload(dy);
            using var gb = device.Upload(bias);
            using var gheld = device.Upload(held);
            rt.Calls.Clear();
            using var y = device.Forward(p.Spec, gx, gw, gb);
            Assert.That(rt.Calls.Count(c => c == "launch pad_f32"), Is.EqualTo(1), $"{p}: forward pads once");
            rt.Calls.Clear();
            device.BackwardData(p.Spec, gdy, gw, p.XShape, output: gheld, accumulate: true);
            Assert.That(rt.Calls.Count(c => c == "launch pad_backward_f32"), Is.EqualTo(1), $"{p}: backward-data folds once");
            using var dw = device.BackwardFilter(p.Spec, gx, gdy, p.WShape);

            Near(device.Download(y).Data, ReferenceConv.Forward(p, x.Data, w.Data, bias.Data), $"{p} forward");
            var dxRef = ReferenceConv.BackwardData(p.WithOp(ConvOp.BackwardData), dy.Data, w.Data);
            Near(device.Download(gheld).Data, [.. dxRef.Select((v, i) => v + held.Data[i])], $"{p} backward-data accumulate");
            Near(device.Download(dw).Data, ReferenceConv.BackwardFilter(p.WithOp(ConvOp.BackwardFilter), x.Data, dy.Data), $"{p} backward-filter");
        }
    }

    static void Near(float[] actual, double[] expected, string what)
    {
        var e = ErrorMetrics.Compare(actual, expected);
        Assert.That(e.MaxRelative, Is.LessThan(2e-5), $"{what}: {e}");
    }

    /// <summary>
    /// A device memory that launches no kernels (a stand-in; no GPU memory is one) pads through host copies: each mode's
    /// pad, its gradient and the accumulating gradient bit for bit the CPU engine's.
    /// </summary>
    [Test]
    public void ADeviceMemoryWithoutKernelsPadsThroughHostCopies()
    {
        var memory = new GpuConv.Tests.Planning.FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(1, 2, 4, 6);
        var x = HostTensor.Random(shape, 11);
        using var dx = engine.Upload(x);
        foreach (var spec in new[]
        {
            new PadSpec(PadMode.Reflect, [3, 2], [1, 5]),
            new PadSpec(PadMode.Replicate, [0, 4], [2, 1]),
            new PadSpec(PadMode.Circular, [4, 1], [2, 6]),
            new PadSpec(PadMode.Constant, [1, 0], [2, 3], 1.5f),
        })
        {
            Assert.That(Bits(engine.Download(engine.Pad(spec, dx)).Data), Is.EqualTo(Bits(cpu.Download(cpu.Pad(spec, x)).Data)), $"pad {spec}");
            var dy = HostTensor.Random(spec.OutputShape(shape), 12);
            using var ddy = engine.Upload(dy);
            Assert.That(Bits(engine.Download(engine.PadBackward(spec, ddy, shape)).Data),
                Is.EqualTo(Bits(cpu.Download(cpu.PadBackward(spec, dy, shape)).Data)), $"backward {spec}");
            var held = HostTensor.Random(shape, 13);
            using var dheld = engine.Upload(held);
            var cheld = cpu.Upload(held);
            engine.PadBackward(spec, ddy, shape, dheld, accumulate: true);
            cpu.PadBackward(spec, dy, shape, cheld, accumulate: true);
            Assert.That(Bits(engine.Download(dheld).Data), Is.EqualTo(Bits(cpu.Download(cheld).Data)), $"backward accumulate {spec}");
        }
    }
}
