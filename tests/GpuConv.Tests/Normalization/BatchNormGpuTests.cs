using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// On a GPU host: BatchNorm on a device engine (kernels/batchnorm.ptx through cuLaunchKernel on the engine's stream)
/// against the CPU engine, bit for bit: training with the running-statistics update, eval, backward, every rank, with
/// and without gamma/beta. Skipped with discovery's reason when no GPU is usable. Under the native fakes the kernels
/// run in the PTX interpreter, so there this proves the launches (arguments, pointers, stream order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class BatchNormGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Shapes() => BatchNormTestData.Shapes();

    [TestCaseSource(nameof(Shapes))]
    public void TrainingEvalAndBackwardMatchTheCpuEngine(int[] dims)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var shape = new TensorShape(dims);
        int c = dims[1];
        var ch = new TensorShape(c);
        var spec = new BatchNormSpec(1e-5, 0.1);
        var x = new HostTensor(shape, BatchNormTestData.Values(shape, dims.Sum() + 90));
        var dy = new HostTensor(shape, BatchNormTestData.Values(shape, dims.Sum() + 91, 0.5f, 1f));
        var gamma = new HostTensor(ch, BatchNormTestData.Channel(c, 92, 1f, 0.5f));
        var beta = new HostTensor(ch, BatchNormTestData.Channel(c, 93, 0f, 0.5f));
        var rm = new HostTensor(ch, BatchNormTestData.Channel(c, 94, 0f, 1f));
        var rv = new HostTensor(ch, BatchNormTestData.Channel(c, 95, 1.5f, 1f));
        using Tensor gx = gpu.Upload(x), gdy = gpu.Upload(dy), gg = gpu.Upload(gamma), gb = gpu.Upload(beta), grm = gpu.Upload(rm), grv = gpu.Upload(rv);
        var t = gpu.BatchNormTraining(spec, gx, gg, gb, grm, grv);
        var ct = cpu.BatchNormTraining(spec, x, gamma, beta, rm, rv);
        var e = gpu.BatchNormInference(spec, gx, gg, gb, grm, grv);
        var ce = cpu.BatchNormInference(spec, x, gamma, beta, rm, rv);
        var g = gpu.BatchNormBackward(gdy, gx, gg, t.SavedMean, t.SavedInvStd);
        var cg = cpu.BatchNormBackward(dy, x, gamma, ct.SavedMean, ct.SavedInvStd);
        var n = gpu.BatchNormTraining(spec, gx);
        var cn = cpu.BatchNormTraining(spec, x);
        var gn = gpu.BatchNormBackward(gdy, gx, null, n.SavedMean, n.SavedInvStd);
        var cgn = cpu.BatchNormBackward(dy, x, null, cn.SavedMean, cn.SavedInvStd);
        foreach (var (what, d, h) in new (string, Tensor, Tensor)[]
        {
            ("y", t.Output, ct.Output), ("saved mean", t.SavedMean, ct.SavedMean), ("saved invstd", t.SavedInvStd, ct.SavedInvStd),
            ("running mean", grm, rm), ("running var", grv, rv), ("eval y", e, ce),
            ("dx", g.Dx, cg.Dx), ("dgamma", g.DGamma, cg.DGamma), ("dbeta", g.DBeta, cg.DBeta),
            ("y no affine", n.Output, cn.Output), ("dx no affine", gn.Dx, cgn.Dx),
        })
            Assert.That(Bits(gpu.Download(d).Data), Is.EqualTo(Bits(((HostTensor)h).Data)), what);
        foreach (var d in new[] { t.Output, t.SavedMean, t.SavedInvStd, e, g.Dx, g.DGamma, g.DBeta, n.Output, n.SavedMean, n.SavedInvStd, gn.Dx, gn.DGamma, gn.DBeta })
            ((IDisposable)d).Dispose();
    }
}
