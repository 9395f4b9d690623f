using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// GELU (torch.nn.functional.gelu, approximate='none' and 'tanh') and its gradients in float32 from IEEE-exact operations
/// only — fused multiply-adds, products, sums, quotients, compare-and-select, sign-bit and exponent-bit work, each
/// rounded once to nearest even — so these scalar and Vector256 forms, the Vector512 ones (GeluMath.Vector512.cs), the
/// forward's regimes run apart (GeluMath.RegimesApart.cs, GeluMath.RegimesApartAvx2.cs) and the op-for-op copies in kernels/elementwise.ptx
/// (gelu_f32, gelu_backward_f32, gelu_tanh_f32, gelu_tanh_backward_f32) give the same bits. No MathF.Exp, no erf from a
/// library, no ex2.approx / tanh.approx / rcp.approx.
/// <para>
/// 'none': gelu(x) = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2 the normal CDF, taken straight in x (no rounded x/√2). For |x| &lt; 1,
/// Φ(x) = 0.5 + x·P(x²), P of degree 5 fitted to (Φ(x) - 0.5)/x (<see cref="P0"/>..<see cref="P5"/>). For |x| ≥ 1 the
/// tail c = Φ(-|x|) = e^(-x²/2)·g(|x|), g(a) = Q(1/(a + 2) - <see cref="TailCentre"/>) / (a + 2), Q of degree 9 fitted
/// to g(a)·(a + 2) (<see cref="Q0"/>..<see cref="Q9"/>; the quotient corrected by its exact remainder and by the exact
/// rounding error of a + 2, so g is rounded about once); x &lt; 0 gives x·c, x &gt; 0 gives x·(1 - c), neither cancels.
/// e^(-x²/2): x² split into x·x + fma(x, x, -x·x) (exact), the low part folded into the reduced argument of
/// <see cref="SiluMath"/>'s Cody–Waite and Taylor sequence, and 2^k applied as two factors 2^(k/2)·2^(k - k/2) at the
/// very end, so a result in the subnormal range is rounded once, not twice. The gradient Φ(x) + x·φ(x) (φ the normal
/// density, φ(x) = e^(-x²/2)/√(2π)) uses the same pieces: for x ≤ -1 e^(-x²/2)·(g - |x|/√(2π)), for x ≥ 1
/// 1 + e^(-x²/2)·(x/√(2π) - g).
/// </para>
/// <para>
/// 'tanh': 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x·σ(w) with w = 2u and σ the logistic
/// function (1 + tanh(u) = 2σ(2u) exactly, so nothing cancels for x &lt; 0). w = x·(c1 + c2·x²) in double-float (hi + lo
/// parts for the constants, x² and the sum; the 2Sum of c1 and c2·x² exact), because e^-w amplifies an error in w by |w|
/// (up to 120). e^(-|w|) by the same scaled sequence; x ≥ 0: x/(1 + e), x &lt; 0: (x·p/(1 + e))·2^k. The gradient
/// σ(w)·(1 + x·(1 - σ(w))·w'), w' = c1 + 3·c2·x², with σ and 1 - σ taken from e^(-|w|) without a subtraction.
/// </para>
/// <para>
/// Ends, as torch 1.13 where it is defined: gelu(±0) = ±0, gelu(+∞) = +∞, gelu(-∞) = NaN (-∞·0), gelu(NaN) = NaN (the
/// canonical 0x7FFFFFFF); x²/2 or |w| above 120 gives x for x &gt; 0 and x·0 = -0 below (the true value is under
/// 1e-45); the gradients are 1 and +0 there and NaN at ±∞ (torch's x·pdf = ±∞·0). Accuracy against float64 is measured
/// and asserted in tests/GpuConv.Tests/Gelu/GeluAccuracyTests.cs. P and Q were fitted by
/// tests/GpuConv.Tests/Gelu/fit_gelu_coefficients.py (weighted least squares, float32 rounding one coefficient at a time).
/// </para>
/// </summary>
internal static partial class GeluMath
{
    /// <summary>Below this |x| the 'none' forms use the polynomial P, at and above it the tail (0x3F800000).</summary>
    public const float Split = 1f;
    /// <summary>P(z) = P0 + z·(P1 + … + z·P5): 0x3ECC422A (1/√(2π)), 0xBD882C62, 0x3C2378D4, 0xBA9D0290, 0x3904A658, 0xB756CC52.</summary>
    public const float P0 = 0.398942292f, P1 = -0.0664909035f, P2 = 0.00997753814f, P3 = -0.00119789131f, P4 = 0.000126504689f, P5 = -1.2802966e-05f;
    /// <summary>The tail's shift 2 (a + 2 is never 0 and its rounding error is exact: a - ((a + 2) - 2)).</summary>
    public const float TailShift = 2f;
    /// <summary>The centre of 1/(a + 2) over a ∈ [1, 15.6] (0x3E47C1F0): Q's argument is t - this, so its Horner sum does not cancel.</summary>
    public const float TailCentre = 0.195075750f;
    /// <summary>Q(v) = Q0 + v·(Q1 + … + v·Q9): 0x3F19F3A6, 0x3FA08803, 0x3F555EBB, 0xC00615B3, 0xC010DCED, 0x4102AC5B, 0x400ED15A, 0xC21AA8D3, 0x41D947F8, 0x43048B3E.</summary>
    public const float Q0 = 0.60137403f, Q1 = 1.25415075f, Q2 = 0.833476722f, Q3 = -2.09507442f, Q4 = -2.26348424f,
        Q5 = 8.16707897f, Q6 = 2.23152781f, Q7 = -38.6648674f, Q8 = 27.160141f, Q9 = 132.543915f;
    /// <summary>1/√(2π) rounded to float (0x3ECC422A), the normal density's factor.</summary>
    public const float InvSqrt2Pi = 0.398942292f;
    /// <summary>c1 = 2·√(2/π) as hi + lo (0x3FCC422A, 0xB342BC9B).</summary>
    public const float C1Hi = 1.59576917f, C1Lo = -4.53406805e-08f;
    /// <summary>c2 = 2·√(2/π)·0.044715 as hi + lo (0x3D922279, 0x3124D8B5).</summary>
    public const float C2Hi = 0.0713548139f, C2Lo = 2.39883247e-09f;
    /// <summary>3·c2 rounded to float (0x3E5B33B6), in w' = c1 + 3·c2·x².</summary>
    public const float ThreeC2 = 0.214064449f;
    /// <summary>The largest exponent argument used: x²/2 or |w| above it gives the saturated results (e^-120 = 7.7e-53).</summary>
    public const float MaxExponent = 120f;
    const uint SignBit = 0x8000_0000;

