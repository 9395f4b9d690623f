using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// Which algorithm the CPU backend puts first for shallow stems (CpuBackend.ShiftedDirectFirst and
/// FewerRowsThanThreads): shifted-direct where every thread gets output rows, im2col-gemm where there are
/// fewer rows than threads (a 1-d layer at batch 1), shifted-gemm never ahead of it there.
/// </summary>
public class ShallowStemOrderTests
{
    /// <summary>Shifted-direct runs on this machine's best tier: AVX-512, or AVX2 + FMA.</summary>
    static bool Supported => (GemmTiers.Best == GemmTier.Vector512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        || (GemmTiers.Best == GemmTier.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported);

    static List<string> Order(int threads, ConvProblem p)
    {
        using var cpu = new CpuBackend(threads);
        return cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name).ToList();
    }

    static ConvProblem Encoder(int n) => ConvProblem.Create(new ConvSpec([16], [8]), new TensorShape(n, 1, 32000), new TensorShape(512, 1, 16));

    [Test]
    public void OneDimensionalStemAtBatchOneLeadsWithIm2ColGemm()
    {
        if (!Supported) Assert.Ignore("shifted-direct runs on AVX-512 or AVX2 + FMA only; this machine's best tier is " + GemmTiers.Best);
        var two = Order(2, Encoder(1));
        Assert.That(two[0], Is.EqualTo(CpuBackend.Im2ColGemm));
        Assert.That(two.IndexOf(CpuBackend.ShiftedGemm), Is.GreaterThan(0));
        Assert.That(two, Does.Contain(CpuBackend.ShiftedDirect), "still offered");
        Assert.That(Order(1, Encoder(1))[0], Is.EqualTo(CpuBackend.ShiftedDirect), "one thread: one row is enough");
        Assert.That(Order(2, Encoder(2))[0], Is.EqualTo(CpuBackend.ShiftedDirect), "batch 2: a row per thread");
        Assert.That(Order(3, Encoder(2))[0], Is.EqualTo(CpuBackend.Im2ColGemm));
    }

    [Test]
    public void TwoDimensionalStemsKeepShiftedDirect()
    {
        if (!Supported) Assert.Ignore("shifted-direct runs on AVX-512 or AVX2 + FMA only; this machine's best tier is " + GemmTiers.Best);
        var resnet = ConvProblem.Create(new ConvSpec([7, 7], [2], padBegin: [3]), new TensorShape(1, 3, 224, 224), new TensorShape(64, 3, 7, 7));
        var mobilenet = ConvProblem.Create(new ConvSpec([3, 3], [2], padBegin: [1]), new TensorShape(1, 3, 224, 224), new TensorShape(32, 3, 3, 3));
        Assert.That(Order(2, resnet)[0], Is.EqualTo(CpuBackend.ShiftedDirect));
        Assert.That(Order(2, mobilenet)[0], Is.EqualTo(CpuBackend.ShiftedDirect));
    }
}
