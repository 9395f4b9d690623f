using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// ln(s) in float32 for positive normal s from IEEE-exact operations only, so the scalar form, the Vector256 form and
/// the op-for-op copy in kernels/softmax.ptx give the same bits (no MathF.Log, no lg2.approx). LogSoftmax needs it once
/// per slice, for the sum s = Σ e^(x − max) ≥ 1.
/// <para>
/// s = 2^e·f with f from the mantissa bits in [1, 2), halved (e + 1) when above √2, so f ∈ [√½, √2]. ln f = 2·atanh(u),
/// u = (f − 1)/(f + 1), |u| ≤ 0.172: f − 1 is exact (Sterbenz), f + 1 = d + dLo by 2Sum, and the quotient is corrected
/// once by its exact remainder, u = uh + ul. ln f = 2·uh + (2·ul + uh·w·Q(w)), w = uh², Q(w) = 2/3 + 2w/5 + 2w²/7 +
/// 2w³/9 + 2w⁴/11 (the series cut after w⁴: below 2e-9 relative). ln s = e·ln2_hi + (e·ln2_lo + ln f) (e·ln2_hi
/// exact for |e| &lt; 512). NaN gives NaN (selected, since the bit work would not keep it); s outside the positive normal
/// floats is not in the domain (the softmax sums never are).
/// </para>
/// <para>Accuracy against Math.Log (double) is asserted by ExpMathAccuracyTests on a dense sweep of [1, 2^31).</para>
/// </summary>
internal static class LogMath
{
    /// <summary>√2's bits rounded down (0x3FB504F3): a mantissa f above it is halved.</summary>
    public const int Sqrt2Bits = 0x3FB5_04F3;
    /// <summary>ln 2's high part, 15 significant bits (0x3F317200), and the rest rounded to float (0x35BFBE8E).</summary>
    public const float Ln2Hi = 0.693145752f, Ln2Lo = 1.42860677e-06f;
    /// <summary>Q's coefficients 2/3, 2/5, 2/7, 2/9, 2/11 rounded to float (0x3F2AAAAB, 0x3ECCCCCD, 0x3E924925, 0x3E638E39, 0x3E3A2E8C).</summary>
    public const float Q0 = 0.666666687f, Q1 = 0.400000006f, Q2 = 0.285714298f, Q3 = 0.222222224f, Q4 = 0.181818187f;

    const int MantissaMask = 0x007F_FFFF, OneBits = 0x3F80_0000;

    /// <summary>ln(s) as the class comment describes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log(float s)
    {
        int bits = BitConverter.SingleToInt32Bits(s);
        int fb = (bits & MantissaMask) | OneBits;
        int e = (bits >> 23) - 127;
        bool halve = fb > Sqrt2Bits;
        fb = halve ? fb - 0x0080_0000 : fb;
        e = halve ? e + 1 : e;
        float f = BitConverter.Int32BitsToSingle(fb);
        float n = f - 1f;
        float d = f + 1f;
        float bb = d - f;
        float dLo = (f - (d - bb)) + (1f - bb);          // 2Sum: f + 1 = d + dLo exactly
        float uh = n / d;
        float rem = MathF.FusedMultiplyAdd(-uh, d, n);  // n − uh·d exactly
        float ul = MathF.FusedMultiplyAdd(-uh, dLo, rem) / d;
        float w = uh * uh;
        float q = MathF.FusedMultiplyAdd(Q4, w, Q3);
        q = MathF.FusedMultiplyAdd(q, w, Q2);
        q = MathF.FusedMultiplyAdd(q, w, Q1);
        q = MathF.FusedMultiplyAdd(q, w, Q0);
        float tail = MathF.FusedMultiplyAdd(uh * w, q, 2f * ul);
        float lnf = MathF.FusedMultiplyAdd(2f, uh, tail);
        float ef = e;
        float result = MathF.FusedMultiplyAdd(ef, Ln2Hi, MathF.FusedMultiplyAdd(ef, Ln2Lo, lnf));
        return float.IsNaN(s) ? s : result;
    }

    /// <summary><see cref="Log(float)"/> on 8 lanes with the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> s)
    {
        var bits = s.AsInt32();
        var fb = (bits & Vector256.Create(MantissaMask)) | Vector256.Create(OneBits);
        var e = Vector256.ShiftRightArithmetic(bits, 23) - Vector256.Create(127);
        var halve = Vector256.GreaterThan(fb, Vector256.Create(Sqrt2Bits));
        fb = Vector256.ConditionalSelect(halve, fb - Vector256.Create(0x0080_0000), fb);
        e = Vector256.ConditionalSelect(halve, e + Vector256.Create(1), e);
        var f = fb.AsSingle();
        var one = Vector256.Create(1f);
        var n = f - one;
        var d = f + one;
        var bb = d - f;
        var dLo = (f - (d - bb)) + (one - bb);
        var uh = n / d;
        var rem = Vector256.FusedMultiplyAdd(-uh, d, n);
        var ul = Vector256.FusedMultiplyAdd(-uh, dLo, rem) / d;
        var w = uh * uh;
        var q = Vector256.FusedMultiplyAdd(Vector256.Create(Q4), w, Vector256.Create(Q3));
        q = Vector256.FusedMultiplyAdd(q, w, Vector256.Create(Q2));
        q = Vector256.FusedMultiplyAdd(q, w, Vector256.Create(Q1));
        q = Vector256.FusedMultiplyAdd(q, w, Vector256.Create(Q0));
        var tail = Vector256.FusedMultiplyAdd(uh * w, q, Vector256.Create(2f) * ul);
        var lnf = Vector256.FusedMultiplyAdd(Vector256.Create(2f), uh, tail);
        var ef = Vector256.ConvertToSingle(e);
        var result = Vector256.FusedMultiplyAdd(ef, Vector256.Create(Ln2Hi), Vector256.FusedMultiplyAdd(ef, Vector256.Create(Ln2Lo), lnf));
        return Vector256.ConditionalSelect(Vector256.Equals(s, s), result, s);
    }
}
