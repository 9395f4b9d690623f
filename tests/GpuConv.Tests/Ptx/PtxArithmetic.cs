namespace GpuConv.Tests.Ptx;

/// <summary>
/// The value semantics of the supported instructions on raw register bits, following the PTX ISA:
/// integer ops wrap at their width, .lo keeps the low half of a product, .hi the high half and .wide the full one,
/// shifts clamp (shl/shr.u by >= width give 0, shr.s fills with the sign), f32 ops round to nearest even
/// (.rn) as .NET float arithmetic does, and cvt.rzi truncates toward zero saturating to the integer range
/// (NaN gives 0). Division by zero throws: PTX leaves the result unspecified, so a kernel that does it is wrong.
/// </summary>
static class Arith
{
    public static float F32(ulong bits) => BitConverter.UInt32BitsToSingle((uint)bits);
    public static ulong F32Bits(float f) => BitConverter.SingleToUInt32Bits(f);

    static long Signed(PtxType t, ulong v) => t.Bits() == 32 ? (int)(uint)v : (long)v;
    static ulong Unsigned(PtxType t, ulong v) => t.Bits() == 32 ? (uint)v : v;

    public static ulong Add(PtxType t, ulong a, ulong b) =>
        t.IsFloat() ? F32Bits(F32(a) + F32(b)) : unchecked(a + b);

    public static ulong Sub(PtxType t, ulong a, ulong b) =>
        t.IsFloat() ? F32Bits(F32(a) - F32(b)) : unchecked(a - b);

    public static ulong Neg(PtxType t, ulong a) =>
        t.IsFloat() ? F32Bits(-F32(a)) : unchecked(0 - a);

    /// <summary>Returns the destination type and the product: at the operand width (.lo, .hi or f32) or doubled (.wide).</summary>
    public static (PtxType, ulong) Mul(PtxType t, PtxMulMode mode, ulong a, ulong b)
    {
        if (t.IsFloat()) return (t, F32Bits(F32(a) * F32(b)));
        if (mode == PtxMulMode.Hi)
            return (t, (t.IsSigned(), t.Bits()) switch
            {
                (false, 32) => (ulong)(uint)a * (uint)b >> 32,
                (true, 32) => (ulong)((long)(int)(uint)a * (int)(uint)b >> 32),
                (false, _) => Math.BigMul(a, b, out _),
                (true, _) => (ulong)Math.BigMul((long)a, (long)b, out _),
            });
        if (mode == PtxMulMode.Wide)
            return t.IsSigned()
                ? (PtxType.S64, (ulong)((long)(int)(uint)a * (int)(uint)b))
                : (PtxType.U64, (ulong)(uint)a * (uint)b);
        return (t, unchecked(a * b)); // low bits are the same for signed and unsigned
    }

    public static ulong DivRem(PtxType t, ulong a, ulong b, bool rem, PtxInstruction ins)
    {
        if (t.IsFloat()) return F32Bits(F32(a) / F32(b)); // div.rn.f32 (the parser allows no other float form)
        if (Unsigned(t, b) == 0) throw new PtxException($"{ins}: integer division by zero");
        if (!t.IsSigned())
        {
            ulong x = Unsigned(t, a), y = Unsigned(t, b);
            return rem ? x % y : x / y;
        }
        long sx = Signed(t, a), sy = Signed(t, b);
        if (sy == -1) return rem ? 0 : unchecked((ulong)(0 - sx)); // avoids .NET's overflow trap on MIN / -1
        return unchecked((ulong)(rem ? sx % sy : sx / sy));
    }

    public static ulong MinMax(PtxType t, ulong a, ulong b, bool max)
    {
        if (t.IsFloat())
        {
            float x = F32(a), y = F32(b);
            // PTX min/max.f32: if one input is NaN the other is returned.
            if (float.IsNaN(x)) return b;
            if (float.IsNaN(y)) return a;
            return F32Bits(max ? MathF.Max(x, y) : MathF.Min(x, y));
        }
        bool aFirst = t.IsSigned() ? Signed(t, a) >= Signed(t, b) : Unsigned(t, a) >= Unsigned(t, b);
        return max == aFirst ? a : b;
    }

    public static ulong Shl(PtxType t, ulong a, uint n) =>
        n >= (uint)t.Bits() ? 0 : a << (int)n;

    public static ulong Shr(PtxType t, ulong a, uint n)
    {
        int bits = t.Bits();
        if (t.IsSigned())
        {
            long s = Signed(t, a);
            return (ulong)(s >> (int)Math.Min(n, (uint)bits - 1));
        }
        return n >= (uint)bits ? 0 : Unsigned(t, a) >> (int)n;
    }

    public static bool Compare(PtxType t, PtxCompare cmp, ulong a, ulong b)
    {
        int order;
        if (t.IsFloat())
        {
            float x = F32(a), y = F32(b);
            // Ordered comparisons: false when either is NaN, except ne (PTX's ne is ordered too).
            if (float.IsNaN(x) || float.IsNaN(y)) return false;
            order = x.CompareTo(y);
        }
        else order = t.IsSigned() ? Signed(t, a).CompareTo(Signed(t, b)) : Unsigned(t, a).CompareTo(Unsigned(t, b));
        return cmp switch
        {
            PtxCompare.Eq => order == 0, PtxCompare.Ne => order != 0,
            PtxCompare.Lt => order < 0, PtxCompare.Le => order <= 0,
            PtxCompare.Gt => order > 0, _ => order >= 0,
        };
    }

    public static ulong Convert(PtxType d, PtxType s, ulong a)
    {
        if (d.IsFloat())
        {
            // cvt.rn.f32.{s,u}{32,64}: a single rounding to nearest even (.NET's integer→float conversion).
            float f = s.IsSigned() ? (float)Signed(s, a) : (float)Unsigned(s, a);
            return F32Bits(f);
        }
        if (s.IsFloat())
        {
            // cvt.rzi: truncate; out-of-range saturates, NaN becomes 0.
            float f = F32(a);
            if (float.IsNaN(f)) return 0;
            double v = Math.Truncate(f);
            return (d.IsSigned(), d.Bits()) switch
            {
                (true, 32) => (ulong)(uint)(int)Math.Clamp(v, int.MinValue, int.MaxValue),
                (true, _) => (ulong)(v >= 9.2233720368547758e18 ? long.MaxValue : v <= -9.2233720368547758e18 ? long.MinValue : (long)v),
                (false, 32) => (uint)Math.Clamp(v, 0, uint.MaxValue),
                _ => v <= 0 ? 0 : v >= 1.8446744073709552e19 ? ulong.MaxValue : (ulong)v,
            };
        }
        // Integer to integer: sign- or zero-extend from the source width, then truncate to the destination.
        return s.IsSigned() ? (ulong)Signed(s, a) : Unsigned(s, a);
    }
}
