using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// SiLU (x·sigmoid(x) = x / (1 + e^-x)) and its gradient in float32 from IEEE-exact operations only — fused
/// multiply-adds, products, sums and one quotient, each rounded once to nearest even, plus integer bit work for
/// 2^k — so every device gives the same bits: these scalar and Vector256 forms, the blocks of two Vector256 and of
/// four Vector512 (SiluMath.Vector256Blocks.cs, SiluMath.Vector512.cs), and the op-for-op copies in
/// kernels/elementwise.ptx (silu_f32, silu_backward_f32) and kernels/bias.ptx (activation code 3). No MathF.Exp and no
/// ex2.approx: neither is specified to the bit. Three steps have cheaper forms on the CPU that give the same floats
/// (proven on every float32 by SiluMathSimdTests): the clamps as VMAXPS/VMINPS, 2^k as one VSCALEFPS on AVX-512, and
/// no select of 0 for x &gt; 30 in the forward (see <see cref="ExpNegSaturated(float)"/>).
/// <para>
/// e^-x: t = -x, clamped into [-30, 89]; k = round(t·log2 e) (the fused multiply-add with 1.5·2^23 rounds the exact
/// product to an integer, and k's bits are that sum's low bits); r = t - k·ln 2 in two steps (Cody–Waite: k·ln2_hi is
/// exact and t - k·ln2_hi is exact by Sterbenz, so only the ln2_lo step rounds), |r| ≤ 0.347; e^r by its Taylor
/// polynomial to r^7/7! in Horner form (truncation below 7e-9 relative); times 2^(k-1), then times 2 (2^128 is not a
/// float; both products are exact or overflow to +∞ as the rounded e^t would). For t &lt; -30 (x &gt; 30) e is 0:
/// e^-30 = 9.4e-14 vanishes next to 1 anyway, and a true 0 keeps x·(1 - s) = 0 in the gradient for huge x.
/// </para>
/// <para>
/// The ends are PyTorch's (torch 1.13's CPU silu, x / (1 + exp(-x)) in float32): silu(NaN) = NaN, silu(-0) = -0,
/// silu(+∞) = +∞, silu(-∞) = NaN (-∞/∞), and where e^-x overflows float32 (x ≤ -88.7228394, the same float as a
/// correctly rounded exp) silu(x) = -0; for x &gt; 16.7 silu(x) = x. Accuracy against float64 (SiluAccuracyTests, every
/// 61st float32 in ±100, every exponent range): silu within 2.4e-7 relative (1.73e-7 worst seen) where e^-x does not
/// overflow; the gradient within 4e-7 of |dy|·s·(1 + |x(1 - s)|) (2.56e-7 seen) where s is a normal float.
/// </para>
/// </summary>
internal static partial class SiluMath
{
    /// <summary>log2(e) rounded to float (0x3FB8AA3B).</summary>
    public const float Log2E = 1.44269502f;
    /// <summary>1.5·2^23 (0x4B400000): t·log2e + this lands in [2^23, 2^24), where floats are the integers, so the sum is t·log2e rounded to an integer (ties to even).</summary>
    public const float RoundingShift = 12582912f;
    /// <summary>-ln 2's high part, 15 significant bits (0xBF317200): k·ln2_hi is exact for |k| ≤ 256.</summary>
    public const float NegLn2Hi = -0.693145752f;
    /// <summary>-(ln 2 - ln2_hi) rounded to float (0xB5BFBE8E).</summary>
    public const float NegLn2Lo = -1.42860677e-06f;
    /// <summary>t below this (x above 30) gives e = 0.</summary>
    public const float MinExponent = -30f;
    /// <summary>t above this (x below -89) is computed as 89: e^89 overflows to +∞ as e^t would.</summary>
    public const float MaxExponent = 89f;
    /// <summary>Taylor coefficients 1/n! rounded to float: 1/2 (0x3F000000) is exact; the rest 0x3E2AAAAB, 0x3D2AAAAB, 0x3C088889, 0x3AB60B61, 0x39500D01.</summary>
    public const float C2 = 0.5f, C3 = 0.166666672f, C4 = 0.0416666679f, C5 = 0.00833333377f, C6 = 0.00138888892f, C7 = 0.000198412701f;
    /// <summary>bits(k + 1.5·2^23) + this = k - 1 + 127, the biased exponent of 2^(k-1) (0xB4C0007E as unsigned).</summary>
    public const int ScaleBias = 126 - 0x4B40_0000;

