using System.Runtime.Intrinsics;
using static GpuConv.Cpu.Elementwise.SiluMath;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// SiluMath's Vector256 sequence as first merged (590a140), lane for lane, written on Vector512 (16 lanes per step, so
/// the check of every float32 takes seconds) and kept as the oracle for the faster forms: the clamps as compare and
/// select, 2^(k-1)·2 as two products of the exponent bits, e^-x set to 0 for x &gt; 30 before the forward's 1 + e. The
/// merge's tests proved that sequence equal to the scalar form and the kernels; <see cref="SiluMathSimdTests"/> proves
/// the steps that replaced those (VMAXPS/VMINPS, VSCALEFPS, no select in the forward) equal to it on every float32.
/// Portable vector operations only (no x86 intrinsic).
/// </summary>
internal static class SiluFirstSequence
{
    static Vector512<float> ExpNeg(Vector512<float> x)
    {
        var t = Vector512.Xor(x, Vector512.Create(-0f));
        var low = Vector512.Create(MinExponent);
        var high = Vector512.Create(MaxExponent);
        var tc = Vector512.ConditionalSelect(Vector512.LessThan(t, low), low, t);
        tc = Vector512.ConditionalSelect(Vector512.GreaterThan(tc, high), high, tc);
        var shift = Vector512.Create(RoundingShift);
        var j = Vector512.FusedMultiplyAdd(tc, Vector512.Create(Log2E), shift);
        var k = j - shift;
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(NegLn2Hi), tc);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(NegLn2Lo), r);
        var one = Vector512.Create(1f);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C7), r, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r, one);
        p = Vector512.FusedMultiplyAdd(p, r, one);
        var half = Vector512.ShiftLeft(j.AsInt32() + Vector512.Create(ScaleBias), 23).AsSingle();
        var e = p * half * Vector512.Create(2f);
        return Vector512.ConditionalSelect(Vector512.LessThan(t, low), Vector512<float>.Zero, e);
    }

    static Vector512<float> Canonical(Vector512<float> v) =>
        Vector512.ConditionalSelect(Vector512.Equals(v, v), v, Vector512.Create(CanonicalNaNBits).AsSingle());

    public static Vector512<float> Silu(Vector512<float> x) => Canonical(x / (Vector512.Create(1f) + ExpNeg(x)));

    public static Vector512<float> SiluBackward(Vector512<float> dy, Vector512<float> x)
    {
        var one = Vector512.Create(1f);
        var e = ExpNeg(x);
        var s = one / (one + e);
        var oneMinusS = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), e * s, one - s);
        return Canonical(dy * s * Vector512.FusedMultiplyAdd(x, oneMinusS, one));
    }
}
