using GpuConv.Backends.Ptx;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Pooling;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The engine's channels-first LayerNorm on a device memory that launches kernels — the simulated GPU runtime, whose
/// launches run kernels/layernorm.ptx in the PTX interpreter — against the CPU engine bit for bit: the device path of
/// ConvEngine.ChannelLayerNorm (pointers, argument order, optional tensors as 0, the stream) without a GPU; no copy to
/// the host, no wait. And a device memory without kernels still works through host copies.
/// </summary>
public class ChannelLayerNormSimulatedDeviceTests
{
    [Test]
    public void ForwardAndBackwardMatchTheCpuEngineBitForBit_OnTheStream_WithoutDownloads()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(2, 6, 9, 7);
        var ch = new TensorShape(6);
        var spec = new LayerNormSpec(1e-3);
        HostTensor H(TensorShape s, float[] v) => new(s, v);
        var x = H(shape, BatchNormTestData.Values(shape, 70));
        var dy = H(shape, BatchNormTestData.Values(shape, 71, 0.5f, 1f));
        var weight = H(ch, BatchNormTestData.Channel(6, 72, 1f, 0.5f));
        var bias = H(ch, BatchNormTestData.Channel(6, 73, 0f, 0.5f));
        using Tensor dx = device.Upload(x), ddy = device.Upload(dy), dw = device.Upload(weight), db = device.Upload(bias);
        int copiesBefore = rt.CopiesToHost;

        var df = device.ChannelLayerNorm(spec, dx, dw, db);
        var cf = cpu.ChannelLayerNorm(spec, x, weight, bias);
        var dn = device.ChannelLayerNorm(spec, dx);
        var cn = cpu.ChannelLayerNorm(spec, x);
        var dg = device.ChannelLayerNormBackward(spec, ddy, dx, df.Mean, df.Rstd, dw);
        var cg = cpu.ChannelLayerNormBackward(spec, dy, x, cf.Mean, cf.Rstd, weight);
        var dgn = device.ChannelLayerNormBackward(spec, ddy, dx, dn.Mean, dn.Rstd, null);
        var cgn = cpu.ChannelLayerNormBackward(spec, dy, x, cn.Mean, cn.Rstd, null);

        Assert.That(rt.CopiesToHost, Is.EqualTo(copiesBefore), "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            "launch layernorm_forward_f32", "launch layernorm_forward_f32",
            "launch layernorm_backward_data_f32", "launch layernorm_backward_affine_f32", "launch layernorm_backward_data_f32",
        }));
        Assert.That(df.Mean.Shape, Is.EqualTo(new TensorShape(2, 9, 7)));
        Assert.That(dgn.DWeight, Is.Null);
        Assert.That(dgn.DBias, Is.Null);
        foreach (var (what, d, c) in new (string, Tensor, Tensor)[]
        {
            ("y", df.Output, cf.Output), ("mean", df.Mean, cf.Mean), ("rstd", df.Rstd, cf.Rstd), ("y no affine", dn.Output, cn.Output),
            ("dx", dg.Dx, cg.Dx), ("dweight", dg.DWeight!, cg.DWeight!), ("dbias", dg.DBias!, cg.DBias!), ("dx no affine", dgn.Dx, cgn.Dx),
        })
            Assert.That(PoolKernelTests.Bits(device.Download(d).Data), Is.EqualTo(PoolKernelTests.Bits(cpu.Download(c).Data)), what);
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsGoesThroughHostCopies()
    {
        var memory = new FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(3, 4, 5);
        var ch = new TensorShape(4);
        var spec = new LayerNormSpec();
        var x = new HostTensor(shape, BatchNormTestData.Values(shape, 80));
        var weight = new HostTensor(ch, [1.5f, 0.5f, 0.75f, 1.25f]);
        var bias = new HostTensor(ch, [0.1f, -0.2f, 0.3f, 0.4f]);
        using Tensor t = engine.Upload(x), w = engine.Upload(weight), b = engine.Upload(bias);
        var d = engine.ChannelLayerNorm(spec, t, w, b);
        var c = cpu.ChannelLayerNorm(spec, x, weight, bias);
        Assert.That(engine.Download(d.Output).Data, Is.EqualTo(((HostTensor)c.Output).Data));
        Assert.That(engine.Download(d.Mean).Data, Is.EqualTo(((HostTensor)c.Mean).Data));
        Assert.That(engine.Download(d.Rstd).Data, Is.EqualTo(((HostTensor)c.Rstd).Data));
        var dy = new HostTensor(shape, BatchNormTestData.Values(shape, 81));
        var dg = engine.ChannelLayerNormBackward(spec, engine.Upload(dy), t, d.Mean, d.Rstd, w);
        var cg = cpu.ChannelLayerNormBackward(spec, dy, x, c.Mean, c.Rstd, weight);
        Assert.That(engine.Download(dg.Dx).Data, Is.EqualTo(((HostTensor)cg.Dx).Data));
        Assert.That(engine.Download(dg.DWeight!).Data, Is.EqualTo(((HostTensor)cg.DWeight!).Data));
        Assert.That(engine.Download(dg.DBias!).Data, Is.EqualTo(((HostTensor)cg.DBias!).Data));
    }
}