    // ---- scalar ----

    /// <summary>
    /// e^-(h + l) = p·s1·s2 for 0 ≤ h (l a small correction, |l| ≤ ulp(h)): h clamped to <see cref="MaxExponent"/>;
    /// k = round(-h·log2 e); r = -h - k·ln 2 (two steps, exact then rounded) - l; p = e^r by SiluMath's Taylor
    /// polynomial; s1 = 2^(k>>1), s2 = 2^(k - (k>>1)), both normal floats for k ≥ -174.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float ExpNegScaled(float h, float l, out float s1, out float s2)
    {
        float hc = h > MaxExponent ? MaxExponent : h;
        float j = MathF.FusedMultiplyAdd(-hc, SiluMath.Log2E, SiluMath.RoundingShift);
        float k = j - SiluMath.RoundingShift;
        float r = MathF.FusedMultiplyAdd(k, SiluMath.NegLn2Hi, -hc);
        r = MathF.FusedMultiplyAdd(k, SiluMath.NegLn2Lo, r);
        r -= l;
        (s1, s2) = ExpMath.PowerOfTwoPair(j);
        return SiluMath.ExpPolynomial(r);
    }

    /// <summary>P(z) by Horner.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float PolyP(float z)
    {
        float q = MathF.FusedMultiplyAdd(P5, z, P4);
        q = MathF.FusedMultiplyAdd(q, z, P3);
        q = MathF.FusedMultiplyAdd(q, z, P2);
        q = MathF.FusedMultiplyAdd(q, z, P1);
        return MathF.FusedMultiplyAdd(q, z, P0);
    }

