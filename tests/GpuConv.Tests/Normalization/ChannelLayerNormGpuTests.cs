using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// On a GPU host: the channels-first LayerNorm forward and backward on a device engine (kernels/layernorm.ptx through
/// cuLaunchKernel on the engine's stream) against the CPU engine, bit for bit: every rank, C = 1, with and without
/// weight/bias. Skipped with discovery's reason when no GPU is usable. Under the native fakes the kernels run in the
/// PTX interpreter, so there this proves the launches (arguments, pointers, stream order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ChannelLayerNormGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Shapes() => ChannelLayerNormKernelTests.Shapes();

    [TestCaseSource(nameof(Shapes))]
    public void ForwardAndBackwardMatchTheCpuEngine(int[] dims)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var shape = new TensorShape(dims);
        int c = dims[1];
        var ch = new TensorShape(c);
        var spec = new LayerNormSpec(1e-6);
        var x = new HostTensor(shape, BatchNormTestData.Values(shape, dims.Sum() + 90));
        var dy = new HostTensor(shape, BatchNormTestData.Values(shape, dims.Sum() + 91, 0.5f, 1f));
        var weight = new HostTensor(ch, BatchNormTestData.Channel(c, 92, 1f, 0.5f));
        var bias = new HostTensor(ch, BatchNormTestData.Channel(c, 93, 0f, 0.5f));
        using Tensor gx = gpu.Upload(x), gdy = gpu.Upload(dy), gw = gpu.Upload(weight), gb = gpu.Upload(bias);
        var f = gpu.ChannelLayerNorm(spec, gx, gw, gb);
        var cf = cpu.ChannelLayerNorm(spec, x, weight, bias);
        var g = gpu.ChannelLayerNormBackward(spec, gdy, gx, f.Mean, f.Rstd, gw);
        var cg = cpu.ChannelLayerNormBackward(spec, dy, x, cf.Mean, cf.Rstd, weight);
        var n = gpu.ChannelLayerNorm(spec, gx);
        var cn = cpu.ChannelLayerNorm(spec, x);
        var gn = gpu.ChannelLayerNormBackward(spec, gdy, gx, n.Mean, n.Rstd, null);
        var cgn = cpu.ChannelLayerNormBackward(spec, dy, x, cn.Mean, cn.Rstd, null);
        foreach (var (what, d, h) in new (string, Tensor, Tensor)[]
        {
            ("y", f.Output, cf.Output), ("mean", f.Mean, cf.Mean), ("rstd", f.Rstd, cf.Rstd),
            ("dx", g.Dx, cg.Dx), ("dweight", g.DWeight!, cg.DWeight!), ("dbias", g.DBias!, cg.DBias!),
            ("y no affine", n.Output, cn.Output), ("dx no affine", gn.Dx, cgn.Dx),
        })
            Assert.That(Bits(gpu.Download(d).Data), Is.EqualTo(Bits(((HostTensor)h).Data)), what);
        foreach (var d in new[] { f.Output, f.Mean, f.Rstd, g.Dx, g.DWeight!, g.DBias!, n.Output, n.Mean, n.Rstd, gn.Dx })
            ((IDisposable)d).Dispose();
    }
}
