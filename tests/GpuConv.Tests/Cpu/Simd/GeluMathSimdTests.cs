using System.Runtime.Intrinsics;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// GeluMath's scalar, Vector256 and Vector512 forms (both approximations, forward and gradient), and the element-wise loop
/// that picks between them (<see cref="ElementwiseMap.MapWide{TFunction}(TFunction, ref float, ref float, nuint)"/>), give
/// the same bits over a sweep of every float32 exponent (NaN, ±∞ and subnormals included). The Vector512 forms are called
/// directly, so they are checked where AVX-512 is off too (as the runtime's software vectors: re-run so by
/// <see cref="SimdTierChildProcessTests"/>), and the loop at every length and offset where it switches from Vector512 to
/// Vector256 to scalar steps. The accuracy against float64 is GeluAccuracyTests'.
/// </summary>
public class GeluMathSimdTests
{
    static readonly string[] Ops = ["Gelu", "GeluTanh", "GeluBackward", "GeluTanhBackward"];

    static float Scalar(ElementwiseOp op, float dy, float x) => op switch
    {
        ElementwiseOp.Gelu => GeluMath.Gelu(x),
        ElementwiseOp.GeluTanh => GeluMath.GeluTanh(x),
        ElementwiseOp.GeluBackward => GeluMath.GeluBackward(dy, x),
        _ => GeluMath.GeluTanhBackward(dy, x),
    };

    static Vector256<float> Form256(ElementwiseOp op, Vector256<float> dy, Vector256<float> x) => op switch
    {
        ElementwiseOp.Gelu => GeluMath.Gelu(x),
        ElementwiseOp.GeluTanh => GeluMath.GeluTanh(x),
        ElementwiseOp.GeluBackward => GeluMath.GeluBackward(dy, x),
        _ => GeluMath.GeluTanhBackward(dy, x),
    };

    static Vector512<float> Form512(ElementwiseOp op, Vector512<float> dy, Vector512<float> x) => op switch
    {
        ElementwiseOp.Gelu => GeluMath.Gelu(x),
        ElementwiseOp.GeluTanh => GeluMath.GeluTanh(x),
        ElementwiseOp.GeluBackward => GeluMath.GeluBackward(dy, x),
        _ => GeluMath.GeluTanhBackward(dy, x),
    };

    /// <summary>The loop: the forward ops take x alone, the gradients (dy, x).</summary>
    static float[] Loop(ElementwiseOp op, ReadOnlySpan<float> dy, ReadOnlySpan<float> x)
    {
        var o = new float[x.Length];
        if (op.Inputs() == 2) CpuElementwise.Run(op, dy, x, 0f, o);
        else CpuElementwise.Run(op, x, x, 0f, o);
        return o;
    }

    [TestCaseSource(nameof(Ops))]
    public void ScalarVector256Vector512AndLoopGiveTheSameBits(string name)
    {
        var op = Enum.Parse<ElementwiseOp>(name);
        const int n = 1 << 18;
        var (x, dy) = Patterns(n);
        var loop = Loop(op, dy, x);
        int mismatches = 0;
        string first = "";
        for (int i = 0; i < n; i += 16)
        {
            var v512 = Form512(op, Vector512.Create(dy, i), Vector512.Create(x, i));
            var lo = Form256(op, Vector256.Create(dy, i), Vector256.Create(x, i));
            var hi = Form256(op, Vector256.Create(dy, i + 8), Vector256.Create(x, i + 8));
            for (int k = 0; k < 16; k++)
            {
                uint want = Bits(Scalar(op, dy[i + k], x[i + k]));
                if (want != Bits(v512[k]) || want != Bits(k < 8 ? lo[k] : hi[k - 8]) || want != Bits(loop[i + k]))
                    if (mismatches++ == 0) first = $"x = {x[i + k]:R} (0x{Bits(x[i + k]):X8}), dy = {dy[i + k]:R}";
            }
        }
        TestContext.Out.WriteLine($"{op}: Vector512 steps in the loop: {ElementwiseMap.Wide}; {n} values");
        Assert.That(mismatches, Is.Zero, $"{op}: first at {first}");
    }

