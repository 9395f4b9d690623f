using GpuConv.Backends.Ptx;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// The engine's upsampling on a device memory that launches kernels — the simulated GPU runtime, whose launches run
/// kernels/upsample.ptx in the PTX interpreter — against the CPU engine bit for bit: the device path of
/// ConvEngine.Upsampling (pointers, argument order, the stream) without a GPU; no copy to the host, no wait; a given
/// output written in place. And a device memory without kernels still works through host copies.
/// </summary>
public class UpsampleSimulatedDeviceTests
{
    static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];

    static readonly UpsampleSpec[] Specs =
    [
        UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0, 2.0]),             // FPN / YOLO neck
        UpsampleSpec.ToSize(UpsampleMode.Nearest, [4, 13]),                 // downsampling one side
        UpsampleSpec.ByScale(UpsampleMode.NearestExact, [1.5, 0.7]),
        UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0]),            // U-Net / segmentation decoders
        UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0], alignCorners: true),
        UpsampleSpec.ToSize(UpsampleMode.Bilinear, [5, 16], alignCorners: false),
    ];

    [Test]
    public void UpsampleAndItsGradientMatchTheCpuEngineBitForBit_OnTheStream_WithoutDownloads()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(2, 3, 6, 7);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 5));
        using var dx = device.Upload(x);
        var cx = cpu.Upload(x);
        var pairs = new List<(string, Tensor, Tensor)>();
        foreach (var spec in Specs)
        {
            int copies = rt.CopiesToHost, waits = rt.Synchronizations; // the downloads of the previous spec's checks
            var outShape = spec.OutputShape(shape);
            using var given = device.Allocate(outShape);
            var y = device.Upsample(spec, dx, given);
            Assert.That(y, Is.SameAs(given), $"{spec}: into the given output");
            pairs.Add(($"upsample {spec}", device.Upsample(spec, dx), cpu.Upsample(spec, cx)));
            pairs.Add(($"upsample into output {spec}", y, cpu.Upsample(spec, cx)));
            var dy = new HostTensor(outShape, ElementwiseKernelTests.Values(outShape.ElementCountInt, 9));
            pairs.Add(($"backward {spec}", device.UpsampleBackward(spec, device.Upload(dy), shape), cpu.UpsampleBackward(spec, cpu.Upload(dy), shape)));
            Assert.That(rt.CopiesToHost, Is.EqualTo(copies), $"{spec}: nothing went through the host");
            Assert.That(rt.Synchronizations, Is.EqualTo(waits), $"{spec}: no call waited for the device");
            Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)),
                Is.EqualTo(new[] { "launch upsample_f32", "launch upsample_f32", "launch upsample_backward_f32" }), $"{spec}: one kernel per call");
            foreach (var (what, d, c) in pairs)
                Assert.That(Bits(device.Download(d).Data), Is.EqualTo(Bits(cpu.Download(c).Data)), what);
            pairs.Clear();
            rt.Calls.Clear();
        }
        var trilinear = UpsampleSpec.ByScale(UpsampleMode.Trilinear, [2.0, 1.5, 0.5]);
        var shape3 = new TensorShape(1, 2, 3, 4, 6);
        var x3 = HostTensor.Random(shape3, 8);
        rt.Calls.Clear();
        var y3 = device.Upsample(trilinear, device.Upload(x3));
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.EqualTo(new[] { "launch upsample_f32" }));
        Assert.That(Bits(device.Download(y3).Data), Is.EqualTo(Bits(cpu.Download(cpu.Upsample(trilinear, x3)).Data)), "trilinear");
        var dy3 = HostTensor.Random(y3.Shape, 9);
        rt.Calls.Clear();
        var dx3 = device.UpsampleBackward(trilinear, device.Upload(dy3), shape3);
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.EqualTo(new[] { "launch upsample_backward_f32" }));
        Assert.That(Bits(device.Download(dx3).Data), Is.EqualTo(Bits(cpu.Download(cpu.UpsampleBackward(trilinear, dy3, shape3)).Data)), "trilinear backward");
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsGoesThroughHostCopies()
    {
        var memory = new FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = HostTensor.Random(new TensorShape(1, 2, 5, 4), 4);
        using var t = engine.Upload(x);
        foreach (var spec in Specs)
        {
            Assert.That(Bits(engine.Download(engine.Upsample(spec, t)).Data), Is.EqualTo(Bits(cpu.Download(cpu.Upsample(spec, x)).Data)), $"{spec}");
            var dy = HostTensor.Random(spec.OutputShape(x.Shape), 5);
            using var ddy = engine.Upload(dy);
            Assert.That(Bits(engine.Download(engine.UpsampleBackward(spec, ddy, x.Shape)).Data),
                Is.EqualTo(Bits(cpu.Download(cpu.UpsampleBackward(spec, dy, x.Shape)).Data)), $"backward {spec}");
        }
    }
}
