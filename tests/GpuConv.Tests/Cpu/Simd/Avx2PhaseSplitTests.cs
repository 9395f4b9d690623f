using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using GpuConv.Cpu.Shifted;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The AVX2 stride-2 and stride-4 row splits (<see cref="PhaseSplitAvx2"/>) that pad strided layers' phase
/// planes and Winograd's patch planes on Vector256: element for element against the plain index mapping,
/// then whole convolutions on a backend forced to Vector256 (so they run on AVX-512 machines too) against
/// the float64 reference at 1e-5 max relative error — every algorithm on stride-2 and stride-4 layers with
/// rows below, at and above the 16- and 32-float steps, and Winograd F(2×2) / F(4×4) on planes wide enough
/// for whole steps. The padding is asserted to take the AVX2 splits there, so losing them fails.
/// </summary>
public class Avx2PhaseSplitTests
{
    const double Tolerance = 1e-5;

    static void RequireAvx2()
    {
        Avx2Tier.Require();
        Assert.That(ShiftedGemm.Avx2Splits(GemmTier.Vector256), Is.True, "padding on Vector256 takes the AVX2 splits");
    }

    [Test]
    public unsafe void Stride4PutsEveryColumnInItsPhase([Values(0, 1, 2, 3)] int pw0)
    {
        RequireAvx2();
        const int phase = 64;
        for (int count = 0; count <= 140; count++)
        {
            var src = Enumerable.Range(0, count).Select(i => i + 1f).ToArray();
            var got = new float[4 * phase];
            var want = new float[4 * phase];
            for (int i = 0; i < count; i++) want[(pw0 + i) % 4 * phase + (pw0 + i) / 4] = src[i];
            fixed (float* s = src, d = got) PhaseSplitAvx2.Stride4(s, count, pw0, d, phase);
            Assert.That(got, Is.EqualTo(want), $"count {count}, first column {pw0}");
        }
    }

    [Test]
    public unsafe void Stride2PutsEveryColumnInItsPhase()
    {
        RequireAvx2();
        for (int count = 0; count <= 70; count++)
        {
            var src = Enumerable.Range(0, count).Select(i => i + 1f).ToArray();
            var even = new float[40];
            var odd = new float[40];
            fixed (float* s = src, e = even, o = odd) PhaseSplitAvx2.Stride2(s, count, e, o);
            for (int i = 0; i < 40; i++)
            {
                Assert.That(even[i], Is.EqualTo(2 * i < count ? src[2 * i] : 0f), $"count {count}, even {i}");
                Assert.That(odd[i], Is.EqualTo(2 * i + 1 < count ? src[2 * i + 1] : 0f), $"count {count}, odd {i}");
            }
        }
    }

    // Stride 4 (shifted-gemm's and channel-tiled's phase planes) and stride 2, rows 17 … 140 wide, left padding 0 … 3.
    [TestCase(4, 17, 0)]
    [TestCase(4, 33, 1)]
    [TestCase(4, 64, 2)]
    [TestCase(4, 65, 3)]
    [TestCase(4, 140, 1)]
    [TestCase(2, 15, 1)]
    [TestCase(2, 33, 0)]
    [TestCase(2, 64, 1)]
    [TestCase(2, 101, 2)]
    public void StridedConvolutionsMatchReference(int stride, int width, int pad)
    {
        RequireAvx2();
        using var cpu = Avx2Tier.Backend();
        var p = ConvProblem.Create(new ConvSpec([3, 5], [stride], padBegin: [1, pad], padEnd: [1, 4 - pad]),
            new TensorShape(2, 3, 9, width), new TensorShape(8, 3, 3, 5));
        Assert.That(cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Has.Member(CpuBackend.ShiftedGemm), "the phase-split path is offered");
        var (err, where) = ConvCheck.AllAlgorithms(cpu, p, 7, withBias: true);
        Assert.That(err, Is.LessThan(Tolerance), where);
    }

    // Winograd's patch planes: stride 4 for F(4×4) (the 56 × 56 plane's 58 padded columns are one whole 32-float
    // step), stride 2 for F(2×2); odd sizes, a batch of 2; 40 output channels (Winograd is offered from 32).
    [TestCase(CpuBackend.Winograd4x4, 1, 8, 56, 56)]
    [TestCase(CpuBackend.Winograd4x4, 2, 5, 37, 70)]
    [TestCase(CpuBackend.Winograd, 1, 8, 40, 37)]
    [TestCase(CpuBackend.Winograd, 2, 3, 29, 66)]
    public void WinogradMatchesReference(string algorithm, int n, int c, int h, int w)
    {
        RequireAvx2();
        using var cpu = Avx2Tier.Backend();
        var p = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1, 1], padEnd: [1, 1]), new TensorShape(n, c, h, w), new TensorShape(40, c, 3, 3));
        var algo = cpu.GetAlgorithms(p.WithConstantWeights(true), ConvPrecision.Strict).SingleOrDefault(a => a.Name == algorithm)
            ?? throw new AssertionException($"{algorithm} not offered on {cpu.Tier} for {p}");
        var (x, wt, b) = (HostTensor.Random(p.XShape, 3), HostTensor.Random(p.WShape, 4), HostTensor.Random(new TensorShape(40), 5));
        double[] reference = ReferenceConv.Run(p, x.Data, wt.Data, new float[p.YShape.ElementCountInt], b.Data);
        var y = new HostTensor(p.YShape);
        Array.Fill(y.Data, float.NaN);
        cpu.Run(p, algo, new ConvTensors(x, wt, y, b) { ConstantWeights = true });
        var error = ErrorMetrics.Compare(y.Data, reference);
        Assert.That(double.IsFinite(error.MaxRelative) && error.MaxRelative < Tolerance, $"{algorithm} on {p}: {error}");
    }
}
