using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Shuffles;

/// <summary>
/// On a GPU host: PixelShuffle, PixelUnshuffle and ChannelShuffle on a device engine (kernels/strided_copy.ptx through cuLaunchKernel on
/// the engine's stream) against the CPU engine bit for bit, and an ESPCN-style tail kept on the device (a convolution to
/// C·r² channels, then the shuffle). Skipped with discovery's reason when no GPU is usable. Under the native fakes the
/// kernel runs in the PTX interpreter, so there this proves the launches (arguments, pointers, stream order), not the device.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ShuffleGpuTests : GpuAgainstCpuEngines
{
    [TestCase(1, 3, 5, 4, 2)]
    [TestCase(2, 4, 6, 3, 3)]
    [TestCase(1, 2, 4, 4, 4)]
    public void BothOpsMatchTheCpuEngine(int n, int c, int h, int w, int r)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var x = ShuffleCpuEngineTests.Random(new TensorShape(n, c * r * r, h, w), new Random(400 + r));
        using var dx = gpu.Upload(x);
        using var y = gpu.PixelShuffle(dx, r);
        using var back = gpu.PixelUnshuffle(y, r);
        Assert.That(Bits(gpu.Download(y).Data), Is.EqualTo(Bits(cpu.Download(cpu.PixelShuffle(x, r)).Data)), "shuffle");
        Assert.That(Bits(gpu.Download(back).Data), Is.EqualTo(Bits(x.Data)), "unshuffle undoes it");
        using var mixed = gpu.ChannelShuffle(dx, r);
        Assert.That(Bits(gpu.Download(mixed).Data), Is.EqualTo(Bits(cpu.Download(cpu.ChannelShuffle(x, r)).Data)), "channel shuffle");
    }

    [Test]
    public void AnEspcnTailStaysOnTheDevice()
    {
        var spec = new GpuConv.Conv.ConvSpec(kernel: [3, 3], padBegin: [1]);
        var rng = new Random(41);
        var x = ShuffleCpuEngineTests.Random(new TensorShape(1, 4, 6, 5), rng);
        var w = ShuffleCpuEngineTests.Random(new TensorShape(9, 4, 3, 3), rng);
        using var gx = gpu.Upload(x);
        using var gw = gpu.Upload(w);
        using var features = gpu.Forward(spec, gx, gw);
        using var image = gpu.PixelShuffle(features, 3);
        var expected = cpu.Download(cpu.PixelShuffle(gpu.Download(features), 3));
        Assert.That(image.Shape, Is.EqualTo(new TensorShape(1, 1, 18, 15)));
        Assert.That(Bits(gpu.Download(image).Data), Is.EqualTo(Bits(expected.Data)));
    }
}
