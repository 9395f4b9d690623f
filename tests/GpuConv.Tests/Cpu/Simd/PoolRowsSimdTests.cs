using System.Runtime.Intrinsics;
using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The vector pools (<see cref="PoolRows"/>) give the scalar definitions' bits over
/// random geometries (ranks 1–3, kernels 1–5, strides 1–3, padding, dilation, ceil mode, count_include_pad, every border)
/// and values full of NaN (many payloads, signalling ones too), ±∞, ±0 and ties; on each vector tier this machine has
/// (AVX-512 and AVX2 in process), and through CpuPooling's own dispatch. Re-run by
/// <see cref="SimdTierChildProcessTests"/> with AVX-512 off (the AVX2 tier is the dispatch's) and with AVX2 off (no
/// vector tier: the scalar definition runs, and the tier tests check that nothing claims a vector path).
/// Max pooling only selects, so its raw bits are compared, NaN payloads included. A sum's NaN is compared as NaN: which
/// of two NaN operands an add returns is the order the JIT gives the operands of a commutative add (x86 returns the
/// first), for the scalar loop as for the vector one — the project's rule everywhere (docs/library.md: "NaN payloads aside").
/// </summary>
public class PoolRowsSimdTests
{
    internal static readonly float[] Specials =
    [
        0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN,
        BitConverter.UInt32BitsToSingle(0x7FC0_1234), BitConverter.UInt32BitsToSingle(0xFFC0_0042),
        BitConverter.UInt32BitsToSingle(0x7F80_0001), // signalling
        BitConverter.UInt32BitsToSingle(0x0000_0001), 1f, -1f,
    ];

