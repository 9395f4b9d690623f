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
}
