using System.Runtime.Intrinsics;
using GpuConv.Cpu.Elementwise;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// <see cref="ExpMath"/> against Math.Exp and <see cref="LogMath"/> against Math.Log (float64), and their Vector256 forms
/// against the scalar ones bit for bit. e^t on every 211th float of [−104, 89] (both signs, every exponent range,
/// 10.6 million floats): errors in ulps of the float nearest the exact value, that ulp never below 2^-149 (the subnormal
/// spacing), so a subnormal result is judged in units of the smallest subnormal. ln s on every 61st float of [1, 2^31)
/// (the range of softmax sums), in ulps of the float nearest ln s (ln 1 = 0 exactly). The ends exactly.
/// </summary>
public class ExpMathAccuracyTests
{
    /// <summary>The bounds: the worst errors this sweep sees (e^t 0.890 ulp at t = 26.691856, ln s 0.816 ulp at s = 1.6450275), with a little room.</summary>
    public const double ExpBound = 1.0, LogBound = 1.0;

    static double Ulps(float got, double exact)
    {
        float nearest = Math.Min((float)Math.Abs(exact), float.MaxValue);
        double ulp = Math.Max(MathF.BitIncrement(nearest) - nearest, float.Epsilon);
        return Math.Abs(got - exact) / ulp;
    }

    /// <summary>Every <paramref name="step"/>th float from bits <paramref name="from"/> up to <paramref name="to"/>, 8 at a time.</summary>
    static IEnumerable<float[]> Sweep(uint from, uint to, uint step)
    {
        var block = new float[8];
        int filled = 0;
        for (ulong b = from; b <= to; b += step)
        {
            block[filled++] = BitConverter.UInt32BitsToSingle((uint)b);
            if (filled == 8) { yield return block; filled = 0; }
        }
    }

    [Test]
    public void ExpIsWithinItsBoundOverTheWholeRange_AndVectorsEqualScalar()
    {
        double worst = 0;
        float worstAt = 0;
        long count = 0;
        var got = new float[8];
        foreach (var (from, to) in new[] { (0x8000_0000u, 0xC2D0_0000u), (0u, 0x42B2_0000u) })
            foreach (var block in Sweep(from, to, 211))
            {
                ExpMath.Exp(Vector256.Create(block)).CopyTo(got);
                for (int i = 0; i < 8; i++)
                {
                    float t = block[i], e = ExpMath.Exp(t);
                    if (BitConverter.SingleToUInt32Bits(e) != BitConverter.SingleToUInt32Bits(got[i]))
                        Assert.Fail($"e^{t:R}: vector {got[i]:R} != scalar {e:R}");
                    double exact = Math.Exp(t);
                    if (exact > float.MaxValue)
                    {
                        // Overflow: +∞ exactly where the correctly rounded result is (the last float's rounding boundary).
                        if (exact >= (double)float.MaxValue + Math.Pow(2, 103) && !float.IsPositiveInfinity(e)) Assert.Fail($"e^{t:R} = {e:R}, expected +∞");
                        continue;
                    }
                    double u = Ulps(e, exact);
                    count++;
                    if (u > worst) { worst = u; worstAt = t; }
                }
            }
        TestContext.Out.WriteLine($"e^t: {count} floats, worst {worst:F3} ulp at t = {worstAt:R}");
        Assert.That(worst, Is.LessThanOrEqualTo(ExpBound), $"worst at t = {worstAt:R}");
    }

    [Test]
    public void ExpEndsAreExact()
    {
        foreach (var (t, expected) in new[]
        {
            (0f, 1f), (-0f, 1f), (float.NegativeInfinity, 0f), (-104f, 0f), (-1000f, 0f), (float.PositiveInfinity, float.PositiveInfinity),
            (89f, float.PositiveInfinity), (88.73f, float.PositiveInfinity), (float.MinValue, 0f),
        })
        {
            Assert.That(ExpMath.Exp(t), Is.EqualTo(expected), $"e^{t:R}");
            Assert.That(ExpMath.Exp(Vector256.Create(t)).GetElement(3), Is.EqualTo(expected), $"e^{t:R} (vector)");
        }
        Assert.That(float.IsNaN(ExpMath.Exp(float.NaN)) && float.IsNaN(ExpMath.Exp(Vector256.Create(float.NaN)).GetElement(0)));
        // The smallest subnormal and the underflow boundary: e^-103.28 ≈ 2^-149, e^-103.98 < 2^-150 rounds to 0.
        Assert.That(ExpMath.Exp(-103.27893f), Is.EqualTo(float.Epsilon));
        Assert.That(ExpMath.Exp(-103.98f), Is.EqualTo(0f));
        Assert.That(ExpMath.Exp(-87.33655f), Is.EqualTo((float)Math.Exp(-87.33655f)), "near the smallest normal");
    }

    [Test]
    public void LogIsWithinItsBoundOverTheSoftmaxSums_AndVectorsEqualScalar()
    {
        double worst = 0;
        float worstAt = 0;
        long count = 0;
        var got = new float[8];
        foreach (var block in Sweep(0x3F80_0000u, 0x4EFF_FFFFu, 61))
        {
            LogMath.Log(Vector256.Create(block)).CopyTo(got);
            for (int i = 0; i < 8; i++)
            {
                float s = block[i], l = LogMath.Log(s);
                if (BitConverter.SingleToUInt32Bits(l) != BitConverter.SingleToUInt32Bits(got[i]))
                    Assert.Fail($"ln {s:R}: vector {got[i]:R} != scalar {l:R}");
                double exact = Math.Log(s);
                double u = exact == 0 ? (l == 0 ? 0 : double.PositiveInfinity) : Ulps(l, exact);
                count++;
                if (u > worst) { worst = u; worstAt = s; }
            }
        }
        TestContext.Out.WriteLine($"ln s: {count} floats, worst {worst:F3} ulp at s = {worstAt:R}");
        Assert.That(worst, Is.LessThanOrEqualTo(LogBound), $"worst at s = {worstAt:R}");
    }

    [Test]
    public void LogEndsAreExact()
    {
        Assert.That(LogMath.Log(1f), Is.EqualTo(0f));
        Assert.That(BitConverter.SingleToUInt32Bits(LogMath.Log(1f)), Is.Zero, "ln 1 = +0");
        Assert.That(LogMath.Log(2f), Is.EqualTo((float)Math.Log(2)));
        Assert.That(float.IsNaN(LogMath.Log(float.NaN)) && float.IsNaN(LogMath.Log(Vector256.Create(float.NaN)).GetElement(5)));
        // Below 1 (not softmax sums, but inside the domain): still correct to the bound.
        foreach (float s in new[] { 0.5f, 1e-3f, 1.17549435e-38f, 0.70710677f, 0.7071068f })
            Assert.That(Ulps(LogMath.Log(s), Math.Log(s)), Is.LessThanOrEqualTo(LogBound), $"ln {s:R}");
    }
}