    /// <summary>g(a) = Φ(-a)·e^(a²/2) for a ≥ 1: Q(t - centre)/d with d = a + 2, t = 1/d, the quotient corrected once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tail(float a)
    {
        float d = a + TailShift;
        float t = 1f / d;
        float v = t - TailCentre;
        float q = MathF.FusedMultiplyAdd(Q9, v, Q8);
        q = MathF.FusedMultiplyAdd(q, v, Q7);
        q = MathF.FusedMultiplyAdd(q, v, Q6);
        q = MathF.FusedMultiplyAdd(q, v, Q5);
        q = MathF.FusedMultiplyAdd(q, v, Q4);
        q = MathF.FusedMultiplyAdd(q, v, Q3);
        q = MathF.FusedMultiplyAdd(q, v, Q2);
        q = MathF.FusedMultiplyAdd(q, v, Q1);
        q = MathF.FusedMultiplyAdd(q, v, Q0);
        float g = q / d;
        float dLo = a - (d - TailShift);               // a + 2 = d + dLo exactly
        float rem = MathF.FusedMultiplyAdd(-g, d, q);  // q - g·d exactly
        return MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(-g, dLo, rem), t, g);
    }

    /// <summary>gelu(x), approximate='none'; a NaN result is the canonical NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x)
    {
        float a = Abs(x);
        float z = x * x;
        float small = x * MathF.FusedMultiplyAdd(x, PolyP(z), 0.5f);
        float h = 0.5f * z;
        float p = ExpNegScaled(h, 0.5f * MathF.FusedMultiplyAdd(x, x, -z), out float s1, out float s2);
        float g = Tail(a);
        float below = x * g * p * s1 * s2;
        float above = x * (1f - g * (p * s1 * s2));
        float y = a < Split ? small : h > MaxExponent ? (x < 0f ? x * 0f : x) : x < 0f ? below : above;
        return SiluMath.Canonical(y);
    }

    /// <summary>dy·(Φ(x) + x·φ(x)), torch's gelu_backward for approximate='none'; a NaN result is the canonical NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GeluBackward(float dy, float x)
    {
        float a = Abs(x);
        float z = x * x;
        float cdf = MathF.FusedMultiplyAdd(x, PolyP(z), 0.5f);
        float h = 0.5f * z;
        float p = ExpNegScaled(h, 0.5f * MathF.FusedMultiplyAdd(x, x, -z), out float s1, out float s2);
        float e = p * s1 * s2;
        float small = MathF.FusedMultiplyAdd(x, InvSqrt2Pi * e, cdf);
        float m = MathF.FusedMultiplyAdd(a, InvSqrt2Pi, -Tail(a)); // |x|·φ0 - g > 0 for |x| ≥ 1
        float below = -(m * p * s1 * s2);
        float above = MathF.FusedMultiplyAdd(e, m, 1f);
        float d = a < Split ? small : h > MaxExponent ? (x < 0f ? x * 0f + 0f : MathF.FusedMultiplyAdd(x, 0f, 1f)) : x < 0f ? below : above;
        return SiluMath.Canonical(dy * d);
    }

    /// <summary>
    /// |w| as hi + lo for w = x·(c1 + c2·x²) (double-float), and x² (rounded), for the 'tanh' forms.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float TanhArgument(float x, out float z, out float lo)
    {
        z = x * x;
        float zLo = MathF.FusedMultiplyAdd(x, x, -z);
        float t = C2Hi * z;
        float tLo = MathF.FusedMultiplyAdd(C2Hi, z, -t);
        float s = C1Hi + t;
        float bb = s - C1Hi;
        float sLo = (C1Hi - (s - bb)) + (t - bb);      // 2Sum: C1Hi + t = s + sLo exactly
        float pLo = sLo + (tLo + MathF.FusedMultiplyAdd(C2Hi, zLo, C2Lo * z)) + C1Lo;
        float w = x * s;
        float wLo = MathF.FusedMultiplyAdd(x, pLo, MathF.FusedMultiplyAdd(x, s, -w));
        lo = w < 0f ? -wLo : wLo;
        return Abs(w);
    }

    /// <summary>gelu(x), approximate='tanh', as x·σ(w); a NaN result is the canonical NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GeluTanh(float x)
    {
        float w = TanhArgument(x, out _, out float lo);
        float p = ExpNegScaled(w, lo, out float s1, out float s2);
        float d = 1f + p * s1 * s2;
        float above = x / d;
        float below = x * p / d * s1 * s2;
        float y = w > MaxExponent ? (x < 0f ? x * 0f : x) : x < 0f ? below : above;
        return SiluMath.Canonical(y);
    }

    /// <summary>dy·σ(w)·(1 + x·(1 - σ(w))·w'), torch's gelu_backward for approximate='tanh'; a NaN result is the canonical NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GeluTanhBackward(float dy, float x)
    {
        float w = TanhArgument(x, out float z, out float lo);
        float p = ExpNegScaled(w, lo, out float s1, out float s2);
        float e = p * s1 * s2;
        float slope = MathF.FusedMultiplyAdd(ThreeC2, z, C1Hi);
        float inv = 1f / (1f + e);
        float above = inv * MathF.FusedMultiplyAdd(x * (e * inv), slope, 1f);
        float below = p * inv * MathF.FusedMultiplyAdd(x * inv, slope, 1f) * s1 * s2;
        float d = w > MaxExponent ? (x < 0f ? x * 0f + 0f : MathF.FusedMultiplyAdd(x, 0f, 1f)) : x < 0f ? below : above;
        return SiluMath.Canonical(dy * d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Abs(float x) => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(x) & ~SignBit);

    // ---- Vector256: the same operations lane by lane ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> C(float v) => Vector256.Create(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    /// <summary>x &lt; y ? a : b lane by lane (false for NaN, as the scalar compare).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> IfLess(Vector256<float> x, Vector256<float> y, Vector256<float> a, Vector256<float> b) =>
        Vector256.ConditionalSelect(Vector256.LessThan(x, y), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> ExpNegScaled(Vector256<float> h, Vector256<float> l, out Vector256<float> s1, out Vector256<float> s2)
    {
        var hc = IfLess(C(MaxExponent), h, C(MaxExponent), h);
        var shift = C(SiluMath.RoundingShift);
        var j = Fma(Neg(hc), C(SiluMath.Log2E), shift);
        var k = j - shift;
        var r = Fma(k, C(SiluMath.NegLn2Hi), Neg(hc));
        r = Fma(k, C(SiluMath.NegLn2Lo), r);
        r -= l;
        (s1, s2) = ExpMath.PowerOfTwoPair(j);
        return SiluMath.ExpPolynomial(r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> PolyP(Vector256<float> z)
    {
        var q = Fma(C(P5), z, C(P4));
        q = Fma(q, z, C(P3));
        q = Fma(q, z, C(P2));
        q = Fma(q, z, C(P1));
        return Fma(q, z, C(P0));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Tail(Vector256<float> a)
    {
        var d = a + C(TailShift);
        var t = C(1f) / d;
        var v = t - C(TailCentre);
        var q = Fma(C(Q9), v, C(Q8));
        q = Fma(q, v, C(Q7));
        q = Fma(q, v, C(Q6));
        q = Fma(q, v, C(Q5));
        q = Fma(q, v, C(Q4));
        q = Fma(q, v, C(Q3));
        q = Fma(q, v, C(Q2));
        q = Fma(q, v, C(Q1));
        q = Fma(q, v, C(Q0));
        var g = q / d;
        var dLo = a - (d - C(TailShift));
        var rem = Fma(Neg(g), d, q);
        return Fma(Fma(Neg(g), dLo, rem), t, g);
    }

    /// <summary>A sign flip (not 0 - v), as scalar negation and PTX's neg.f32: -(+0) is -0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Neg(Vector256<float> v) => Vector256.Xor(v, C(-0f));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Abs(Vector256<float> x) => Vector256.AndNot(x, C(-0f));

    /// <summary>The saturated forward: x &lt; 0 ? x·0 : x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> SaturatedForward(Vector256<float> x) => IfLess(x, Vector256<float>.Zero, x * Vector256<float>.Zero, x);

    /// <summary>The saturated gradient: x &lt; 0 ? x·0 + 0 : fma(x, 0, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> SaturatedBackward(Vector256<float> x) =>
        IfLess(x, Vector256<float>.Zero, x * Vector256<float>.Zero + Vector256<float>.Zero, Fma(x, Vector256<float>.Zero, C(1f)));

    /// <summary>
    /// <see cref="Gelu(float)"/> on 8 lanes: the polynomial and the tail, then a select (the canonical NaN taken inside each,
    /// the same bits as after the select), so that <see cref="GeluNear256"/> and <see cref="GeluFar256"/> are also the two
    /// regimes <see cref="GeluRegimesApart256"/> runs apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x) => IfLess(Abs(x), C(Split), GeluNear256(x), GeluFar256(x));

    /// <summary>gelu(x) for |x| &lt; <see cref="Split"/>: x·(0.5 + x·P(x²)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> GeluNear256(Vector256<float> x) => SiluMath.Canonical(x * Fma(x, PolyP(x * x), C(0.5f)));

    /// <summary>gelu(x) for |x| ≥ <see cref="Split"/> (and NaN): the tail e^(-x²/2)·g(|x|), saturated beyond <see cref="MaxExponent"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> GeluFar256(Vector256<float> x)
    {
        var a = Abs(x);
        var z = x * x;
        var h = C(0.5f) * z;
        var p = ExpNegScaled(h, C(0.5f) * Fma(x, x, Neg(z)), out var s1, out var s2);
        var g = Tail(a);
        var below = x * g * p * s1 * s2;
        var above = x * (C(1f) - g * (p * s1 * s2));
        return SiluMath.Canonical(IfLess(C(MaxExponent), h, SaturatedForward(x), IfLess(x, Vector256<float>.Zero, below, above)));
    }

    /// <summary><see cref="GeluBackward(float, float)"/> on 8 lanes: e^(-x²/2) once for both regimes, then a select.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluBackward(Vector256<float> dy, Vector256<float> x)
    {
        var p = HalfSquareExp(x, out var h, out var s1, out var s2);
        return SiluMath.Canonical(dy * IfLess(Abs(x), C(Split), NearGradient(x, p, s1, s2), FarGradient(x, h, p, s1, s2)));
    }

    /// <summary><see cref="GeluBackward(Vector256{float}, Vector256{float})"/> where every lane has |x| &lt; <see cref="Split"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> GeluBackwardNear256(Vector256<float> dy, Vector256<float> x)
    {
        var p = HalfSquareExp(x, out _, out var s1, out var s2);
        return SiluMath.Canonical(dy * NearGradient(x, p, s1, s2));
    }

    /// <summary><see cref="GeluBackward(Vector256{float}, Vector256{float})"/> where no lane has |x| &lt; <see cref="Split"/> (NaN among them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> GeluBackwardFar256(Vector256<float> dy, Vector256<float> x)
    {
        var p = HalfSquareExp(x, out var h, out var s1, out var s2);
        return SiluMath.Canonical(dy * FarGradient(x, h, p, s1, s2));
    }

    /// <summary>e^(-x²/2) as p·s1·s2 (h = x²/2), which both regimes of the gradient use.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> HalfSquareExp(Vector256<float> x, out Vector256<float> h, out Vector256<float> s1, out Vector256<float> s2)
    {
        var z = x * x;
        h = C(0.5f) * z;
        return ExpNegScaled(h, C(0.5f) * Fma(x, x, Neg(z)), out s1, out s2);
    }

    /// <summary>Φ(x) + x·φ(x) for |x| &lt; <see cref="Split"/>: Φ from the polynomial.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> NearGradient(Vector256<float> x, Vector256<float> p, Vector256<float> s1, Vector256<float> s2) =>
        Fma(x, C(InvSqrt2Pi) * (p * s1 * s2), Fma(x, PolyP(x * x), C(0.5f)));

    /// <summary>Φ(x) + x·φ(x) for |x| ≥ <see cref="Split"/>: through the tail g(|x|), saturated beyond <see cref="MaxExponent"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> FarGradient(Vector256<float> x, Vector256<float> h, Vector256<float> p, Vector256<float> s1, Vector256<float> s2)
    {
        var a = Abs(x);
        var m = Fma(a, C(InvSqrt2Pi), Neg(Tail(a)));
        var below = Neg(m * p * s1 * s2);
        var above = Fma(p * s1 * s2, m, C(1f));
        return IfLess(C(MaxExponent), h, SaturatedBackward(x), IfLess(x, Vector256<float>.Zero, below, above));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> TanhArgument(Vector256<float> x, out Vector256<float> z, out Vector256<float> lo)
    {
        z = x * x;
        var zLo = Fma(x, x, Neg(z));
        var c1 = C(C1Hi);
        var t = C(C2Hi) * z;
        var tLo = Fma(C(C2Hi), z, Neg(t));
        var s = c1 + t;
        var bb = s - c1;
        var sLo = (c1 - (s - bb)) + (t - bb);
        var pLo = sLo + (tLo + Fma(C(C2Hi), zLo, C(C2Lo) * z)) + C(C1Lo);
        var w = x * s;
        var wLo = Fma(x, pLo, Fma(x, s, Neg(w)));
        lo = IfLess(w, Vector256<float>.Zero, Neg(wLo), wLo);
        return Abs(w);
    }

    /// <summary><see cref="GeluTanh(float)"/> on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluTanh(Vector256<float> x)
    {
        var w = TanhArgument(x, out _, out var lo);
        var p = ExpNegScaled(w, lo, out var s1, out var s2);
        var d = C(1f) + p * s1 * s2;
        var above = x / d;
        var below = x * p / d * s1 * s2;
        var y = IfLess(C(MaxExponent), w, SaturatedForward(x), IfLess(x, Vector256<float>.Zero, below, above));
        return SiluMath.Canonical(y);
    }

    /// <summary><see cref="GeluTanhBackward(float, float)"/> on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluTanhBackward(Vector256<float> dy, Vector256<float> x)
    {
        var w = TanhArgument(x, out var z, out var lo);
        var p = ExpNegScaled(w, lo, out var s1, out var s2);
        var e = p * s1 * s2;
        var slope = Fma(C(ThreeC2), z, C(C1Hi));
        var inv = C(1f) / (C(1f) + e);
        var above = inv * Fma(x * (e * inv), slope, C(1f));
        var below = p * inv * Fma(x * inv, slope, C(1f)) * s1 * s2;
        var d = IfLess(C(MaxExponent), w, SaturatedBackward(x), IfLess(x, Vector256<float>.Zero, below, above));
        return SiluMath.Canonical(dy * d);
    }
}
