using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.ChannelScale;

/// <summary>
/// On a GPU host: ScaleChannels and its gradient on a device engine (kernels/channel_scale.ptx on the engine's stream)
/// against the CPU engine, bit for bit (NaN as NaN), planes smaller and larger than a block, in place. Skipped with
/// discovery's reason when no GPU is usable; under the native fakes the kernels run in the PTX interpreter.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ChannelScaleGpuTests : GpuAgainstCpuEngines
{
    [TestCase(new[] { 2, 3, 7, 7 })]
    [TestCase(new[] { 1, 4, 1000 })]
    [TestCase(new[] { 3, 5 })]
    public void ForwardAndBackwardMatchTheCpuEngine(int[] dims)
    {
        var shape = new TensorShape(dims);
        var scaleShape = new TensorShape([dims[0], dims[1], .. Enumerable.Repeat(1, dims.Length - 2)]);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 1));
        var s = new HostTensor(scaleShape, ElementwiseKernelTests.Values(scaleShape.ElementCountInt, 2));
        var dy = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 3));
        using var gx = gpu.Upload(x);
        using var gs = gpu.Upload(s);
        using var gdy = gpu.Upload(dy);
        using (var gy = gpu.ScaleChannels(gx, gs))
            Assert.That(Bits(gpu.Download(gy).Data), Is.EqualTo(Bits(cpu.Download(cpu.ScaleChannels(x, s)).Data)), "y");
        var expected = cpu.ScaleChannelsBackward(dy, x, s);
        var g = gpu.ScaleChannelsBackward(gdy, gx, gs, dx: gdy); // dx over dy, in place
        Assert.That(Bits(gpu.Download(g.Dx).Data), Is.EqualTo(Bits(cpu.Download(expected.Dx).Data)), "dx");
        using var ds = g.DScale;
        Assert.That(Bits(gpu.Download(ds).Data), Is.EqualTo(Bits(cpu.Download(expected.DScale).Data)), "dscale");
    }
}
