using System.Runtime.Intrinsics;
using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;
using GpuConv.Tests.Cpu.Simd;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The pools' backward as the engine runs it (scattering each output's gradient once) gives the bits of the definition
/// as written (gathering every input's candidates, <c>gather: true</c>), which kernels/pool.ptx matches: random
/// geometries of ranks 1–3 (dilated max windows, ceil mode, count_include_pad, windows with no tap inside the input),
/// inputs full of ties, ±0, ±∞ and NaN payloads, and gradients with NaN and ±∞ of their own; on the calling thread and
/// split over workers.
/// </summary>
public class PoolBackwardScatterTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void ScatterGivesTheGatherDefinitionsBits(bool max)
    {
        var rng = new Random(max ? 21 : 22);
        using var workers = new GpuConv.Cpu.Threading.CpuWorkers(2);
        int cases = 0;
        while (cases < 500)
        {
            if (PoolRowsSimdTests.RandomCase(rng, max) is not var (spec, shape)) continue;
            cases++;
            var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
            var x = PoolRowsSimdTests.Values(shape.ElementCountInt, rng, cases % 5);
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, (cases / 5) % 5);
            var expected = new float[x.Length];
            var got = new float[x.Length];
            var split = new float[x.Length];
            var scalar = new float[x.Length];
            Array.Fill(got, float.NaN); // every element must be written
            Array.Fill(scalar, float.NaN);
            if (max)
            {
                CpuPooling.MaxBackward(g, x, dy, expected, gather: true);
                CpuPooling.MaxBackward(g, x, dy, got);
                CpuPooling.MaxBackward(g, x, dy, split, workers);
                CpuPooling.MaxBackward(g, x, dy, scalar, vector: false);
                Assert.That(PoolRowsSimdTests.BitsOf(scalar, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"scalar argmax, {spec} on {shape}");
            }
            else
            {
                CpuPooling.AverageBackward(g, dy, expected, gather: true);
                CpuPooling.AverageBackward(g, dy, got);
                CpuPooling.AverageBackward(g, dy, split, workers);
                CpuPooling.AverageBackward(g, dy, scalar, vector: false);
                Assert.That(PoolRowsSimdTests.BitsOf(scalar, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"scalar scatter, {spec} on {shape}");
            }
            // Sums of several dy: a NaN's payload follows the add's operand order, the same here, but compared as NaN (as every sum is).
            Assert.That(PoolRowsSimdTests.BitsOf(got, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"{spec} on {shape}");
            Assert.That(PoolRowsSimdTests.BitsOf(split, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"split over workers, {spec} on {shape}");
        }
    }

    /// <summary>
    /// The vector argmax of max pooling's scatter (<see cref="PoolRows.MaxScatterPlane{TV, TVec}"/>) on each tier this
    /// machine has gives the gather definition's bits: the random geometries the vector rows cover, then stem-like pools
    /// on planes where the "first tap inside" rule decides (all −∞, whose border windows must point at their first
    /// inside tap, not at the padding), NaN-only planes of distinct payloads (the last NaN wins) and ties of ±0.
    /// </summary>
    [Test]
    public void VectorArgMaxGivesTheGatherBitsOnEveryTier()
    {
        var tiers = PoolRowsSimdTests.Tiers().ToArray();
        if (tiers.Length == 0) Assert.Ignore("no AVX2 or AVX-512 on this machine: the scalar scatter runs (checked above)");
        var rng = new Random(23);
        int cases = 0, vectorCases = 0;
        while (cases < 500)
        {
            if (PoolRowsSimdTests.RandomCase(rng, true) is not var (spec, shape)) continue;
            cases++;
            var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
            var x = PoolRowsSimdTests.Values(shape.ElementCountInt, rng, cases % 5);
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, 0);
            vectorCases += CompareTiers(g, x, dy, tiers, $"{spec} on {shape}, values of kind {cases % 5}");
        }
        Assert.That(vectorCases, Is.GreaterThan(cases / 4), "the vector argmax ran on a good share of the cases");

        var stemShape = new TensorShape(1, 3, 37, 67);
        int n = stemShape.ElementCountInt;
        float[][] patterns =
        [
            [.. Enumerable.Repeat(float.NegativeInfinity, n)],
            [.. Enumerable.Range(0, n).Select(i => BitConverter.UInt32BitsToSingle(0x7FC0_0000u | (uint)i))],
            [.. Enumerable.Range(0, n).Select(_ => rng.Next(2) == 0 ? 0f : -0f)],
            [.. Enumerable.Range(0, n).Select(_ => PoolRowsSimdTests.Specials[rng.Next(PoolRowsSimdTests.Specials.Length)])],
        ];
        foreach (var (k, s, p) in new[] { (3, 2, 1), (3, 1, 1), (2, 2, 0), (5, 1, 2), (4, 2, 2) })
        {
            var spec = new PoolSpec([k, k], [s], [p]);
            var g = PoolGeometry.Of(spec, stemShape, spec.OutputShape(stemShape));
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, 0);
            foreach (var x in patterns)
                Assert.That(CompareTiers(g, x, dy, tiers, $"{spec}"), Is.EqualTo(tiers.Length), $"{spec} takes the vector argmax on every tier");
        }

        // Rows of more than one run of maxima (PoolRows' ScatterRun, 256 outputs): 520 outputs leave a last run of 8,
        // shorter than a vector, whose vector reaches back into the run before it; 1099 and 550 leave 75 and 38.
        foreach (var (width, k, s, p) in new[] { (520, 3, 1, 1), (1100, 2, 1, 0), (1100, 3, 2, 1) })
        {
            var shape = new TensorShape(1, 2, 3, width);
            var spec = new PoolSpec([k, k], [s], [p]);
            var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
            var x = PoolRowsSimdTests.Values(shape.ElementCountInt, rng, 1); // mostly ±0: ties decided by order
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, 0);
            Assert.That(CompareTiers(g, x, dy, tiers, $"{spec} on {shape}"), Is.EqualTo(tiers.Length), $"{spec} on {shape} takes the vector argmax");
        }
    }

    /// <summary>
    /// The vector rows of average pooling's backward (<see cref="PoolRows.AverageScatterPlane{TV, TVec}"/>) on each tier
    /// this machine has give the gather definition's bits: random geometries (ranks 1–3, strides 1–3 against kernels
    /// 1–5, so 0 to 5 candidate columns an input, ceil mode, count_include_pad, rows narrower than a vector), gradients
    /// full of ±0, ±∞ and NaN payloads; then rows several vectors wide with a partial last vector, up to the widest the
    /// vector rows take (an output row of 4,096).
    /// </summary>
    [Test]
    public void VectorAverageRowsGiveTheGatherBitsOnEveryTier()
    {
        var tiers = PoolRowsSimdTests.Tiers().ToArray();
        if (tiers.Length == 0) Assert.Ignore("no AVX2 or AVX-512 on this machine: the scalar scatter runs (checked above)");
        var rng = new Random(24);
        int cases = 0;
        while (cases < 500)
        {
            if (PoolRowsSimdTests.RandomCase(rng, false) is not var (spec, shape)) continue;
            cases++;
            var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, cases % 5);
            Assert.That(CompareAverageTiers(g, dy, tiers, $"{spec} on {shape}, gradients of kind {cases % 5}"), Is.EqualTo(tiers.Length));
        }
        foreach (var (width, k, s, p, include) in new[] { (520, 3, 1, 1, false), (1100, 2, 2, 0, false), (1101, 3, 2, 1, true), (77, 5, 3, 2, true), (4095, 2, 1, 1, false) })
        {
            var shape = new TensorShape(1, 2, 5, width);
            var spec = new PoolSpec([k, k], [s], [p], CountIncludePad: include, CeilMode: width % 4 == 1);
            var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, 2);
            Assert.That(CompareAverageTiers(g, dy, tiers, $"{spec} on {shape}"), Is.EqualTo(tiers.Length), $"{spec} on {shape} takes the vector rows");
        }

        // A wider row is left to the scalar scatter (the column tables live on the stack), still the same bits.
        var wide = new TensorShape(1, 1, 5000);
        var wideSpec = new PoolSpec([3], [2], [1]);
        var wg = PoolGeometry.Of(wideSpec, wide, wideSpec.OutputShape(wide));
        Assert.That(PoolRows.CoversAverageScatter(wg, tiers[0]), Is.False);
        var wdy = PoolRowsSimdTests.Values((int)wg.OutputCount, rng, 0);
        float[] wexpected = new float[5000], wgot = new float[5000];
        CpuPooling.AverageBackward(wg, wdy, wexpected, gather: true);
        CpuPooling.AverageBackward(wg, wdy, wgot);
        Assert.That(PoolRowsSimdTests.BitsOf(wgot, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(wexpected, false)), "a 5000-wide row through the dispatch");
    }

    static int CompareAverageTiers(in PoolGeometry g, float[] dy, int[] tiers, string what) => CompareTiers(g, null, dy, tiers, what);

    /// <summary>
    /// Runs each tier that covers <paramref name="g"/> against the gather definition — max pooling's vector argmax with
    /// <paramref name="x"/>, average pooling's vector rows without — and returns how many did.
    /// </summary>
    static int CompareTiers(in PoolGeometry g, float[]? x, float[] dy, int[] tiers, string what)
    {
        var expected = new float[(long)g.Planes * g.PlaneSize];
        if (x is null) CpuPooling.AverageBackward(g, dy, expected, gather: true);
        else CpuPooling.MaxBackward(g, x, dy, expected, gather: true);
        int ran = 0;
        foreach (int lanes in tiers)
        {
            if (!(x is null ? PoolRows.CoversAverageScatter(g, lanes) : PoolRows.Covers(g, lanes))) continue;
            ran++;
            var got = new float[expected.Length];
            Array.Fill(got, float.NaN); // every element must be written
            for (int plane = 0; plane < g.Planes; plane++)
                if (x is null && lanes == 16) PoolRows.AverageScatterPlane<Vector512<float>, PoolVector512>(g, dy, got, plane);
                else if (x is null) PoolRows.AverageScatterPlane<Vector256<float>, PoolVector256>(g, dy, got, plane);
                else if (lanes == 16) PoolRows.MaxScatterPlane<Vector512<float>, PoolVector512>(g, x, dy, got, plane);
                else PoolRows.MaxScatterPlane<Vector256<float>, PoolVector256>(g, x, dy, got, plane);
            Assert.That(PoolRowsSimdTests.BitsOf(got, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"{lanes} lanes, {what}");
        }
        return ran;
    }

    /// <summary>ResNet-50's stem pool, large enough for the engine to split it over the workers by planes.</summary>
    [Test]
    public void StemPoolOnWorkers()
    {
        var spec = new PoolSpec([3, 3], [2], [1]);
        var shape = new TensorShape(1, 8, 112, 112);
        var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
        var rng = new Random(4);
        var x = PoolRowsSimdTests.Values(shape.ElementCountInt, rng, 1); // mostly ±0: ties decided by order
        var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, 0);
        using var workers = new GpuConv.Cpu.Threading.CpuWorkers(2);
        foreach (bool max in new[] { true, false })
        {
            var expected = new float[x.Length];
            var got = new float[x.Length];
            if (max) { CpuPooling.MaxBackward(g, x, dy, expected, gather: true); CpuPooling.MaxBackward(g, x, dy, got, workers); }
            else { CpuPooling.AverageBackward(g, dy, expected, gather: true); CpuPooling.AverageBackward(g, dy, got, workers); }
            Assert.That(PoolRowsSimdTests.BitsOf(got, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), max ? "max" : "avg");
        }
    }
}
