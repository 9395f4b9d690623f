using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Tests.Pooling;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// kernels/groupnorm.ptx through the PTX interpreter against the CPU definitions (CpuGroupNorm), bit for bit: every
/// rank, groups = 1, = C and in between, units of 2 to 900 values (several rounds of the 256 partial sums, rows that
/// cross a partial-index wrap), weight/bias given and absent; fewer blocks than units and channels, so the block loops
/// run several rounds, and small element-wise launches so the grid-stride loop does; the library's own argument lists
/// (GroupNormKernels). Bit for bit holds because the kernels sum in the CPU's order (256 partials, then the same tree).
/// </summary>
public class GroupNormKernelTests
{
    public static IEnumerable<TestCaseData> Shapes() => GroupNormTestData.Shapes().Where(t => new TensorShape((int[])t.Arguments[0]!).ElementCount <= 20_000);

    static PtxKernel Kernel(string entry) => ShippedKernels.Get(GroupNormKernels.Module, entry);

    [TestCaseSource(nameof(Shapes))]
    public void ForwardMatchesTheCpuDefinitionBitForBit(int[] dims, int groups)
    {
        var shape = new TensorShape(dims);
        var s = new GroupNormSpec(groups).ShapeOf(shape, "x");
        int c = s.Channels, units = s.Units;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 40);
        var weight = BatchNormTestData.Channel(c, 41, 1f, 0.5f);
        var bias = BatchNormTestData.Channel(c, 42, 0f, 0.5f);
        const float eps = 1e-3f;
        foreach (bool affine in new[] { true, false })
        {
            float[] mean = new float[units], rstd = new float[units], y = new float[x.Length];
            CpuGroupNorm.Forward(x, s, eps, affine ? weight : null, affine ? bias : null, y, mean, rstd);

            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pm = mem.AllocatePoisoned(units), pr = mem.AllocatePoisoned(units),
                pw = mem.Upload(weight), pb = mem.Upload(bias), py = mem.AllocatePoisoned(x.Length);
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(Kernel(GroupNormKernels.StatisticsEntry), new PtxDim3(Math.Min(2, units)), new PtxDim3(CpuGroupNorm.Threads),
                GroupNormKernels.StatisticsArguments(s, px, pm, pr, eps));
            interpreter.Launch(Kernel(GroupNormKernels.NormalizeEntry), new PtxDim3(2), new PtxDim3(32),
                GroupNormKernels.NormalizeArguments(s, px, py, pm, pr, affine ? pw : 0, affine ? pb : 0));
            string tag = affine ? "affine" : "no affine";
            Assert.That(PoolKernelTests.Bits(mem.Download(pm, units)), Is.EqualTo(PoolKernelTests.Bits(mean)), $"mean ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pr, units)), Is.EqualTo(PoolKernelTests.Bits(rstd)), $"rstd ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(py, x.Length)), Is.EqualTo(PoolKernelTests.Bits(y)), $"y ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(px, x.Length)), Is.EqualTo(PoolKernelTests.Bits(x)), "x untouched");
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void BackwardMatchesTheCpuDefinitionBitForBit(int[] dims, int groups)
    {
        var shape = new TensorShape(dims);
        var s = new GroupNormSpec(groups).ShapeOf(shape, "x");
        int c = s.Channels, units = s.Units;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 60);
        var dy = BatchNormTestData.Values(shape, dims.Sum() + 61, 0.5f, 1f);
        var weight = BatchNormTestData.Channel(c, 62, 1f, 0.5f);
        float[] mean = new float[units], rstd = new float[units];
        CpuGroupNorm.Forward(x, s, 1e-5f, null, null, new float[x.Length], mean, rstd);
        foreach (bool affine in new[] { true, false })
        {
            float[] dx = new float[x.Length], dw = new float[c], db = new float[c];
            CpuGroupNorm.Backward(dy, x, s, mean, rstd, affine ? weight : null, dx, dw, db);
            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pdy = mem.Upload(dy), pm = mem.Upload(mean), pr = mem.Upload(rstd), pw = mem.Upload(weight),
                pdw = mem.AllocatePoisoned(c), pdb = mem.AllocatePoisoned(c), pdx = mem.AllocatePoisoned(x.Length);
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(Kernel(GroupNormKernels.BackwardDataEntry), new PtxDim3(Math.Min(2, units)), new PtxDim3(CpuGroupNorm.Threads),
                GroupNormKernels.BackwardDataArguments(s, pdy, px, pm, pr, affine ? pw : 0, pdx));
            interpreter.Launch(Kernel(GroupNormKernels.BackwardAffineEntry), new PtxDim3(Math.Min(2, c)), new PtxDim3(CpuGroupNorm.Threads),
                GroupNormKernels.BackwardAffineArguments(s, pdy, px, pm, pr, pdw, pdb));
            string tag = affine ? "affine" : "no affine";
            Assert.That(PoolKernelTests.Bits(mem.Download(pdx, x.Length)), Is.EqualTo(PoolKernelTests.Bits(dx)), $"dx ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pdb, c)), Is.EqualTo(PoolKernelTests.Bits(db)), $"dbias ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pdw, c)), Is.EqualTo(PoolKernelTests.Bits(dw)), $"dweight ({tag})");
        }
    }

    /// <summary>Every entry of kernels/groupnorm.ptx launched once as the engine launches it (for KernelLaunchSignatureTests).</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var s = new GroupNormSpec(1).ShapeOf(shape, "x");
        GroupNormKernels.LaunchStatistics(rt, s, buffer, buffer, buffer, 1e-5f);
        GroupNormKernels.LaunchNormalize(rt, s, buffer, buffer, buffer, buffer, buffer, buffer);
        GroupNormKernels.LaunchBackwardData(rt, s, buffer, buffer, buffer, buffer, buffer, buffer);
        GroupNormKernels.LaunchBackwardAffine(rt, s, buffer, buffer, buffer, buffer, buffer, buffer);
    }

    [Test]
    public void EntriesHaveTheDocumentedParameters()
    {
        string source = ShippedKernels.Source(GroupNormKernels.Module);
        Assert.That(source, Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
        Assert.That(source.All(ch => ch < 128), "ASCII only");
        var s = new GroupNormShape(2, 6, 5, 3);
        Assert.That(Kernel(GroupNormKernels.StatisticsEntry).Params, Has.Count.EqualTo(GroupNormKernels.StatisticsArguments(s, 1, 2, 3, 1e-5f).Length));
        Assert.That(Kernel(GroupNormKernels.NormalizeEntry).Params, Has.Count.EqualTo(GroupNormKernels.NormalizeArguments(s, 1, 2, 3, 4, 5, 6).Length));
        Assert.That(Kernel(GroupNormKernels.BackwardDataEntry).Params, Has.Count.EqualTo(GroupNormKernels.BackwardDataArguments(s, 1, 2, 3, 4, 5, 6).Length));
        Assert.That(Kernel(GroupNormKernels.BackwardAffineEntry).Params, Has.Count.EqualTo(GroupNormKernels.BackwardAffineArguments(s, 1, 2, 3, 4, 5, 6).Length));
    }
}
