using GpuConv.Backends.Ptx;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Pooling;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The engine's BatchNorm on a device memory that launches kernels — the simulated GPU runtime, whose launches run
/// kernels/batchnorm.ptx in the PTX interpreter — against the CPU engine bit for bit: the device path of
/// ConvEngine.BatchNorm (pointers, argument order, optional tensors as 0, the stream) without a GPU; no copy to the
/// host, no wait. And a device memory without kernels still works through host copies.
/// </summary>
public class BatchNormSimulatedDeviceTests
{
    [Test]
    public void TrainingEvalAndBackwardMatchTheCpuEngineBitForBit_OnTheStream_WithoutDownloads()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(2, 3, 9, 7);
        var ch = new TensorShape(3);
        var spec = new BatchNormSpec(1e-3, 0.2);
        HostTensor H(TensorShape s, float[] v) => new(s, v);
        var x = H(shape, BatchNormTestData.Values(shape, 70));
        var dy = H(shape, BatchNormTestData.Values(shape, 71, 0.5f, 1f));
        var gamma = H(ch, BatchNormTestData.Channel(3, 72, 1f, 0.5f));
        var beta = H(ch, BatchNormTestData.Channel(3, 73, 0f, 0.5f));
        var rm = H(ch, BatchNormTestData.Channel(3, 74, 0f, 1f));
        var rv = H(ch, BatchNormTestData.Channel(3, 75, 1.5f, 1f));
        using Tensor dx = device.Upload(x), ddy = device.Upload(dy), dg = device.Upload(gamma), db = device.Upload(beta), drm = device.Upload(rm), drv = device.Upload(rv);
        HostTensor cx = x, cdy = dy, cg = gamma, cb = beta, crm = new(ch, (float[])rm.Data.Clone()), crv = new(ch, (float[])rv.Data.Clone());
        int copiesBefore = rt.CopiesToHost;

        var dt = device.BatchNormTraining(spec, dx, dg, db, drm, drv);
        var ct = cpu.BatchNormTraining(spec, cx, cg, cb, crm, crv);
        var dNoAffine = device.BatchNormTraining(spec, dx);
        var cNoAffine = cpu.BatchNormTraining(spec, cx);
        var de = device.BatchNormInference(spec, dx, dg, db, drm, drv);
        var ce = cpu.BatchNormInference(spec, cx, cg, cb, crm, crv);
        var dgr = device.BatchNormBackward(ddy, dx, dg, dt.SavedMean, dt.SavedInvStd);
        var cgr = cpu.BatchNormBackward(cdy, cx, cg, ct.SavedMean, ct.SavedInvStd);
        var dgn = device.BatchNormBackward(ddy, dx, null, dNoAffine.SavedMean, dNoAffine.SavedInvStd);
        var cgn = cpu.BatchNormBackward(cdy, cx, null, cNoAffine.SavedMean, cNoAffine.SavedInvStd);

        Assert.That(rt.CopiesToHost, Is.EqualTo(copiesBefore), "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            "launch batchnorm_stats_f32", "launch batchnorm_normalize_f32", "launch batchnorm_stats_f32", "launch batchnorm_normalize_f32",
            "launch batchnorm_normalize_f32",
            "launch batchnorm_backward_reduce_f32", "launch batchnorm_backward_data_f32", "launch batchnorm_backward_reduce_f32", "launch batchnorm_backward_data_f32",
        }));
        foreach (var (what, d, c) in new (string, Tensor, Tensor)[]
        {
            ("y", dt.Output, ct.Output), ("saved mean", dt.SavedMean, ct.SavedMean), ("saved invstd", dt.SavedInvStd, ct.SavedInvStd),
            ("running mean", drm, crm), ("running var", drv, crv),
            ("y no affine", dNoAffine.Output, cNoAffine.Output), ("eval y", de, ce),
            ("dx", dgr.Dx, cgr.Dx), ("dgamma", dgr.DGamma, cgr.DGamma), ("dbeta", dgr.DBeta, cgr.DBeta),
            ("dx no affine", dgn.Dx, cgn.Dx), ("dgamma no affine", dgn.DGamma, cgn.DGamma),
        })
            Assert.That(PoolKernelTests.Bits(device.Download(d).Data), Is.EqualTo(PoolKernelTests.Bits(cpu.Download(c).Data)), what);
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsGoesThroughHostCopies()
    {
        var memory = new FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(3, 2, 5);
        var ch = new TensorShape(2);
        var x = new HostTensor(shape, BatchNormTestData.Values(shape, 80));
        var gamma = new HostTensor(ch, [1.5f, 0.5f]);
        var rm = new HostTensor(ch, [0.1f, 0.2f]);
        var rv = new HostTensor(ch, [1.1f, 0.9f]);
        using Tensor t = engine.Upload(x), g = engine.Upload(gamma), drm = engine.Upload(rm), drv = engine.Upload(rv);
        var spec = new BatchNormSpec();
        var d = engine.BatchNormTraining(spec, t, g, null, drm, drv);
        var c = cpu.BatchNormTraining(spec, x, gamma, null, rm, rv);
        Assert.That(engine.Download(d.Output).Data, Is.EqualTo(((HostTensor)c.Output).Data));
        Assert.That(engine.Download(drm).Data, Is.EqualTo(rm.Data));
        Assert.That(engine.Download(drv).Data, Is.EqualTo(rv.Data));
        Assert.That(engine.Download(engine.BatchNormInference(spec, t, g, null, drm, drv)).Data, Is.EqualTo(((HostTensor)cpu.BatchNormInference(spec, x, gamma, null, rm, rv)).Data));
        var dy = new HostTensor(shape, BatchNormTestData.Values(shape, 81));
        var dg = engine.BatchNormBackward(engine.Upload(dy), t, g, d.SavedMean, d.SavedInvStd);
        var cg = cpu.BatchNormBackward(dy, x, gamma, c.SavedMean, c.SavedInvStd);
        Assert.That(engine.Download(dg.Dx).Data, Is.EqualTo(((HostTensor)cg.Dx).Data));
        Assert.That(engine.Download(dg.DGamma).Data, Is.EqualTo(((HostTensor)cg.DGamma).Data));
    }
}
