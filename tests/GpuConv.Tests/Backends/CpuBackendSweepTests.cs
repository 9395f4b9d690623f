using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// The CPU backend against the float64 reference on randomized problems: every op, every candidate
/// algorithm, with and without bias, on an oversubscribed thread count (3 threads) so tiles split.
/// </summary>
public class CpuBackendSweepTests
{
    const int ProblemsPerOp = 520;
    const double Tolerance = 1e-5;

    [TestCase(ConvOp.Forward)]
    [TestCase(ConvOp.BackwardData)]
    [TestCase(ConvOp.BackwardFilter)]
    public void RandomProblemsMatchReference(ConvOp op)
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 3);
        var failures = new List<string>();
        double worst = 0;
        int depthwise = 0, pointwise = 0, grouped = 0, batched = 0;
        var ranks = new int[4];
        var tally = new SweepTally();
        for (int i = 0; i < ProblemsPerOp; i++)
        {
            int seed = 1000 * (int)op + i;
            var p = RandomConvProblems.Create(seed, op);
            ranks[p.Rank]++;
            if (p.IsDepthwise) depthwise++;
            else if (p.Groups > 1) grouped++;
            if (p.Spec.IsPointwise) pointwise++;
            if (p.N > 1) batched++;
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, seed, withBias: i % 2 == 0, tally);
            worst = Math.Max(worst, err);
            if (!(err < Tolerance)) failures.Add(where);
        }
        TestContext.Out.WriteLine($"{op}: {ProblemsPerOp} problems, worst max rel error {worst:E2}; ranks 1/2/3 = {ranks[1]}/{ranks[2]}/{ranks[3]}, depthwise {depthwise}, grouped {grouped}, pointwise {pointwise}, batch>1 {batched}");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {ProblemsPerOp} problems exceed {Tolerance}:\n" + string.Join("\n", failures.Take(10)));
        Assert.That(ranks[1] > 0 && ranks[2] > 0 && ranks[3] > 0 && depthwise > 0 && grouped > 0 && pointwise > 0 && batched > 0, "the sweep covers every feature");
        // Every problem ran at least one algorithm (ConvCheck fails a problem with none), so each rank ran as often as it was drawn.
        tally.AssertRan([op], [1, 2, 3]);
        for (int r = 1; r <= 3; r++) Assert.That(tally.Runs(op, r), Is.GreaterThanOrEqualTo(ranks[r]), $"rank {r}");
    }

    [Test]
    public void TransposedConvolutionsMatchReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        int count = 0;
        var failures = new List<string>();
        var tally = new SweepTally();
        for (int i = 0; count < 150 && i < 2000; i++)
        {
            var p = RandomConvProblems.Create(50_000 + i, ConvOp.BackwardData);
            // Keep only the ones built as transposed convolutions with non-trivial stride or output padding.
            if (p.Spec.IsUnitStride) continue;
            count++;
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, i, withBias: true, tally);
            if (!(err < Tolerance)) failures.Add(where);
        }
        Assert.That(count, Is.EqualTo(150));
        tally.AssertRan([ConvOp.BackwardData], [1, 2, 3]);
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    /// <summary>Depthwise with 16+ channels (the 16-channel blocked kernel plus leftover channels), every rank.</summary>
    [Test]
    public void WideDepthwiseMatchesReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 3);
        var rng = new Random(321);
        var failures = new List<string>();
        var tally = new SweepTally();
        for (int i = 0; i < 60; i++)
        {
            int rank = 1 + i % 3, c = new[] { 16, 17, 33, 48 }[rng.Next(4)];
            var kernel = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 4)).ToArray();
            var stride = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 3)).ToArray();
            var dil = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 3)).ToArray();
            var pb = Enumerable.Range(0, rank).Select(_ => rng.Next(0, 3)).ToArray();
            var pe = Enumerable.Range(0, rank).Select(_ => rng.Next(0, 3)).ToArray();
            var input = Enumerable.Range(0, rank).Select(d => dil[d] * (kernel[d] - 1) + 1 + rng.Next(0, rank == 3 ? 3 : rank == 2 ? 8 : 12)).ToArray();
            var spec = new ConvSpec(kernel, stride, dil, pb, pe, groups: c);
            var p = ConvProblem.Create(spec, new TensorShape([1 + i % 2, c, .. input]), new TensorShape([c, 1, .. kernel]));
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, i, withBias: i % 2 == 0, tally);
            if (!(err < Tolerance)) failures.Add(where);
        }
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        tally.AssertRan([ConvOp.Forward], [1, 2, 3]);
    }

    [Test]
    public void SingleThreadMatchesReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 1);
        var failures = new List<string>();
        var tally = new SweepTally();
        foreach (var op in Enum.GetValues<ConvOp>())
            for (int i = 0; i < 60; i++)
            {
                var p = RandomConvProblems.Create(90_000 + 100 * (int)op + i, op);
                var (err, where) = ConvCheck.AllAlgorithms(backend, p, i, withBias: i % 3 == 0, tally);
                if (!(err < Tolerance)) failures.Add(where);
            }
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        tally.AssertRan(Enum.GetValues<ConvOp>(), [1, 2, 3]);
    }

    /// <summary>
    /// Shifted-gemm's unpacked path at depths that split into several channel chunks (depth > 256),
    /// output-channel counts that leave edge rows for both tile heights (8 and 12), dilation,
    /// asymmetric padding, groups and ranks 1 and 3.
    /// </summary>
    [TestCase(1, new[] { 40 }, 29, new[] { 5 }, new[] { 1 }, new[] { 2 }, new[] { 3 }, new[] { 4 }, 1)]
    [TestCase(1, new[] { 21, 19 }, 30, new[] { 3, 3 }, new[] { 1, 1 }, new[] { 2, 1 }, new[] { 2, 0 }, new[] { 1, 2 }, 1)]
    [TestCase(2, new[] { 15, 17 }, 44, new[] { 3, 3 }, new[] { 2, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 1 }, 2)]
    [TestCase(1, new[] { 6, 7, 9 }, 13, new[] { 3, 3, 3 }, new[] { 1, 2, 1 }, new[] { 1, 1, 2 }, new[] { 1, 0, 1 }, new[] { 1, 1, 2 }, 1)]
    public void ShiftedGemmMatchesReference(int n, int[] input, int k, int[] kernel, int[] stride, int[] dilation, int[] padBegin, int[] padEnd, int groups)
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 3);
        int c = 36 * groups;   // 36 channels × 9 taps = 324 rows per group: two chunks
        var spec = new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups);
        var p = ConvProblem.Create(spec, new TensorShape([n, c, .. input]), new TensorShape([k * groups, c / groups, .. kernel]));
        Assert.That(backend.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Does.Contain(CpuBackend.ShiftedGemm));
        var (err, where) = ConvCheck.AllAlgorithms(backend, p, 11, withBias: true);
        TestContext.Out.WriteLine(where);
        Assert.That(err, Is.LessThan(Tolerance), where);
    }

    /// <summary>Layer-sized problems whose column matrices exceed one task's budget, so tiles and GEMM blocks split.</summary>
    [TestCase(ConvOp.Forward, 1, 64, 30, 70, 3, 1, 1, 1)]
    [TestCase(ConvOp.Forward, 2, 32, 23, 300, 3, 2, 1, 1)]
    [TestCase(ConvOp.Forward, 1, 160, 9, 40, 1, 1, 0, 1)]
    [TestCase(ConvOp.Forward, 1, 3, 61, 16, 7, 2, 3, 1)]
    [TestCase(ConvOp.Forward, 2, 40, 29, 40, 3, 2, 1, 40)]
    [TestCase(ConvOp.Forward, 1, 40, 14, 40, 3, 2, 1, 40)]
    [TestCase(ConvOp.Forward, 1, 72, 7, 256, 1, 1, 0, 1)]   // few positions, many channels: row tiles share a prepacked B
    [TestCase(ConvOp.Forward, 2, 40, 7, 200, 3, 1, 1, 2)]
    [TestCase(ConvOp.BackwardData, 1, 48, 26, 80, 3, 1, 1, 1)]
    [TestCase(ConvOp.BackwardData, 2, 160, 9, 40, 1, 1, 0, 1)]
    [TestCase(ConvOp.BackwardFilter, 2, 48, 26, 80, 3, 1, 1, 1)]
    [TestCase(ConvOp.BackwardFilter, 1, 3, 61, 16, 7, 2, 3, 1)]
    [TestCase(ConvOp.BackwardFilter, 2, 160, 9, 40, 1, 1, 0, 1)]
    public void LayerSizedProblemsMatchReference(ConvOp op, int n, int c, int hw, int k, int kernel, int stride, int pad, int groups)
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 3);
        var spec = new ConvSpec([kernel, kernel], [stride], padBegin: [pad], groups: groups);
        var p = ConvProblem.Create(spec, new TensorShape(n, c, hw, hw), new TensorShape(k, c / groups, kernel, kernel), op);
        var (err, where) = ConvCheck.AllAlgorithms(backend, p, 7, withBias: true);
        TestContext.Out.WriteLine(where);
        Assert.That(err, Is.LessThan(Tolerance), where);
    }
}