    /// <summary>
    /// Every length from 0 to 70 and around one and two of the regime loops' chunks (<see cref="GeluMath.RegimeChunk"/>
    /// floats) at three offsets, in place and into another array: each element is its scalar value.
    /// </summary>
    [TestCaseSource(nameof(Ops))]
    public void LoopsOfEveryLengthAndOffsetGiveTheScalarBits(string name)
    {
        var op = Enum.Parse<ElementwiseOp>(name);
        var (x, dy) = Patterns(2 * 997 + 5 + 2 * GeluMath.RegimeChunk + 17);
        const int chunk = GeluMath.RegimeChunk;
        int[] lengths = [.. Enumerable.Range(0, 71), .. Enumerable.Range(chunk - 17, 36), 2 * chunk - 1, 2 * chunk, 2 * chunk + 1, 2 * chunk + 17];
        for (int offset = 0; offset < 3; offset++)
            foreach (int length in lengths)
            {
                var xs = x.AsSpan(offset * 997 + 5, length);
                var dys = dy.AsSpan(offset * 991 + 3, length);
                var o = Loop(op, dys, xs);
                var inPlace = xs.ToArray();
                if (op.Inputs() == 2) CpuElementwise.Run(op, dys, inPlace, 0f, inPlace);
                else CpuElementwise.Run(op, inPlace, inPlace, 0f, inPlace);
                for (int i = 0; i < length; i++)
                {
                    uint want = Bits(Scalar(op, dys[i], xs[i]));
                    if (Bits(o[i]) != want || Bits(inPlace[i]) != want)
                        Assert.Fail($"{op}, length {length}, offset {offset}, element {i}: x = {xs[i]:R}: 0x{Bits(o[i]):X8} / in place 0x{Bits(inPlace[i]):X8}, scalar 0x{want:X8}");
                }
            }
    }

    static IEnumerable<TestCaseData> RegimeShares() =>
        from op in new[] { "Gelu", "GeluBackward" }
        from share in new[] { 0.0, 0.1, 0.5, 0.9, 1.0 }
        select new TestCaseData(op, share);

