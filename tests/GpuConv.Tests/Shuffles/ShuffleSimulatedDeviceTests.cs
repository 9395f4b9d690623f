using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Shuffles;

/// <summary>
/// PixelShuffle, PixelUnshuffle and ChannelShuffle on a device memory that launches kernels — the simulated GPU runtime, whose launches
/// run kernels/strided_copy.ptx in the PTX interpreter: bit for bit the CPU engine's, one strided_copy_f32 launch per
/// call, on the stream, with no copy to the host and no wait; and on a device memory that launches no kernels (a test
/// stand-in), through host copies, with the same bits.
/// </summary>
public class ShuffleSimulatedDeviceTests
{
    [TestCase(1, 3, 4, 5, 2)]
    [TestCase(2, 2, 3, 3, 3)]
    [TestCase(1, 1, 2, 2, 4)]
    [TestCase(2, 3, 2, 4, 1)]
    public void BothOpsMatchTheCpuEngineBitForBit_OneLaunchEach_WithoutDownloads(int n, int c, int h, int w, int r)
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new GpuConv.Backends.Ptx.PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = ShuffleCpuEngineTests.Random(new TensorShape(n, c * r * r, h, w), new Random(n + c + h + w + r));
        using var dx = device.Upload(x);
        rt.Calls.Clear();
        using var y = device.PixelShuffle(dx, r);
        using var back = device.PixelUnshuffle(y, r);
        using var mixed = device.ChannelShuffle(dx, r);
        Assert.That(rt.Calls.Where(call => call.StartsWith("launch", StringComparison.Ordinal)),
            Is.EqualTo(Enumerable.Repeat("launch strided_copy_f32", 3)), "one copy per call");
        Assert.That(rt.CopiesToHost, Is.Zero, "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        var cy = cpu.PixelShuffle(x, r);
        Assert.That(Bits(device.Download(y).Data), Is.EqualTo(Bits(cpu.Download(cy).Data)), "shuffle");
        Assert.That(Bits(device.Download(back).Data), Is.EqualTo(Bits(x.Data)), "unshuffle undoes it");
        Assert.That(Bits(device.Download(mixed).Data), Is.EqualTo(Bits(cpu.Download(cpu.ChannelShuffle(x, r)).Data)), "channel shuffle");
    }

    /// <summary>A shuffle writes only its own output: memory after it (another allocation) keeps its bits.</summary>
    [Test]
    public void ACopyWritesOnlyItsOutput()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new GpuConv.Backends.Ptx.PtxConvBackend(rt));
        var rng = new Random(5);
        var x = ShuffleCpuEngineTests.Random(new TensorShape(1, 8, 3, 2), rng);
        var held = ShuffleCpuEngineTests.Random(new TensorShape(1, 2, 6, 4), rng);
        using var output = device.Upload(held);
        using var after = device.Upload(held);
        device.PixelShuffle(device.Upload(x), 2, output);
        Assert.That(Bits(device.Download(output).Data), Is.EqualTo(Bits(GpuConv.Reference.ReferenceShuffles.PixelShuffle(x.Shape, x.Data, 2))));
        Assert.That(Bits(device.Download(after).Data), Is.EqualTo(Bits(held.Data)), "the next allocation is untouched");
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsShufflesThroughHostCopies()
    {
        var memory = new GpuConv.Tests.Planning.FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = ShuffleCpuEngineTests.Random(new TensorShape(2, 18, 3, 4), new Random(9));
        var y = engine.PixelShuffle(engine.Upload(x), 3);
        Assert.That(Bits(engine.Download(y).Data), Is.EqualTo(Bits(cpu.Download(cpu.PixelShuffle(x, 3)).Data)), "shuffle");
        Assert.That(Bits(engine.Download(engine.PixelUnshuffle(y, 3)).Data), Is.EqualTo(Bits(x.Data)), "unshuffle");
        Assert.That(Bits(engine.Download(engine.ChannelShuffle(engine.Upload(x), 6)).Data), Is.EqualTo(Bits(cpu.Download(cpu.ChannelShuffle(x, 6)).Data)), "channel shuffle");
    }

    static uint[] Bits(float[] v) => ShuffleTorchCasesTests.Bits(v);
}
