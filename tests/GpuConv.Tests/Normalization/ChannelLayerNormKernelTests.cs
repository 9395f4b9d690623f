using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Tests.Pooling;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// kernels/layernorm.ptx through the PTX interpreter against the CPU definitions (CpuChannelLayerNorm), bit for bit:
/// every rank, C = 1, positions fewer and more than a CPU chunk and than the affine kernel's 256 partial sums (rows
/// that cross a partial-index wrap), weight/bias given and absent; small launches (2 blocks of 32 threads for the
/// per-position kernels, fewer affine blocks than channels) so the grid-stride loops run several rounds; the library's
/// own argument lists (ChannelLayerNormKernels). Bit for bit holds because each GPU thread sums a position's channels
/// in the CPU's order and the affine block folds in the CPU's order.
/// </summary>
public class ChannelLayerNormKernelTests
{
    public static IEnumerable<TestCaseData> Shapes() =>
        ChannelLayerNormTestData.Shapes().Where(t => new TensorShape((int[])t.Arguments[0]!).ElementCount <= 20_000);

    static PtxKernel Kernel(string entry) => ShippedKernels.Get(ChannelLayerNormKernels.Module, entry);

    [TestCaseSource(nameof(Shapes))]
    public void ForwardMatchesTheCpuDefinitionBitForBit(int[] dims)
    {
        var shape = new TensorShape(dims);
        var s = ChannelLayerNormShape.Of(shape, "x");
        int c = s.Channels, count = s.BatchPositions;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 40);
        var weight = BatchNormTestData.Channel(c, 41, 1f, 0.5f);
        var bias = BatchNormTestData.Channel(c, 42, 0f, 0.5f);
        const float eps = 1e-3f;
        foreach (bool affine in new[] { true, false })
        {
            float[] mean = new float[count], rstd = new float[count], y = new float[x.Length];
            CpuChannelLayerNorm.Forward(x, s, eps, affine ? weight : null, affine ? bias : null, y, mean, rstd);

            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pm = mem.AllocatePoisoned(count), pr = mem.AllocatePoisoned(count),
                pw = mem.Upload(weight), pb = mem.Upload(bias), py = mem.AllocatePoisoned(x.Length);
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(Kernel(ChannelLayerNormKernels.ForwardEntry), new PtxDim3(2), new PtxDim3(32),
                ChannelLayerNormKernels.ForwardArguments(s, px, py, pm, pr, affine ? pw : 0, affine ? pb : 0, eps));
            string tag = affine ? "affine" : "no affine";
            Assert.That(PoolKernelTests.Bits(mem.Download(pm, count)), Is.EqualTo(PoolKernelTests.Bits(mean)), $"mean ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pr, count)), Is.EqualTo(PoolKernelTests.Bits(rstd)), $"rstd ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(py, x.Length)), Is.EqualTo(PoolKernelTests.Bits(y)), $"y ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(px, x.Length)), Is.EqualTo(PoolKernelTests.Bits(x)), "x untouched");
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void BackwardMatchesTheCpuDefinitionBitForBit(int[] dims)
    {
        var shape = new TensorShape(dims);
        var s = ChannelLayerNormShape.Of(shape, "x");
        int c = s.Channels, count = s.BatchPositions;
        var x = BatchNormTestData.Values(shape, dims.Sum() + 60);
        var dy = BatchNormTestData.Values(shape, dims.Sum() + 61, 0.5f, 1f);
        var weight = BatchNormTestData.Channel(c, 62, 1f, 0.5f);
        float[] mean = new float[count], rstd = new float[count];
        CpuChannelLayerNorm.Forward(x, s, 1e-6f, null, null, new float[x.Length], mean, rstd);
        foreach (bool affine in new[] { true, false })
        {
            float[] dx = new float[x.Length], dw = new float[c], db = new float[c];
            CpuChannelLayerNorm.Backward(dy, x, s, mean, rstd, affine ? weight : null, dx, dw, db);
            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pdy = mem.Upload(dy), pm = mem.Upload(mean), pr = mem.Upload(rstd), pw = mem.Upload(weight),
                pdw = mem.AllocatePoisoned(c), pdb = mem.AllocatePoisoned(c), pdx = mem.AllocatePoisoned(x.Length);
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(Kernel(ChannelLayerNormKernels.BackwardDataEntry), new PtxDim3(2), new PtxDim3(32),
                ChannelLayerNormKernels.BackwardDataArguments(s, pdy, px, pm, pr, affine ? pw : 0, pdx));
            interpreter.Launch(Kernel(ChannelLayerNormKernels.BackwardAffineEntry), new PtxDim3(Math.Min(2, c)), new PtxDim3(CpuChannelLayerNorm.Threads),
                ChannelLayerNormKernels.BackwardAffineArguments(s, pdy, px, pm, pr, pdw, pdb));
            string tag = affine ? "affine" : "no affine";
            Assert.That(PoolKernelTests.Bits(mem.Download(pdx, x.Length)), Is.EqualTo(PoolKernelTests.Bits(dx)), $"dx ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pdb, c)), Is.EqualTo(PoolKernelTests.Bits(db)), $"dbias ({tag})");
            Assert.That(PoolKernelTests.Bits(mem.Download(pdw, c)), Is.EqualTo(PoolKernelTests.Bits(dw)), $"dweight ({tag})");
        }
    }

    /// <summary>Every entry of kernels/layernorm.ptx launched once as the engine launches it (for KernelLaunchSignatureTests).</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var s = ChannelLayerNormShape.Of(shape, "x");
        ChannelLayerNormKernels.LaunchForward(rt, s, buffer, buffer, buffer, buffer, buffer, buffer, 1e-6f);
        ChannelLayerNormKernels.LaunchBackwardData(rt, s, buffer, buffer, buffer, buffer, buffer, buffer);
        ChannelLayerNormKernels.LaunchBackwardAffine(rt, s, buffer, buffer, buffer, buffer, buffer, buffer);
    }

    [Test]
    public void EntriesHaveTheDocumentedParameters()
    {
        string source = ShippedKernels.Source(ChannelLayerNormKernels.Module);
        Assert.That(source, Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
        Assert.That(source.All(ch => ch < 128), "ASCII only");
        var s = new ChannelLayerNormShape(2, 6, 5);
        Assert.That(Kernel(ChannelLayerNormKernels.ForwardEntry).Params, Has.Count.EqualTo(ChannelLayerNormKernels.ForwardArguments(s, 1, 2, 3, 4, 5, 6, 1e-6f).Length));
        Assert.That(Kernel(ChannelLayerNormKernels.BackwardDataEntry).Params, Has.Count.EqualTo(ChannelLayerNormKernels.BackwardDataArguments(s, 1, 2, 3, 4, 5, 6).Length));
        Assert.That(Kernel(ChannelLayerNormKernels.BackwardAffineEntry).Params, Has.Count.EqualTo(ChannelLayerNormKernels.BackwardAffineArguments(s, 1, 2, 3, 4, 5, 6).Length));
    }
}
