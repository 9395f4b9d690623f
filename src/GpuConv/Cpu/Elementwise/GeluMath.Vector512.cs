using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// GeluMath's Vector512 forms: the Vector256 forms' operations, in the same order, on 16 lanes (the element-wise loops run
/// them where AVX-512 is there: <see cref="ElementwiseMap.MapWide{TFunction}(TFunction, ref float, ref float, nuint)"/>).
/// A change to one form is a change to all of them, the kernels' included; GeluMathSimdTests holds them to the scalar bits.
/// </summary>
internal static partial class GeluMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> V(float v) => Vector512.Create(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    /// <summary>x &lt; y ? a : b lane by lane (false for NaN, as the scalar compare).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> IfLess(Vector512<float> x, Vector512<float> y, Vector512<float> a, Vector512<float> b) =>
        Vector512.ConditionalSelect(Vector512.LessThan(x, y), a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> ExpNegScaled(Vector512<float> h, Vector512<float> l, out Vector512<float> s1, out Vector512<float> s2)
    {
        var hc = IfLess(V(MaxExponent), h, V(MaxExponent), h);
        var shift = V(SiluMath.RoundingShift);
        var j = Fma(Neg(hc), V(SiluMath.Log2E), shift);
        var k = j - shift;
        var r = Fma(k, V(SiluMath.NegLn2Hi), Neg(hc));
        r = Fma(k, V(SiluMath.NegLn2Lo), r);
        r -= l;
        (s1, s2) = ExpMath.PowerOfTwoPair(j);
        return SiluMath.ExpPolynomial(r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> PolyP(Vector512<float> z)
    {
        var q = Fma(V(P5), z, V(P4));
        q = Fma(q, z, V(P3));
        q = Fma(q, z, V(P2));
        q = Fma(q, z, V(P1));
        return Fma(q, z, V(P0));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Tail(Vector512<float> a)
    {
        var d = a + V(TailShift);
        var t = V(1f) / d;
        var v = t - V(TailCentre);
        var q = Fma(V(Q9), v, V(Q8));
        q = Fma(q, v, V(Q7));
        q = Fma(q, v, V(Q6));
        q = Fma(q, v, V(Q5));
        q = Fma(q, v, V(Q4));
        q = Fma(q, v, V(Q3));
        q = Fma(q, v, V(Q2));
        q = Fma(q, v, V(Q1));
        q = Fma(q, v, V(Q0));
        var g = q / d;
        var dLo = a - (d - V(TailShift));
        var rem = Fma(Neg(g), d, q);
        return Fma(Fma(Neg(g), dLo, rem), t, g);
    }

    /// <summary>A sign flip (not 0 - v), as scalar negation and PTX's neg.f32: -(+0) is -0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Neg(Vector512<float> v) => Vector512.Xor(v, V(-0f));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Abs(Vector512<float> x) => Vector512.AndNot(x, V(-0f));

    /// <summary>The saturated forward: x &lt; 0 ? x·0 : x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> SaturatedForward(Vector512<float> x) => IfLess(x, Vector512<float>.Zero, x * Vector512<float>.Zero, x);

    /// <summary>The saturated gradient: x &lt; 0 ? x·0 + 0 : fma(x, 0, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> SaturatedBackward(Vector512<float> x) =>
        IfLess(x, Vector512<float>.Zero, x * Vector512<float>.Zero + Vector512<float>.Zero, Fma(x, Vector512<float>.Zero, V(1f)));

    /// <summary>
    /// <see cref="Gelu(float)"/> on 16 lanes: the Vector256 form's operations, its final select taken before the canonical
    /// NaN instead of after (the same bits), so that <see cref="GeluNear512"/> and <see cref="GeluFar512"/> are also the
    /// two regimes <see cref="GeluRegimesApart512"/> runs apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x) => IfLess(Abs(x), V(Split), GeluNear512(x), GeluFar512(x));

    /// <summary>gelu(x) for |x| &lt; <see cref="Split"/>: x·(0.5 + x·P(x²)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> GeluNear512(Vector512<float> x) => SiluMath.Canonical(x * Fma(x, PolyP(x * x), V(0.5f)));

    /// <summary>gelu(x) for |x| ≥ <see cref="Split"/> (and NaN): the tail e^(-x²/2)·g(|x|), saturated beyond <see cref="MaxExponent"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> GeluFar512(Vector512<float> x)
    {
        var a = Abs(x);
        var z = x * x;
        var h = V(0.5f) * z;
        var p = ExpNegScaled(h, V(0.5f) * Fma(x, x, Neg(z)), out var s1, out var s2);
        var g = Tail(a);
        var below = x * g * p * s1 * s2;
        var above = x * (V(1f) - g * (p * s1 * s2));
        return SiluMath.Canonical(IfLess(V(MaxExponent), h, SaturatedForward(x), IfLess(x, Vector512<float>.Zero, below, above)));
    }

    /// <summary><see cref="GeluBackward(float, float)"/> on 16 lanes: e^(-x²/2) once for both regimes, then a select.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GeluBackward(Vector512<float> dy, Vector512<float> x)
    {
        var p = HalfSquareExp(x, out var h, out var s1, out var s2);
        return SiluMath.Canonical(dy * IfLess(Abs(x), V(Split), NearGradient(x, p, s1, s2), FarGradient(x, h, p, s1, s2)));
    }

    /// <summary><see cref="GeluBackward(Vector512{float}, Vector512{float})"/> where every lane has |x| &lt; <see cref="Split"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> GeluBackwardNear512(Vector512<float> dy, Vector512<float> x)
    {
        var p = HalfSquareExp(x, out _, out var s1, out var s2);
        return SiluMath.Canonical(dy * NearGradient(x, p, s1, s2));
    }

    /// <summary><see cref="GeluBackward(Vector512{float}, Vector512{float})"/> where no lane has |x| &lt; <see cref="Split"/> (NaN among them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> GeluBackwardFar512(Vector512<float> dy, Vector512<float> x)
    {
        var p = HalfSquareExp(x, out var h, out var s1, out var s2);
        return SiluMath.Canonical(dy * FarGradient(x, h, p, s1, s2));
    }

    /// <summary>e^(-x²/2) as p·s1·s2 (h = x²/2), which both regimes of the gradient use.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> HalfSquareExp(Vector512<float> x, out Vector512<float> h, out Vector512<float> s1, out Vector512<float> s2)
    {
        var z = x * x;
        h = V(0.5f) * z;
        return ExpNegScaled(h, V(0.5f) * Fma(x, x, Neg(z)), out s1, out s2);
    }

    /// <summary>Φ(x) + x·φ(x) for |x| &lt; <see cref="Split"/>: Φ from the polynomial.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> NearGradient(Vector512<float> x, Vector512<float> p, Vector512<float> s1, Vector512<float> s2) =>
        Fma(x, V(InvSqrt2Pi) * (p * s1 * s2), Fma(x, PolyP(x * x), V(0.5f)));

    /// <summary>Φ(x) + x·φ(x) for |x| ≥ <see cref="Split"/>: through the tail g(|x|), saturated beyond <see cref="MaxExponent"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> FarGradient(Vector512<float> x, Vector512<float> h, Vector512<float> p, Vector512<float> s1, Vector512<float> s2)
    {
        var a = Abs(x);
        var m = Fma(a, V(InvSqrt2Pi), Neg(Tail(a)));
        var below = Neg(m * p * s1 * s2);
        var above = Fma(p * s1 * s2, m, V(1f));
        return IfLess(V(MaxExponent), h, SaturatedBackward(x), IfLess(x, Vector512<float>.Zero, below, above));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> TanhArgument(Vector512<float> x, out Vector512<float> z, out Vector512<float> lo)
    {
        z = x * x;
        var zLo = Fma(x, x, Neg(z));
        var c1 = V(C1Hi);
        var t = V(C2Hi) * z;
        var tLo = Fma(V(C2Hi), z, Neg(t));
        var s = c1 + t;
        var bb = s - c1;
        var sLo = (c1 - (s - bb)) + (t - bb);
        var pLo = sLo + (tLo + Fma(V(C2Hi), zLo, V(C2Lo) * z)) + V(C1Lo);
        var w = x * s;
        var wLo = Fma(x, pLo, Fma(x, s, Neg(w)));
        lo = IfLess(w, Vector512<float>.Zero, Neg(wLo), wLo);
        return Abs(w);
    }

    /// <summary><see cref="GeluTanh(float)"/> on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GeluTanh(Vector512<float> x)
    {
        var w = TanhArgument(x, out _, out var lo);
        var p = ExpNegScaled(w, lo, out var s1, out var s2);
        var d = V(1f) + p * s1 * s2;
        var above = x / d;
        var below = x * p / d * s1 * s2;
        var y = IfLess(V(MaxExponent), w, SaturatedForward(x), IfLess(x, Vector512<float>.Zero, below, above));
        return SiluMath.Canonical(y);
    }

    /// <summary><see cref="GeluTanhBackward(float, float)"/> on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GeluTanhBackward(Vector512<float> dy, Vector512<float> x)
    {
        var w = TanhArgument(x, out var z, out var lo);
        var p = ExpNegScaled(w, lo, out var s1, out var s2);
        var e = p * s1 * s2;
        var slope = Fma(V(ThreeC2), z, V(C1Hi));
        var inv = V(1f) / (V(1f) + e);
        var above = inv * Fma(x * (e * inv), slope, V(1f));
        var below = p * inv * Fma(x * inv, slope, V(1f)) * s1 * s2;
        var d = IfLess(V(MaxExponent), w, SaturatedBackward(x), IfLess(x, Vector512<float>.Zero, below, above));
        return SiluMath.Canonical(dy * d);
    }
}