    /// <summary>Values of one of five kinds: plain random; mostly ±0 (ties decided by order); a few specials among randoms; dense specials; almost all −0.</summary>
    internal static float[] Values(int n, Random rng, int kind)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            float r = (float)(rng.NextDouble() * 4 - 2);
            v[i] = kind switch
            {
                0 => r,
                1 => rng.Next(8) == 0 ? r : rng.Next(2) == 0 ? 0f : -0f,
                2 => rng.Next(40) == 0 ? Specials[rng.Next(Specials.Length)] : r,
                4 => rng.Next(64) == 0 ? r : -0f, // whole planes of −0 (a sum of them is −0 without the +0 start)
                _ => rng.Next(2) == 0 ? Specials[rng.Next(Specials.Length)] : r,
            };
        }
        return v;
    }

    static uint[] Raw(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    /// <summary>Raw bits for max; for sums every NaN as one value (<see cref="GpuConv.Tests.Pooling.PoolKernelTests.Bits"/>).</summary>
    internal static uint[] BitsOf(float[] v, bool max) => max ? Raw(v) : GpuConv.Tests.Pooling.PoolKernelTests.Bits(v);

    /// <summary>A random valid geometry (PyTorch's rules: padding at most half the kernel, output at least 1).</summary>
    internal static (PoolSpec Spec, TensorShape Shape)? RandomCase(Random rng, bool max)
    {
        int rank = rng.Next(1, 4);
        var k = new int[rank];
        var s = new int[rank];
        var p = new int[rank];
        var dl = new int[rank];
        var dims = new int[2 + rank];
        dims[0] = rng.Next(1, 3);
        dims[1] = rng.Next(1, 4);
        for (int d = 0; d < rank; d++)
        {
            bool w = d == rank - 1;
            k[d] = rng.Next(1, 6);
            s[d] = rng.Next(1, 4);
            p[d] = rng.Next(0, k[d] / 2 + 1);
            dl[d] = max && rng.Next(4) == 0 ? 2 : 1;
            // The width gets room for several vectors; the leading dimensions stay small.
            dims[2 + d] = w ? rng.Next(1, 90) : rng.Next(1, rank == 3 ? 6 : 12);
        }
        var spec = new PoolSpec(k, s, p, max ? dl : null, CeilMode: rng.Next(2) == 0, CountIncludePad: rng.Next(2) == 0);
        var shape = new TensorShape(dims);
        try
        {
            spec.Validate();
            spec.CheckInput(shape, "x");
        }
        catch (ArgumentException)
        {
            return null;
        }
        return (spec, shape);
    }

    /// <summary>The tiers to run in process: each of AVX-512 and AVX2 that this machine runs.</summary>
    internal static IEnumerable<int> Tiers()
    {
        if (PoolVector512.IsSupported) yield return 16;
        if (PoolVector256.IsSupported) yield return 8;
    }

    static void PlaneOnTier(int lanes, in PoolGeometry g, float[] x, float[] y, int plane, bool max)
    {
        if (lanes == 16) PoolRows.Plane<Vector512<float>, PoolVector512>(g, x, y, plane, max);
        else PoolRows.Plane<Vector256<float>, PoolVector256>(g, x, y, plane, max);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void RandomGeometriesGiveTheScalarBitsOnEveryTier(bool max)
    {
        var rng = new Random(max ? 11 : 12);
        int cases = 0, vectorCases = 0;
        var tiers = Tiers().ToArray();
        while (cases < 600)
        {
            if (RandomCase(rng, max) is not var (spec, shape)) continue;
            cases++;
            var outShape = spec.OutputShape(shape);
            var g = PoolGeometry.Of(spec, shape, outShape);
            var x = Values(shape.ElementCountInt, rng, cases % 4);
            var expected = new float[g.OutputCount];
            var viaDispatch = new float[g.OutputCount];
            if (max) CpuPooling.Max(g, x, expected, vector: false);
            else CpuPooling.Average(g, x, expected, vector: false);
            if (max) CpuPooling.Max(g, x, viaDispatch);
            else CpuPooling.Average(g, x, viaDispatch);
            Assert.That(BitsOf(viaDispatch, max), Is.EqualTo(BitsOf(expected, max)), $"dispatch, {spec} on {shape}");
            foreach (int lanes in tiers)
            {
                if (!PoolRows.Covers(g, lanes)) continue;
                vectorCases++;
                var y = new float[g.OutputCount];
                for (int plane = 0; plane < g.Planes; plane++) PlaneOnTier(lanes, g, x, y, plane, max);
                Assert.That(BitsOf(y, max), Is.EqualTo(BitsOf(expected, max)), $"{lanes} lanes, {spec} on {shape}, values of kind {cases % 4}");
            }
        }
        TestContext.Out.WriteLine($"{cases} cases, {vectorCases} tier runs on the vector rows (tiers: {string.Join(", ", tiers)})");
        if (tiers.Length > 0) Assert.That(vectorCases, Is.GreaterThan(cases / 4), "the vector rows ran on a good share of the cases");
    }

    /// <summary>
    /// ResNet's stem max pool shape (3×3, stride 2, padding 1; and stride 1 and 3×3 average pools) on planes of ties:
    /// all ±0 at random, all −∞ (every window the identity), NaN-only planes with distinct payloads, ±∞ without NaN, and mixes.
    /// </summary>
    [TestCase(2, 1)]
    [TestCase(1, 1)]
    [TestCase(2, 0)]
    public void StemShapesOnTiesInfinitiesAndNaNs(int stride, int padding)
    {
        var shape = new TensorShape(1, 6, 37, 67);
        var rng = new Random(5);
        foreach (bool max in new[] { true, false })
        {
            var spec = new PoolSpec([3, 3], [stride], [padding], CountIncludePad: padding == 0);
            var outShape = spec.OutputShape(shape);
            var g = PoolGeometry.Of(spec, shape, outShape);
            int n = shape.ElementCountInt;
            float[][] patterns =
            [
                [.. Enumerable.Range(0, n).Select(_ => rng.Next(2) == 0 ? 0f : -0f)],
                [.. Enumerable.Repeat(float.NegativeInfinity, n)],
                [.. Enumerable.Range(0, n).Select(i => BitConverter.UInt32BitsToSingle(0x7FC0_0000u | (uint)i))],
                [.. Enumerable.Range(0, n).Select(_ => Specials[rng.Next(Specials.Length)])],
                // ∞ beside −∞ without a NaN: the max's probe sum turns NaN, so those vectors are taken again.
                [.. Enumerable.Range(0, n).Select(_ => rng.Next(4) switch { 0 => float.PositiveInfinity, 1 => float.NegativeInfinity, 2 => -0f, _ => rng.NextSingle() - 0.5f })],
                Values(n, rng, 2),
            ];
            foreach (var x in patterns)
            {
                var expected = new float[g.OutputCount];
                if (max) CpuPooling.Max(g, x, expected, vector: false);
                else CpuPooling.Average(g, x, expected, vector: false);
                foreach (int lanes in Tiers())
                {
                    Assert.That(PoolRows.Covers(g, lanes), $"{spec} takes the {lanes}-lane rows");
                    var y = new float[g.OutputCount];
                    for (int plane = 0; plane < g.Planes; plane++) PlaneOnTier(lanes, g, x, y, plane, max);
                    Assert.That(BitsOf(y, max), Is.EqualTo(BitsOf(expected, max)), $"{(max ? "max" : "avg")} {lanes} lanes, {spec}");
                }
            }
        }
    }

    /// <summary>
    /// A window of more rows than <see cref="PoolRows.MaxWindowRows"/> (a 3-d kernel of 65 × 64 rows) is left to the
    /// scalar definition, whose loops need no stack for them, and still gives its bits through the dispatch.
    /// </summary>
    [Test]
    public void WindowsOfVeryManyRowsTakeTheScalarDefinition()
    {
        var spec = new PoolSpec([65, 64, 3], [1, 1, 1]);
        var shape = new TensorShape(1, 1, 65, 64, 40);
        var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
        Assert.That(g.KD * g.KH, Is.GreaterThan(PoolRows.MaxWindowRows));
        Assert.That(PoolRows.LanesFor(g), Is.EqualTo(0), "no vector tier takes it");
        var x = Values(shape.ElementCountInt, new Random(3), 2);
        foreach (bool max in new[] { true, false })
        {
            var expected = new float[g.OutputCount];
            var y = new float[g.OutputCount];
            if (max) { CpuPooling.Max(g, x, expected, vector: false); CpuPooling.Max(g, x, y); }
            else { CpuPooling.Average(g, x, expected, vector: false); CpuPooling.Average(g, x, y); }
            Assert.That(BitsOf(y, max), Is.EqualTo(BitsOf(expected, max)), max ? "max" : "avg");
        }
    }

    /// <summary>
    /// MAXPS(v, m) is exactly the scalar v &gt; m step, operand order included: −0 then +0 keeps −0, +0 then −0 keeps +0,
    /// a NaN after a number is the NaN, a number after a NaN keeps the NaN, the last of two NaNs wins.
    /// </summary>
    [Test]
    public void MaxKeepsTheFirstOfEqualValuesAndTheLastNaN()
    {
        var nan1 = BitConverter.UInt32BitsToSingle(0x7FC0_0001);
        var nan2 = BitConverter.UInt32BitsToSingle(0xFFC0_0002);
        // A 1-d stride-1 kernel of 2 on rows of pairs: output i = max(x[i], x[i + 1]).
        float[] pairs = [-0f, 0f, -0f, 1f, nan1, 2f, nan2, nan1, 3f, float.NegativeInfinity, float.NegativeInfinity];
        var x = new float[64];
        for (int i = 0; i < x.Length; i++) x[i] = pairs[i % pairs.Length];
        var spec = new PoolSpec([2], [1]);
        var shape = new TensorShape(1, 1, x.Length);
        var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
        var expected = new float[g.OutputCount];
        CpuPooling.Max(g, x, expected, vector: false);
        Assert.That(BitConverter.SingleToUInt32Bits(expected[0]), Is.EqualTo(0x8000_0000u), "scalar: −0 then +0 is −0");
        Assert.That(BitConverter.SingleToUInt32Bits(expected[1]), Is.EqualTo(0u), "scalar: +0 then −0 is +0");
        Assert.That(BitConverter.SingleToUInt32Bits(expected[4]), Is.EqualTo(0x7FC0_0001u), "scalar: NaN then 2 is the NaN");
        Assert.That(BitConverter.SingleToUInt32Bits(expected[6]), Is.EqualTo(0x7FC0_0001u), "scalar: the last of two NaNs");
        foreach (int lanes in Tiers())
        {
            var y = new float[g.OutputCount];
            PlaneOnTier(lanes, g, x, y, 0, max: true);
            Assert.That(Raw(y), Is.EqualTo(Raw(expected)), $"{lanes} lanes");
        }
    }

    /// <summary>
    /// The global average's vector lanes give the scalar loops' bits for every power-of-two thread count (below a vector's
    /// width the dispatch keeps the scalar loops) and plane sizes around the multiples of 256 and the lane widths.
    /// </summary>
    [Test]
    public unsafe void GlobalAverageLanesGiveTheScalarBits()
    {
        var rng = new Random(9);
        // The small planes' register tree at every shape of its first live level (H = 1, 2, 4, 8, 16 vectors of 8, partial and whole), 7 × 7,
        // 14 × 14, 15 × 17, around 256, and planes whose last round ends inside each of the four summed vectors.
        int[] sizes = [1, 7, 8, 9, 15, 16, 17, 24, 25, 32, 33, 40, 41, 48, 49, 56, 57, 63, 64, 65, 72, 81, 100, 121, 128, 129, 136, 169, 196, 225, 249, 255, 256, 257, 272, 280, 300, 511, 784, 1000, 3136];
        int compared = 0;
        foreach (int threads in new[] { 1, 2, 8, 16, 32, 256, 512 })
            foreach (int spatial in sizes)
                for (int kind = 0; kind < 5; kind++)
                {
                    const int planes = 5;
                    var x = Values(planes * spatial, rng, kind);
                    var expected = new float[planes];
                    var y = new float[planes];
                    CpuPooling.GlobalAverage(x, expected, planes, spatial, threads, vector: false);
                    CpuPooling.GlobalAverage(x, y, planes, spatial, threads);
                    Assert.That(BitsOf(y, false), Is.EqualTo(BitsOf(expected, false)), $"dispatch, {threads} threads, {spatial} elements, kind {kind}");
                    foreach (int lanes in Tiers())
                    {
                        if (threads < lanes) continue;
                        var partial = new float[threads];
                        for (int p = 0; p < planes; p++)
                            fixed (float* px = x, pp = partial)
                            {
                                float total = lanes == 16
                                    ? PoolRows.GlobalAverageTotal<Vector512<float>, PoolVector512>(px + p * spatial, spatial, threads, pp)
                                    : PoolRows.GlobalAverageTotal<Vector256<float>, PoolVector256>(px + p * spatial, spatial, threads, pp);
                                y[p] = total / (float)spatial;
                            }
                        Assert.That(BitsOf(y, false), Is.EqualTo(BitsOf(expected, false)), $"{lanes} lanes, {threads} threads, {spatial} elements, kind {kind}");
                        if (lanes == 8)
                        {
                            // AVX2's own paths: the small planes' register tree and the four-chain sums, per plane.
                            for (int p = 0; p < planes; p++)
                                fixed (float* px = x, pp = partial)
                                    y[p] = PoolRows.GlobalAverageTotal256(px + p * spatial, spatial, threads, pp) / (float)spatial;
                            Assert.That(BitsOf(y, false), Is.EqualTo(BitsOf(expected, false)), $"AVX2 total, {threads} threads, {spatial} elements, kind {kind}");
                        }
                        compared++;
                    }
                    if (threads >= PoolRows.Lanes && PoolRows.Lanes > 0)
                    {
                        // The planes' loop the engine runs (the machine's tier).
                        var partial = new float[threads];
                        fixed (float* px = x, py = y, pp = partial) PoolRows.GlobalAverages(px, py, planes, spatial, threads, pp);
                        Assert.That(BitsOf(y, false), Is.EqualTo(BitsOf(expected, false)), $"planes loop, {threads} threads, {spatial} elements, kind {kind}");
                    }
                }
        if (Tiers().Any()) Assert.That(compared, Is.GreaterThan(100));
    }

    /// <summary>
    /// The pools' tier follows the GEMM's expected tier (set by the child runs): 16 lanes for Vector512, 8 for Vector256,
    /// none (the scalar definitions) for Vector128 and Scalar.
    /// </summary>
    [Test]
    public void LanesFollowTheExpectedTier()
    {
        var tier = Environment.GetEnvironmentVariable(SgemmSimdTests.ExpectedTierVariable) is { } named
            ? Enum.Parse<GpuConv.Cpu.Gemm.GemmTier>(named)
            : GpuConv.Cpu.Gemm.GemmTiers.Best;
        int expected = tier switch
        {
            GpuConv.Cpu.Gemm.GemmTier.Vector512 => System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? 16 : 8,
            GpuConv.Cpu.Gemm.GemmTier.Vector256 => System.Runtime.Intrinsics.X86.Avx2.IsSupported ? 8 : 0,
            _ => 0,
        };
        Assert.That(PoolRows.Lanes, Is.EqualTo(expected), $"expected tier {tier}");
    }
}
