using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// e^t in float32 over the whole float range, from IEEE-exact operations only (fused multiply-adds, products, sums,
/// compare-and-select and integer bit work, each float operation rounded once to nearest even), so this scalar form,
/// the Vector256 form and the op-for-op copy in kernels/softmax.ptx give the same bits. No MathF.Exp, no ex2.approx.
/// Softmax needs e^t for t = x − max in [−∞, 0], where <see cref="SiluMath"/>'s e^-x (0 beyond 30) is too coarse.
/// <para>
/// t is clamped into [<see cref="MinArgument"/>, <see cref="MaxArgument"/>] by compare-and-select (NaN passes both
/// and stays NaN); k = round(t·log2 e) by the 1.5·2^23 shift; r = t − k·ln 2 in two steps (SiluMath's Cody–Waite
/// constants: k·ln2_hi exact for |k| ≤ 256); e^r by SiluMath's Taylor polynomial to r^7/7!; then 2^k applied as two
/// factors 2^(k>>1)·2^(k − (k>>1)), both normal floats for k in [−150, 128]: p·2^(k>>1) is exact, so a subnormal
/// result is rounded once (no double rounding), and the result overflows to +∞ exactly where p·2^k does.
/// </para>
/// <para>
/// Ends: e^−∞ = +0 (t clamps to −104, e^−104 = 6.8e-46 rounds to 0 as the true value does), e^+∞ = +∞, e^NaN = NaN,
/// e^0 = 1 exactly (r = 0, p = 1). Accuracy against Math.Exp (double), asserted by ExpMathAccuracyTests on every 211th
/// float in [−104, 89]: worst 0.890 ulp (in ulps of the float nearest e^t, that ulp never below 2^-149, so a
/// subnormal result is judged in units of the smallest subnormal).
/// </para>
/// </summary>
internal static class ExpMath
{
    /// <summary>t below this computes e^−104 (6.8e-46, below half the smallest subnormal, so +0).</summary>
    public const float MinArgument = -104f;
    /// <summary>t above this computes e^89 (+∞, as e^t for every t above ln(float.MaxValue) = 88.72).</summary>
    public const float MaxArgument = 89f;
    /// <summary>bits(j) − this = k, the integer in j = k + 1.5·2^23.</summary>
    const int ShiftBits = 0x4B40_0000;

    /// <summary>e^t as the class comment describes; NaN for NaN (not canonicalised: callers that store NaN do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float t)
    {
        float tc = t < MinArgument ? MinArgument : t;
        tc = tc > MaxArgument ? MaxArgument : tc;
        float j = MathF.FusedMultiplyAdd(tc, SiluMath.Log2E, SiluMath.RoundingShift);
        float k = j - SiluMath.RoundingShift;
        float r = MathF.FusedMultiplyAdd(k, SiluMath.NegLn2Hi, tc);
        r = MathF.FusedMultiplyAdd(k, SiluMath.NegLn2Lo, r);
        float p = SiluMath.ExpPolynomial(r);
        var (s1, s2) = PowerOfTwoPair(j);
        return p * s1 * s2;
    }

    /// <summary>
    /// 2^k as two factors s1 = 2^(k&gt;&gt;1), s2 = 2^(k - (k&gt;&gt;1)), k read from the rounding-shifted j's low bits: both
    /// normal floats for every k the exponentials reach, so p·s1·s2 rounds once into the subnormal range instead of
    /// flushing (<see cref="GeluMath"/> uses the pair too).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (float S1, float S2) PowerOfTwoPair(float j)
    {
        int ki = unchecked(BitConverter.SingleToInt32Bits(j) - ShiftBits);
        int k1 = ki >> 1;
        return (BitConverter.Int32BitsToSingle(unchecked((k1 + 127) << 23)), BitConverter.Int32BitsToSingle(unchecked((ki - k1 + 127) << 23)));
    }

    /// <summary><see cref="Exp(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> t)
    {
        var low = Vector256.Create(MinArgument);
        var high = Vector256.Create(MaxArgument);
        var tc = Vector256.ConditionalSelect(Vector256.LessThan(t, low), low, t);
        tc = Vector256.ConditionalSelect(Vector256.GreaterThan(tc, high), high, tc);
        var shift = Vector256.Create(SiluMath.RoundingShift);
        var j = Vector256.FusedMultiplyAdd(tc, Vector256.Create(SiluMath.Log2E), shift);
        var k = j - shift;
        var r = Vector256.FusedMultiplyAdd(k, Vector256.Create(SiluMath.NegLn2Hi), tc);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(SiluMath.NegLn2Lo), r);
        var p = SiluMath.ExpPolynomial(r);
        var (s1, s2) = PowerOfTwoPair(j);
        return p * s1 * s2;
    }

    /// <summary><see cref="PowerOfTwoPair(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float> S1, Vector256<float> S2) PowerOfTwoPair(Vector256<float> j)
    {
        var ki = j.AsInt32() - Vector256.Create(ShiftBits);
        var k1 = Vector256.ShiftRightArithmetic(ki, 1);
        var bias = Vector256.Create(127);
        return (Vector256.ShiftLeft(k1 + bias, 23).AsSingle(), Vector256.ShiftLeft(ki - k1 + bias, 23).AsSingle());
    }

    /// <summary><see cref="PowerOfTwoPair(float)"/> on 16 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<float> S1, Vector512<float> S2) PowerOfTwoPair(Vector512<float> j)
    {
        var ki = j.AsInt32() - Vector512.Create(ShiftBits);
        var k1 = Vector512.ShiftRightArithmetic(ki, 1);
        var bias = Vector512.Create(127);
        return (Vector512.ShiftLeft(k1 + bias, 23).AsSingle(), Vector512.ShiftLeft(ki - k1 + bias, 23).AsSingle());
    }
}
