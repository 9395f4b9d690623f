using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Tests.Backends;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// A short sweep of the whole CPU backend (im2col, col2im, the depthwise kernel and the vector
/// helpers all branch on the accelerated width) with every GEMM tier; re-run in child processes
/// with wider instruction sets switched off by <see cref="SimdTierChildProcessTests"/>.
/// </summary>
public class CpuBackendSimdTests
{
    [Test]
    public void ShortSweepMatchesReference([ValueSource(typeof(SgemmSimdTests), nameof(SgemmSimdTests.Tiers))] GemmTier tier)
    {
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here (best {GemmTiers.Best})");
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2, tier: tier);
        var failures = new List<string>();
        var tally = new SweepTally();
        foreach (var op in Enum.GetValues<ConvOp>())
            for (int i = 0; i < 40; i++)
            {
                var p = RandomConvProblems.Create(70_000 + 100 * (int)op + i, op);
                var (err, where) = ConvCheck.AllAlgorithms(backend, p, i, withBias: i % 2 == 1, tally);
                if (!(err < 1e-5)) failures.Add(where);
            }
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        tally.AssertRan(Enum.GetValues<ConvOp>(), [1, 2, 3]);
    }

    [Test]
    public void DepthwiseRowsOfEveryWidthMatchReference()
    {
        // Row widths around 4, 8, 16, 32 and 64 (the vector loops of the depthwise kernel), stride 1 and 2.
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var failures = new List<string>();
        foreach (int width in new[] { 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 18, 31, 33, 35, 63, 66, 67, 130 })
            foreach (int stride in new[] { 1, 2 })
            {
                var spec = new ConvSpec([3, 3], [stride], padBegin: [1], groups: 3);
                var p = ConvProblem.Create(spec, new GpuConv.Tensors.TensorShape(1, 3, 5, width), new GpuConv.Tensors.TensorShape(6, 1, 3, 3));
                var (err, where) = ConvCheck.AllAlgorithms(backend, p, width, withBias: true);
                if (!(err < 1e-5)) failures.Add(where);
            }
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }
}
