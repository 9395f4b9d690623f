using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Tests.Pooling;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// kernels/batchnorm.ptx through the PTX interpreter against the CPU definitions (CpuBatchNorm), bit for bit: every
/// rank, channels of 2 to 3528 values (several rounds of the 256 partial sums, rows that cross a partial-index wrap),
/// gamma/beta given and absent, running statistics given and absent, eval mode from the running variance; fewer blocks
/// than channels, so the channel loop runs several rounds, and small element-wise launches so the grid-stride loop does;
/// the library's own argument lists (BatchNormKernels).
/// </summary>
public class BatchNormKernelTests
{
    public static IEnumerable<TestCaseData> Shapes() => BatchNormTestData.Shapes();

    static PtxKernel Kernel(string entry) => ShippedKernels.Get(BatchNormKernels.Module, entry);

    [TestCaseSource(nameof(Shapes))]
    public void TrainingStatisticsAndNormalizationMatchTheCpuDefinitionBitForBit(int[] dims)
    {
        var shape = new TensorShape(dims);
        var s = BatchNormSpec.ShapeOf(shape, "x");
        int c = s.Channels;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 40);
        var gamma = BatchNormTestData.Channel(c, 41, 1f, 0.5f);
        var beta = BatchNormTestData.Channel(c, 42, 0f, 0.5f);
        var rm = BatchNormTestData.Channel(c, 43, 0f, 1f);
        var rv = BatchNormTestData.Channel(c, 44, 1.5f, 1f);
        const float eps = 1e-3f, momentum = 0.3f, keep = 0.7f;
        foreach (bool affine in new[] { true, false })
        {
            float[] mean = new float[c], inv = new float[c], erm = (float[])rm.Clone(), erv = (float[])rv.Clone(), y = new float[x.Length];
            CpuBatchNorm.Statistics(x, s, eps, mean, inv, affine ? erm : null, affine ? erv : null, momentum, keep);
            CpuBatchNorm.Normalize(x, y, s, mean, inv, false, eps, affine ? gamma : null, affine ? beta : null);

            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pm = mem.AllocatePoisoned(c), pi = mem.AllocatePoisoned(c), prm = mem.Upload(rm), prv = mem.Upload(rv),
                pg = mem.Upload(gamma), pb = mem.Upload(beta), py = mem.AllocatePoisoned(x.Length);
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(Kernel(BatchNormKernels.StatisticsEntry), new PtxDim3(Math.Min(2, c)), new PtxDim3(CpuBatchNorm.Threads),
                BatchNormKernels.StatisticsArguments(s, px, pm, pi, affine ? prm : 0, affine ? prv : 0, eps, momentum, keep));
            interpreter.Launch(Kernel(BatchNormKernels.NormalizeEntry), new PtxDim3(2), new PtxDim3(32),
                BatchNormKernels.NormalizeArguments(s, px, py, pm, pi, false, eps, affine ? pg : 0, affine ? pb : 0));
            string tag = affine ? "affine, running" : "no affine, no running";
            Assert.That(PoolKernelTests.Bits(mem.Download(pm, c)), Is.EqualTo(PoolKernelTests.Bits(mean)), $"mean ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pi, c)), Is.EqualTo(PoolKernelTests.Bits(inv)), $"invstd ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(prm, c)), Is.EqualTo(PoolKernelTests.Bits(affine ? erm : rm)), $"running mean ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(prv, c)), Is.EqualTo(PoolKernelTests.Bits(affine ? erv : rv)), $"running var ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(py, x.Length)), Is.EqualTo(PoolKernelTests.Bits(y)), $"y ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(px, x.Length)), Is.EqualTo(PoolKernelTests.Bits(x)), "x untouched");
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void EvalNormalizationMatchesTheCpuDefinitionBitForBit(int[] dims)
    {
        var shape = new TensorShape(dims);
        var s = BatchNormSpec.ShapeOf(shape, "x");
        int c = s.Channels;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 50);
        var gamma = BatchNormTestData.Channel(c, 51, 1f, 0.5f);
        var beta = BatchNormTestData.Channel(c, 52, 0f, 0.5f);
        var rm = BatchNormTestData.Channel(c, 53, 0f, 1f);
        var rv = BatchNormTestData.Channel(c, 54, 1.5f, 1f);
        var y = new float[x.Length];
        CpuBatchNorm.Normalize(x, y, s, rm, rv, true, 1e-5f, gamma, beta);
        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), py = mem.AllocatePoisoned(x.Length);
        new PtxInterpreter(mem).Launch(Kernel(BatchNormKernels.NormalizeEntry), new PtxDim3(3), new PtxDim3(64),
            BatchNormKernels.NormalizeArguments(s, px, py, mem.Upload(rm), mem.Upload(rv), true, 1e-5f, mem.Upload(gamma), mem.Upload(beta)));
        Assert.That(PoolKernelTests.Bits(mem.Download(py, x.Length)), Is.EqualTo(PoolKernelTests.Bits(y)));
    }

    [TestCaseSource(nameof(Shapes))]
    public void BackwardMatchesTheCpuDefinitionBitForBit(int[] dims)
    {
        var shape = new TensorShape(dims);
        var s = BatchNormSpec.ShapeOf(shape, "x");
        int c = s.Channels;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 60);
        var dy = BatchNormTestData.Values(shape, dims.Sum() + 61, 0.5f, 1f);
        var gamma = BatchNormTestData.Channel(c, 62, 1f, 0.5f);
        float[] mean = new float[c], inv = new float[c];
        CpuBatchNorm.Statistics(x, s, 1e-5f, mean, inv, null, null, 0, 1);
        foreach (bool affine in new[] { true, false })
        {
            float[] dx = new float[x.Length], dg = new float[c], db = new float[c];
            CpuBatchNorm.Backward(dy, x, s, mean, inv, affine ? gamma : null, dx, dg, db);
            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pdy = mem.Upload(dy), pm = mem.Upload(mean), pi = mem.Upload(inv), pg = mem.Upload(gamma),
                pdg = mem.AllocatePoisoned(c), pdb = mem.AllocatePoisoned(c), pdx = mem.AllocatePoisoned(x.Length);
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(Kernel(BatchNormKernels.BackwardReduceEntry), new PtxDim3(Math.Min(2, c)), new PtxDim3(CpuBatchNorm.Threads),
                BatchNormKernels.BackwardReduceArguments(s, pdy, px, pm, pi, pdg, pdb));
            interpreter.Launch(Kernel(BatchNormKernels.BackwardDataEntry), new PtxDim3(2), new PtxDim3(32),
                BatchNormKernels.BackwardDataArguments(s, pdy, px, pm, pi, affine ? pg : 0, pdg, pdb, pdx));
            string tag = affine ? "affine" : "no affine";
            Assert.That(PoolKernelTests.Bits(mem.Download(pdb, c)), Is.EqualTo(PoolKernelTests.Bits(db)), $"dbeta ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pdg, c)), Is.EqualTo(PoolKernelTests.Bits(dg)), $"dgamma ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pdx, x.Length)), Is.EqualTo(PoolKernelTests.Bits(dx)), $"dx ({tag})");
        }
    }
    /// <summary>Every entry of kernels/batchnorm.ptx launched once as the engine launches it (for KernelLaunchSignatureTests).</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var s = BatchNormSpec.ShapeOf(shape, "x");
        BatchNormKernels.LaunchStatistics(rt, s, buffer, buffer, buffer, buffer, buffer, 1e-5f, 0.1f, 0.9f);
        BatchNormKernels.LaunchNormalize(rt, s, buffer, buffer, buffer, buffer, fromVariance: true, 1e-5f, buffer, buffer);
        BatchNormKernels.LaunchBackwardReduce(rt, s, buffer, buffer, buffer, buffer, buffer, buffer);
        BatchNormKernels.LaunchBackwardData(rt, s, buffer, buffer, buffer, buffer, buffer, buffer, buffer, buffer);
    }

    [Test]
    public void EntriesHaveTheDocumentedParameters()
    {
        string source = ShippedKernels.Source(BatchNormKernels.Module);
        Assert.That(source, Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
        var s = new BatchNormShape(2, 3, 5);
        Assert.That(Kernel(BatchNormKernels.StatisticsEntry).Params, Has.Count.EqualTo(BatchNormKernels.StatisticsArguments(s, 1, 2, 3, 4, 5, 1e-5f, 0.1f, 0.9f).Length));
        Assert.That(Kernel(BatchNormKernels.NormalizeEntry).Params, Has.Count.EqualTo(BatchNormKernels.NormalizeArguments(s, 1, 2, 3, 4, false, 1e-5f, 5, 6).Length));
        Assert.That(Kernel(BatchNormKernels.BackwardReduceEntry).Params, Has.Count.EqualTo(BatchNormKernels.BackwardReduceArguments(s, 1, 2, 3, 4, 5, 6).Length));
        Assert.That(Kernel(BatchNormKernels.BackwardDataEntry).Params, Has.Count.EqualTo(BatchNormKernels.BackwardDataArguments(s, 1, 2, 3, 4, 5, 6, 7, 8).Length));
    }
}
