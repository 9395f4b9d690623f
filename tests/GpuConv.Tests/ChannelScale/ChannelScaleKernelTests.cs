using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Pooling;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.ChannelScale;

/// <summary>
/// kernels/channel_scale.ptx through the PTX interpreter against CpuChannelScale, bit for bit: the scale (in place too)
/// and the per-plane dot products, planes of 1 to 1000 elements (fewer and more than the block's threads), random
/// values mixed with NaN, ±Inf, ±0 and subnormals and finite ones alone, small launches so the grid-stride loops run several rounds.
/// </summary>
public class ChannelScaleKernelTests
{
    /// <summary>
    /// Special values make most planes' dot products NaN or ±Inf whatever the order, so the finite case (specials
    /// replaced by ordinary values) is the one that pins the order and the fused multiply-adds.
    /// </summary>
    static float[] Values(int n, int seed, bool finite) =>
        [.. ElementwiseKernelTests.Values(n, seed).Select((v, i) => finite && !(float.IsNormal(v) && Math.Abs(v) < 100) ? (i % 7 - 3) * 0.37f + 0.01f : v)];

    [TestCase(1, 1, false)]
    [TestCase(3, 49, false)]
    [TestCase(5, 300, false)]
    [TestCase(2, 1000, false)]
    [TestCase(7, 7, false)]
    [TestCase(3, 49, true)]
    [TestCase(5, 300, true)]
    [TestCase(2, 1000, true)]
    public void ScaleAndDotsMatchTheCpuDefinitionBitForBit(int planes, int spatial, bool finite)
    {
        int n = planes * spatial;
        var x = Values(n, n, finite);
        var dy = Values(n, n + 1, finite);
        var scale = ElementwiseKernelTests.Values(planes, 3);
        var expectedY = new float[n];
        CpuChannelScale.Scale(x, scale, expectedY, planes, spatial);
        var expectedDot = new float[planes];
        CpuChannelScale.PlaneDots(dy, x, expectedDot, planes, spatial);

        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), pdy = mem.Upload(dy), ps = mem.Upload(scale), py = mem.AllocatePoisoned(n), pdot = mem.AllocatePoisoned(planes);
        var interpreter = new PtxInterpreter(mem);
        interpreter.Launch(ShippedKernels.Get(ChannelScaleKernels.Module, ChannelScaleKernels.ScaleEntry), new PtxDim3(2), new PtxDim3(32),
            ChannelScaleKernels.ScalePack(py, px, ps, planes, spatial).ToObjects());
        Assert.That(PoolKernelTests.Bits(mem.Download(py, n)), Is.EqualTo(PoolKernelTests.Bits(expectedY)), "scale");
        // Fewer blocks than planes: the plane loop runs more than once per block.
        interpreter.Launch(ShippedKernels.Get(ChannelScaleKernels.Module, ChannelScaleKernels.DotEntry), new PtxDim3(2), new PtxDim3(CpuChannelScale.DotThreads),
            ChannelScaleKernels.DotPack(pdot, pdy, px, planes, spatial).ToObjects());
        Assert.That(PoolKernelTests.Bits(mem.Download(pdot, planes)), Is.EqualTo(PoolKernelTests.Bits(expectedDot)), "dot");
        // In place: out = x.
        interpreter.Launch(ShippedKernels.Get(ChannelScaleKernels.Module, ChannelScaleKernels.ScaleEntry), new PtxDim3(1), new PtxDim3(32),
            ChannelScaleKernels.ScalePack(px, px, ps, planes, spatial).ToObjects());
        Assert.That(PoolKernelTests.Bits(mem.Download(px, n)), Is.EqualTo(PoolKernelTests.Bits(expectedY)), "scale in place");
    }

    /// <summary>Both entries as the engine launches them, for KernelLaunchSignatureTests.</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, GpuConv.Tensors.TensorShape shape)
    {
        long planes = (long)shape.Dims[0] * shape.Dims[1];
        ChannelScaleKernels.LaunchScale(rt, buffer, buffer, buffer, planes, shape.ElementCount / planes);
        ChannelScaleKernels.LaunchDot(rt, buffer, buffer, buffer, planes, shape.ElementCount / planes);
    }
}