    /// <summary>
    /// The forward and the gradient (on AVX-512 the forward packs its two regimes apart and the gradient runs a vector in one
    /// regime as that regime alone: GeluMath.RegimesApart.cs) with every share of lanes beyond the polynomial's range (|x| ≥ 1,
    /// NaN and ±∞ among them) — none, a few, half, all — and runs of near and far vectors: each element is its scalar value,
    /// into another array and in place (the gradient into x and into dy).
    /// </summary>
    [TestCaseSource(nameof(RegimeShares))]
    public void TheRegimesApartGiveTheScalarBitsWhateverTheShareOfFarLanes(string name, double farShare)
    {
        var op = Enum.Parse<ElementwiseOp>(name);
        var rng = new Random(9);
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1f, -1f, 15.5f, -15.5f, 1e30f, -1e30f];
        var x = new float[3 * GeluMath.RegimeChunk + 37]; // three chunks of the forward's packing and a ragged end
        for (int i = 0; i < x.Length; i++)
        {
            bool far = (i / 300 % 2 == 1 && farShare > 0) || rng.NextDouble() < farShare; // runs of 300 with far lanes in
            double m = far ? 1 + rng.NextDouble() * 17 : rng.NextDouble() * 0.999;
            x[i] = far && rng.Next(50) == 0 ? specials[rng.Next(specials.Length)] : (float)(rng.Next(2) == 0 ? m : -m);
        }
        var dy = new float[x.Length];
        for (int i = 0; i < dy.Length; i++) dy[i] = i % 97 == 0 ? specials[i % specials.Length] : (float)(rng.NextDouble() * 4 - 2);
        bool gradient = op == ElementwiseOp.GeluBackward;
        var y = Loop(op, dy, x);
        var intoX = (float[])x.Clone();
        var intoDy = (float[])dy.Clone();
        if (gradient)
        {
            CpuElementwise.Run(op, dy, intoX, 0f, intoX);
            CpuElementwise.Run(op, intoDy, x, 0f, intoDy);
        }
        else
        {
            CpuElementwise.Run(op, intoX, intoX, 0f, intoX);
            intoDy = intoX;
        }
        for (int i = 0; i < x.Length; i++)
        {
            uint want = Bits(Scalar(op, dy[i], x[i]));
            if (Bits(y[i]) != want || Bits(intoX[i]) != want || Bits(intoDy[i]) != want)
                Assert.Fail($"{op}, element {i}: x = {x[i]:R}, dy = {dy[i]:R}: 0x{Bits(y[i]):X8} / in place 0x{Bits(intoX[i]):X8}, 0x{Bits(intoDy[i]):X8}; scalar 0x{want:X8}");
        }
    }

    /// <summary>
    /// The AVX2 packing (<see cref="GeluMath.GeluRegimesApart256"/>, which the loop runs only where AVX-512 is off: the
    /// child processes of SimdTierChildProcessTests) called directly, with every share of far lanes, at lengths around one
    /// and two chunks and at every ragged end, into another array and in place: each element it does is its scalar value.
    /// </summary>
    [TestCase(0.0), TestCase(0.1), TestCase(0.5), TestCase(0.9), TestCase(1.0)]
    public void TheAvx2PackingGivesTheScalarBitsWhateverTheShareOfFarLanes(double farShare)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.Ignore("no AVX2 on this machine: the packing is not run here");
        var rng = new Random(11);
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1f, -1f, 15.5f, -15.5f, 1e30f, -1e30f, -0f];
        const int chunk = GeluMath.RegimeChunk;
        var x = new float[3 * chunk + 37];
        for (int i = 0; i < x.Length; i++)
        {
            bool far = (i / 300 % 2 == 1 && farShare > 0) || rng.NextDouble() < farShare;
            double m = far ? 1 + rng.NextDouble() * 17 : rng.NextDouble() * 0.999;
            x[i] = far && rng.Next(40) == 0 ? specials[rng.Next(specials.Length)] : (float)(rng.Next(2) == 0 ? m : -m);
        }
        int[] lengths = [.. Enumerable.Range(0, 20), chunk - 1, chunk, chunk + 7, chunk + 8, 2 * chunk + 9, x.Length];
        foreach (int length in lengths)
        {
            var y = new float[length];
            var inPlace = x[..length];
            nuint done = length == 0 ? 0 : GeluMath.GeluRegimesApart256(ref x[0], ref y[0], (nuint)length);
            nuint doneInPlace = length == 0 ? 0 : GeluMath.GeluRegimesApart256(ref inPlace[0], ref inPlace[0], (nuint)length);
            Assert.That(done, Is.EqualTo((nuint)(length - length % 8)), $"length {length}: the floats done");
            Assert.That(doneInPlace, Is.EqualTo(done));
            for (int i = 0; i < (int)done; i++)
            {
                uint want = Bits(GeluMath.Gelu(x[i]));
                if (Bits(y[i]) != want || Bits(inPlace[i]) != want)
                    Assert.Fail($"length {length}, element {i}: x = {x[i]:R}: 0x{Bits(y[i]):X8} / in place 0x{Bits(inPlace[i]):X8}, scalar 0x{want:X8}");
            }
        }
    }

    /// <summary>
    /// <see cref="FloatPatterns.EveryExponent"/>, every eighth x then drawn from [-18, 18): dense where GELU's branches
    /// meet, |x| near 1 (the polynomial / tail split) and x²/2 or |w| near 120 (saturation).
    /// </summary>
    static (float[] X, float[] Dy) Patterns(int n)
    {
        var (x, dy) = FloatPatterns.EveryExponent(n, 5);
        var rng = new Random(6);
        for (int i = 0; i < n / 8; i++)
            x[i * 8] = (float)(rng.NextDouble() * 36 - 18);
        return (x, dy);
    }

    static uint Bits(float v) => BitConverter.SingleToUInt32Bits(v);
}
