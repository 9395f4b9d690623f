using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// tanh in float32 from IEEE-exact operations only (fused multiply-adds, products, sums, one quotient, compare-and-select
/// and sign-bit work), so the CPU loops and kernels/elementwise.ptx (tanh_f32) give the same bits; within 1.75 ulp of
/// float64 (TanhTests: 1.50 the worst seen on every 61st float; torch's CPU tanh, Sleef's, is within 1 ulp, and the two are within
/// 1 ulp of each other on its test values, not bit for bit).
/// <para>
/// |x| &lt; 0.625: x + (x·z)·q(z), z = x², q a degree-5 polynomial fitted to (tanh(x)/x - 1)/z (coefficients below;
/// within 0.65 ulp in float32). |x| ≥ 0.625: (1 - e)/(1 + e) with e = e^(-2|x|) by <see cref="SiluMath.ExpNeg(float)"/>'s
/// sequence (2|x| is exact; e ≤ e^-1.25, so 1 - e does not cancel); x's sign bit is set on either result; e = 0 beyond |x| = 15,
/// where the quotient is 1. tanh(±0) = ±0, tanh(±∞) = ±1, a NaN gives the canonical NaN 0x7FFFFFFF (as SiLU's).
/// </para>
/// </summary>
internal static class TanhMath
{
    /// <summary>Below this |x| the polynomial, at and above it the exponential form (0x3F200000).</summary>
    public const float Split = 0.625f;
    /// <summary>q(z) = Q0 + z·(Q1 + z·(… + z·Q5)): 0xBEAAAAAA, 0x3E088837, 0xBD5CF828, 0x3CB1D0F3, 0xBC063B9E, 0x3B0D81F0.</summary>
    public const float Q0 = -0.333333313f, Q1 = 0.133332118f, Q2 = -0.0539475977f, Q3 = 0.0217060801f, Q4 = -0.00819292478f, Q5 = 0.00215923414f;

    const uint SignBit = 0x8000_0000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        float a = BitConverter.UInt32BitsToSingle(bits & ~SignBit);
        float z = x * x;
        float q = MathF.FusedMultiplyAdd(Q5, z, Q4);
        q = MathF.FusedMultiplyAdd(q, z, Q3);
        q = MathF.FusedMultiplyAdd(q, z, Q2);
        q = MathF.FusedMultiplyAdd(q, z, Q1);
        q = MathF.FusedMultiplyAdd(q, z, Q0);
        float small = MathF.FusedMultiplyAdd(x * z, q, x);
        float e = SiluMath.ExpNeg(a + a);
        float large = (1f - e) / (1f + e);
        // NaN fails a < Split and takes the exponential form, NaN throughout. x's sign goes onto either form: the
        // exponential one is positive, and the polynomial's +0 for x = -0 ((-0·0)·q is +0 as q < 0) must be -0.
        float t = a < Split ? small : large;
        return SiluMath.Canonical(BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(t) | (bits & SignBit)));
    }

    /// <summary><see cref="Tanh(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var sign = Vector256.Create(SignBit).AsSingle();
        var a = Vector256.AndNot(x, sign);
        var z = x * x;
        var q = Vector256.FusedMultiplyAdd(Vector256.Create(Q5), z, Vector256.Create(Q4));
        q = Vector256.FusedMultiplyAdd(q, z, Vector256.Create(Q3));
        q = Vector256.FusedMultiplyAdd(q, z, Vector256.Create(Q2));
        q = Vector256.FusedMultiplyAdd(q, z, Vector256.Create(Q1));
        q = Vector256.FusedMultiplyAdd(q, z, Vector256.Create(Q0));
        var small = Vector256.FusedMultiplyAdd(x * z, q, x);
        var one = Vector256.Create(1f);
        var e = SiluMath.ExpNeg(a + a);
        var large = (one - e) / (one + e);
        var t = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(Split)), small, large);
        return SiluMath.Canonical(t | (x & sign));
    }

    /// <summary>
    /// dy·(1 - y²) with 1 - y² one fused multiply-add (y the tanh's output): torch 1.13's tanh_backward, whose compiled
    /// a * (1 - b * b) is contracted to that fma on the CPU (checked: its bits on 100 000 values) and on CUDA. A NaN
    /// result is the canonical NaN: with a NaN y, which operand's NaN (-y's flipped sign or y's) comes out depends on the
    /// instruction's operand order, which differs between x86 code paths and the GPU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float TanhBackward(float dy, float y) => SiluMath.Canonical(dy * MathF.FusedMultiplyAdd(-y, y, 1f));

    /// <summary><see cref="TanhBackward(float, float)"/> on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> TanhBackward(Vector256<float> dy, Vector256<float> y) =>
        SiluMath.Canonical(dy * Vector256.FusedMultiplyAdd(-y, y, Vector256.Create(1f)));
}
