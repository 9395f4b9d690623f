using GpuConv.Cpu.Layers;
using GpuConv.Tests.Elementwise;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// The upsampling gradient as the engine runs it (each output scattered onto its taps once, PyTorch's loop) gives the
/// bits of the definition as written (each input gathering the outputs that read it, <c>gather: true</c>, the form
/// kernels/upsample.ptx runs): 200 random problems per mode and rank (scales up and down, align_corners, sizes of 1,
/// out = in), gradients with NaN payloads, ±∞, ±0 and subnormals, on the calling thread and split over workers.
/// </summary>
public class UpsampleBackwardScatterTests
{
    static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];

    public static IEnumerable<TestCaseData> ModesAndRanks() => RandomUpsampleProblems.Cases(seeds: 1);

    [TestCaseSource(nameof(ModesAndRanks))]
    public void ScatterGivesTheGatherDefinitionsBits(UpsampleMode mode, int rank, int seed)
    {
        using var workers = new GpuConv.Cpu.Threading.CpuWorkers(2);
        for (int c = 0; c < 200; c++)
        {
            var (spec, input) = RandomUpsampleProblems.Create(1000 * rank + c, mode, rank);
            var g = UpsampleGeometry.Of(spec, input);
            var dy = ElementwiseKernelTests.Values((int)g.OutCount, c + seed);
            float[] expected = new float[g.InCount], got = new float[g.InCount], split = new float[g.InCount];
            Array.Fill(got, float.NaN); // every element must be written
            CpuUpsampling.Backward(g, dy, expected, gather: true);
            CpuUpsampling.Backward(g, dy, got);
            CpuUpsampling.Backward(g, dy, split, workers);
            Assert.That(Bits(got), Is.EqualTo(Bits(expected)), $"{spec} on {input}");
            Assert.That(Bits(split), Is.EqualTo(Bits(expected)), $"split over workers, {spec} on {input}");
        }
    }

    /// <summary>
    /// Linear-mode gradients on rows wide enough for AVX-512's blocks of sixteen inputs (CpuUpsampling.LinearGather.cs),
    /// each rank: scale 2 along W (by factor and by size, either align_corners), sizes near 2x and other factors (which may
    /// fall back to the scatter), rows of 16 to 80 inputs, gradients with special values: each the definition's bits, on
    /// the calling thread and split over workers. Where AVX-512 runs, the 2x problems must take the vector blocks.
    /// </summary>
    [TestCase(UpsampleMode.Linear)]
    [TestCase(UpsampleMode.Bilinear)]
    [TestCase(UpsampleMode.Trilinear)]
    public void WideLinearRowsGiveTheGatherDefinitionsBits(UpsampleMode mode)
    {
        using var workers = new GpuConv.Cpu.Threading.CpuWorkers(2);
        int rank = RandomUpsampleProblems.RankOf(mode, 0);
        var rng = new Random(17 + rank);
        int inVectors = 0;
        for (int c = 0; c < 300; c++)
        {
            var dims = new int[rank + 2];
            (dims[0], dims[1]) = (rng.Next(1, 3), rng.Next(1, 3));
            for (int d = 2; d < rank + 1; d++) dims[d] = rng.Next(1, rank == 3 ? 4 : 6);
            dims[rank + 1] = rng.Next(16, 81);
            var input = new GpuConv.Tensors.TensorShape(dims);
            bool align = rng.Next(2) == 0;
            double[] Factors(Func<int, double> w) => [.. Enumerable.Range(0, rank).Select(d => d == rank - 1 ? w(d) : new[] { 1.0, 2.0, 1.5, 3.0 }[rng.Next(4)])];
            var spec = (c % 3) switch
            {
                0 => UpsampleSpec.ByScale(mode, Factors(_ => 2.0), align),
                1 => UpsampleSpec.ToSize(mode, [.. Enumerable.Range(0, rank).Select(d => 2 * dims[2 + d] + rng.Next(-1, 2))], align),
                _ => UpsampleSpec.ByScale(mode, Factors(_ => 0.5 + 3 * rng.NextDouble()), align),
            };
            var g = UpsampleGeometry.Of(spec, input);
            if (CpuUpsampling.GatherBlocks(g) > 0) inVectors++;
            var dy = ElementwiseKernelTests.Values((int)g.OutCount, c);
            float[] expected = new float[g.InCount], got = new float[g.InCount], split = new float[g.InCount];
            Array.Fill(got, float.NaN);
            Array.Fill(split, float.NaN);
            CpuUpsampling.Backward(g, dy, expected, gather: true);
            CpuUpsampling.Backward(g, dy, got);
            CpuUpsampling.Backward(g, dy, split, workers);
            Assert.That(Bits(got), Is.EqualTo(Bits(expected)), $"{spec} on {input}");
            Assert.That(Bits(split), Is.EqualTo(Bits(expected)), $"split over workers, {spec} on {input}");
        }
        TestContext.Out.WriteLine($"{mode}: {inVectors} of 300 problems gathered in vector blocks");
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.That(inVectors, Is.GreaterThan(60), "the 2x problems take the vector blocks");
    }

    /// <summary>A row longer than the vector gather's plan allows (16,384 inputs) keeps the scatter, with the same bits.</summary>
    [Test]
    public void LongRowsKeepTheScatter()
    {
        var g = UpsampleGeometry.Of(UpsampleSpec.ByScale(UpsampleMode.Linear, [2.0]), new GpuConv.Tensors.TensorShape(1, 2, 20000));
        Assert.That(CpuUpsampling.GatherBlocks(g), Is.Zero);
        var dy = ElementwiseKernelTests.Values((int)g.OutCount, 5);
        float[] expected = new float[g.InCount], got = new float[g.InCount];
        Array.Fill(got, float.NaN);
        CpuUpsampling.Backward(g, dy, expected, gather: true);
        CpuUpsampling.Backward(g, dy, got);
        Assert.That(Bits(got), Is.EqualTo(Bits(expected)));
        var shorter = UpsampleGeometry.Of(UpsampleSpec.ByScale(UpsampleMode.Linear, [2.0]), new GpuConv.Tensors.TensorShape(1, 2, 16384));
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.That(CpuUpsampling.GatherBlocks(shorter), Is.EqualTo(1024), "16,384 inputs still gather in vectors");
    }
}