    /// <summary>
    /// The NaN every SiLU result that is NaN becomes (0x7FFFFFFF, the GPU's canonical NaN): where two NaNs meet (x's and
    /// one derived from it with its sign flipped, or dy's), x86 returns the one in the first operand slot, which the JIT
    /// chooses for a commutative product, so scalar, vector and interpreted code kept different ones.
    /// </summary>
    public const uint CanonicalNaNBits = 0x7FFF_FFFF;

    static readonly float CanonicalNaN = BitConverter.UInt32BitsToSingle(CanonicalNaNBits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Canonical(float v) => float.IsNaN(v) ? CanonicalNaN : v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Canonical(Vector256<float> v) =>
        Vector256.ConditionalSelect(Vector256.Equals(v, v), v, Vector256.Create(CanonicalNaNBits).AsSingle());

    /// <summary>e^-x as described in the class notes (0 for x &gt; 30, +∞ where it overflows, NaN for NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpNeg(float x)
    {
        float e = ExpNegSaturated(x);
        return x > -MinExponent ? 0f : e; // t = -x < -30 exactly where x > 30 (negation is exact; NaN fails both)
    }

    /// <summary>
    /// e^-x for x ≤ 30 and the same bits as <see cref="ExpNeg(float)"/> there; for x &gt; 30, e^-30 as computed (9.35e-14)
    /// instead of 0. SiLU's forward adds it to 1, where both give exactly 1 (e^-30 &lt; 2^-24, half an ulp of 1), so it
    /// leaves out the select to 0; the gradient needs the true 0 (x·e·s is not 0 for huge x).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float ExpNegSaturated(float x)
    {
        float t = -x;
        // Compare-and-select: a NaN fails both tests and stays NaN through the arithmetic below.
        float tc = t < MinExponent ? MinExponent : t;
        tc = tc > MaxExponent ? MaxExponent : tc;
        float j = MathF.FusedMultiplyAdd(tc, Log2E, RoundingShift);
        float k = j - RoundingShift;
        float r = MathF.FusedMultiplyAdd(k, NegLn2Hi, tc);
        r = MathF.FusedMultiplyAdd(k, NegLn2Lo, r);
        float p = ExpPolynomial(r);
        float half = BitConverter.Int32BitsToSingle(unchecked(BitConverter.SingleToInt32Bits(j) + ScaleBias) << 23);
        return p * half * 2f;
    }

    /// <summary><see cref="ExpNeg(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpNeg(Vector256<float> x)
    {
        var e = ExpNegSaturated(x);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(-MinExponent)), Vector256<float>.Zero, e);
    }

    /// <summary><see cref="ExpNegSaturated(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> ExpNegSaturated(Vector256<float> x)
    {
        // A sign flip (not 0 - x), as scalar negation and PTX's neg.f32.
        var t = Vector256.Xor(x, Vector256.Create(-0f));
        var tc = AtMost(Vector256.Create(MaxExponent), AtLeast(Vector256.Create(MinExponent), t));
        var shift = Vector256.Create(RoundingShift);
        var j = Vector256.FusedMultiplyAdd(tc, Vector256.Create(Log2E), shift);
        var k = j - shift;
        var r = Vector256.FusedMultiplyAdd(k, Vector256.Create(NegLn2Hi), tc);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(NegLn2Lo), r);
        var p = ExpPolynomial(r);
        return TimesTwoToThe(p, k, j);
    }

    /// <summary>
    /// e^r for the reduced argument |r| ≤ ln 2 / 2 by the degree-7 Taylor polynomial (C7 … C2, 1, 1) in Horner form,
    /// fused multiply-adds only: the step every exponential here (SiLU's, <see cref="ExpMath"/>'s, GELU's) shares.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ExpPolynomial(float r)
    {
        float p = MathF.FusedMultiplyAdd(C7, r, C6);
        p = MathF.FusedMultiplyAdd(p, r, C5);
        p = MathF.FusedMultiplyAdd(p, r, C4);
        p = MathF.FusedMultiplyAdd(p, r, C3);
        p = MathF.FusedMultiplyAdd(p, r, C2);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        return MathF.FusedMultiplyAdd(p, r, 1f);
    }

    /// <summary><see cref="ExpPolynomial(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpPolynomial(Vector256<float> r)
    {
        var one = Vector256.Create(1f);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C7), r, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r, one);
        return Vector256.FusedMultiplyAdd(p, r, one);
    }

    /// <summary>
    /// t &lt; low ? low : t. MAXPS returns its second operand when the first is not greater, NaN included, so
    /// max(low, t) is that select to the bit (NaN t stays t); one instruction instead of a compare and a blend.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> AtLeast(Vector256<float> low, Vector256<float> t) =>
        Avx.IsSupported ? Avx.Max(low, t) : Vector256.ConditionalSelect(Vector256.LessThan(t, low), low, t);

    /// <summary>t &gt; high ? high : t; MINPS(high, t) to the bit, as <see cref="AtLeast(Vector256{float}, Vector256{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> AtMost(Vector256<float> high, Vector256<float> t) =>
        Avx.IsSupported ? Avx.Min(high, t) : Vector256.ConditionalSelect(Vector256.GreaterThan(t, high), high, t);

    /// <summary>
    /// p·2^(k-1)·2 with 2^(k-1) from j's bits (see <see cref="ScaleBias"/>). With AVX-512, VSCALEFPS p·2^k rounded once:
    /// the same float, since p ∈ [0.70, 1.42] and k ∈ [-43, 128] make p·2^k a normal float (exact, as both products
    /// are) or an overflow to +∞ (as the second product overflows); a NaN p stays NaN either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> TimesTwoToThe(Vector256<float> p, Vector256<float> k, Vector256<float> j)
    {
        if (Avx512F.VL.IsSupported) return Avx512F.VL.Scale(p, k);
        var half = Vector256.ShiftLeft(j.AsInt32() + Vector256.Create(ScaleBias), 23).AsSingle();
        return p * half * Vector256.Create(2f);
    }

    /// <summary>silu(x) = x / (1 + e^-x), one IEEE division; a NaN result is <see cref="CanonicalNaNBits"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => Canonical(x / (1f + ExpNegSaturated(x)));

    /// <summary><see cref="Silu(float)"/> on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Silu(Vector256<float> x) => Canonical(x / (Vector256.Create(1f) + ExpNegSaturated(x)));

    /// <summary>sigmoid(x) = 1 / (1 + e^-x) with SiLU's e^-x, one IEEE division; a NaN result is <see cref="CanonicalNaNBits"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => Canonical(1f / (1f + ExpNegSaturated(x)));

    /// <summary><see cref="Sigmoid(float)"/> on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        return Canonical(one / (one + ExpNegSaturated(x)));
    }

    /// <summary>
    /// ∂silu(x)/∂x · dy = (dy·s)·(1 + x·(1 - s)) with s = 1 / (1 + e^-x), PyTorch's silu_backward formula and order,
    /// the last sum a fused multiply-add. For x ≥ 0, 1 - s is computed as e·s (equal in exact arithmetic): the
    /// subtraction would cancel to the rounding error of s (torch's 1 - s is 0 for x &gt; 16.6, a 6.6e-7 relative
    /// error at x = 17); for x &lt; 0 it is 1 - s itself (no cancellation, and finite where e overflows). A NaN result
    /// is <see cref="CanonicalNaNBits"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SiluBackward(float dy, float x)
    {
        float e = ExpNeg(x);
        float s = 1f / (1f + e);
        float oneMinusS = x >= 0 ? e * s : 1f - s;
        return Canonical(dy * s * MathF.FusedMultiplyAdd(x, oneMinusS, 1f));
    }

    /// <summary><see cref="SiluBackward(float, float)"/> on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SiluBackward(Vector256<float> dy, Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        var e = ExpNeg(x);
        var s = one / (one + e);
        var oneMinusS = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), e * s, one - s);
        return Canonical(dy * s * Vector256.FusedMultiplyAdd(x, oneMinusS, one));
    }
}
