using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// SiluMath's Vector512 form: the scalar and Vector256 operation sequence, lane for lane, on blocks of four 16-lane
/// vectors. The four are interleaved step by step (each fused multiply-add issued for all four before the next): one
/// vector's e^-x is a chain of ~14 dependent operations (~60 cycles), and with one vector per step the out-of-order
/// window filled with waiting operations before the two FMA pipes did (Zen 5: 135 µs → 103 µs for 802 816 floats, the
/// FMA pipes' bound for the ten fused multiply-adds and one scale per vector). Without AVX-512 the same code runs as the
/// runtime's software Vector512 (the SIMD-tier tests run it so), with the compare-and-select and two-product forms.
/// </summary>
internal static partial class SiluMath
{
    /// <summary>Floats per call of the block forms: four Vector512.</summary>
    public const int Block512Length = 64;

    /// <summary>True where the block forms run as AVX-512 instructions; the loops use them only then.</summary>
    public static bool Blocks512Accelerated => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>
    /// y[i] = silu(x[i]) for the first n - n % Block512Length floats; returns that count. A method of its own (not inlined):
    /// compiled together with the other loops, the block structs were not kept in registers where AVX-512 is off
    /// (the dead Vector512 code's locals took the JIT's budget; 0xD90 bytes of stack copies, 1.7× slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static nuint SiluBlocks512(ref float x, ref float y, nuint n)
    {
        nuint i = 0;
        for (; i + Block512Length <= n; i += Block512Length)
            SiluBlock512(ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref y, i));
        return i;
    }

    /// <summary>dx[i] = silu'(x[i])·dy[i] for the first n - n % Block512Length floats; returns that count (see <see cref="SiluBlocks512"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static nuint SiluBackwardBlocks512(ref float dy, ref float x, ref float dx, nuint n)
    {
        nuint i = 0;
        for (; i + Block512Length <= n; i += Block512Length)
            SiluBackwardBlock512(ref Unsafe.Add(ref dy, i), ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref dx, i));
        return i;
    }

    /// <summary>y[i] = silu(x[i]) for the <see cref="Block512Length"/> floats from <paramref name="x"/>; y may be x (all are read first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SiluBlock512(ref float x, ref float y)
    {
        var v = Four512.Load(ref x);
        Four512.Canonical(v / (Vector512.Create(1f) + ExpNegSaturated(v))).Store(ref y);
    }

    /// <summary>dx[i] = silu'(x[i])·dy[i] for the <see cref="Block512Length"/> floats from each; dx may be dy or x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SiluBackwardBlock512(ref float dy, ref float x, ref float dx)
    {
        var g = Four512.Load(ref dy);
        var v = Four512.Load(ref x);
        var one = Vector512.Create(1f);
        var e = Four512.Select(Four512.GreaterThan(v, Vector512.Create(-MinExponent)), Vector512<float>.Zero, ExpNegSaturated(v));
        var s = one / (one + e);
        var oneMinusS = Four512.Select(Four512.GreaterThanOrEqual(v, Vector512<float>.Zero), e * s, one - s);
        Four512.Canonical(g * s * Four512.FusedMultiplyAdd(v, oneMinusS, one)).Store(ref dx);
    }

    /// <summary><see cref="ExpNegSaturated(float)"/> on four vectors, step by step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Four512 ExpNegSaturated(Four512 x)
    {
        var t = x ^ Vector512.Create(-0f);
        var tc = Four512.AtMost(Vector512.Create(MaxExponent), Four512.AtLeast(Vector512.Create(MinExponent), t));
        var shift = Vector512.Create(RoundingShift);
        var j = Four512.FusedMultiplyAdd(tc, Vector512.Create(Log2E), shift);
        var k = j - shift;
        var r = Four512.FusedMultiplyAdd(k, Vector512.Create(NegLn2Hi), tc);
        r = Four512.FusedMultiplyAdd(k, Vector512.Create(NegLn2Lo), r);
        var one = Vector512.Create(1f);
        var p = Four512.FusedMultiplyAdd(Vector512.Create(C7), r, Vector512.Create(C6));
        p = Four512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Four512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Four512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Four512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Four512.FusedMultiplyAdd(p, r, one);
        p = Four512.FusedMultiplyAdd(p, r, one);
        return Four512.TimesTwoToThe(p, k, j);
    }

    /// <summary>t &lt; low ? low : t (see the Vector256 AtLeast: VMAXPS is that select to the bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> AtLeast(Vector512<float> low, Vector512<float> t) =>
        Avx512F.IsSupported ? Avx512F.Max(low, t) : Vector512.ConditionalSelect(Vector512.LessThan(t, low), low, t);

    /// <summary>t &gt; high ? high : t (VMINPS).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> AtMost(Vector512<float> high, Vector512<float> t) =>
        Avx512F.IsSupported ? Avx512F.Min(high, t) : Vector512.ConditionalSelect(Vector512.GreaterThan(t, high), high, t);

    /// <summary>p·2^(k-1)·2, or VSCALEFPS p·2^k: the same float (see the Vector256 TimesTwoToThe).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> TimesTwoToThe(Vector512<float> p, Vector512<float> k, Vector512<float> j)
    {
        if (Avx512F.IsSupported) return Avx512F.Scale(p, k);
        var half = Vector512.ShiftLeft(j.AsInt32() + Vector512.Create(ScaleBias), 23).AsSingle();
        return p * half * Vector512.Create(2f);
    }

    /// <summary><see cref="ExpPolynomial(float)"/> on 16 lanes with the same operations (GELU's Vector512 form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ExpPolynomial(Vector512<float> r)
    {
        var one = Vector512.Create(1f);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C7), r, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r, one);
        return Vector512.FusedMultiplyAdd(p, r, one);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Canonical(Vector512<float> v) =>
        Vector512.ConditionalSelect(Vector512.Equals(v, v), v, Vector512.Create(CanonicalNaNBits).AsSingle());

    /// <summary>
    /// Four Vector512 taken through each operation together. Every member is inlined and the JIT keeps the fields in
    /// registers (no spill in the SiLU loops' code), so this is the hand-interleaved code written once.
    /// </summary>
    readonly struct Four512(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        readonly Vector512<float> A = a, B = b, C = c, D = d;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 Load(ref float p) =>
            new(Vector512.LoadUnsafe(ref p), Vector512.LoadUnsafe(ref p, 16), Vector512.LoadUnsafe(ref p, 32), Vector512.LoadUnsafe(ref p, 48));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ref float p)
        {
            A.StoreUnsafe(ref p);
            B.StoreUnsafe(ref p, 16);
            C.StoreUnsafe(ref p, 32);
            D.StoreUnsafe(ref p, 48);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator ^(Four512 x, Vector512<float> m) => new(x.A ^ m, x.B ^ m, x.C ^ m, x.D ^ m);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator -(Four512 x, Vector512<float> v) => new(x.A - v, x.B - v, x.C - v, x.D - v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator -(Vector512<float> v, Four512 x) => new(v - x.A, v - x.B, v - x.C, v - x.D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator +(Vector512<float> v, Four512 x) => new(v + x.A, v + x.B, v + x.C, v + x.D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator *(Four512 x, Four512 y) => new(x.A * y.A, x.B * y.B, x.C * y.C, x.D * y.D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator /(Four512 x, Four512 y) => new(x.A / y.A, x.B / y.B, x.C / y.C, x.D / y.D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 operator /(Vector512<float> v, Four512 y) => new(v / y.A, v / y.B, v / y.C, v / y.D);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 FusedMultiplyAdd(Four512 x, Vector512<float> y, Vector512<float> z) => new(
            Vector512.FusedMultiplyAdd(x.A, y, z), Vector512.FusedMultiplyAdd(x.B, y, z),
            Vector512.FusedMultiplyAdd(x.C, y, z), Vector512.FusedMultiplyAdd(x.D, y, z));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 FusedMultiplyAdd(Four512 x, Vector512<float> y, Four512 z) => new(
            Vector512.FusedMultiplyAdd(x.A, y, z.A), Vector512.FusedMultiplyAdd(x.B, y, z.B),
            Vector512.FusedMultiplyAdd(x.C, y, z.C), Vector512.FusedMultiplyAdd(x.D, y, z.D));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 FusedMultiplyAdd(Four512 x, Four512 y, Vector512<float> z) => new(
            Vector512.FusedMultiplyAdd(x.A, y.A, z), Vector512.FusedMultiplyAdd(x.B, y.B, z),
            Vector512.FusedMultiplyAdd(x.C, y.C, z), Vector512.FusedMultiplyAdd(x.D, y.D, z));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 FusedMultiplyAdd(Vector512<float> x, Four512 y, Vector512<float> z) => new(
            Vector512.FusedMultiplyAdd(x, y.A, z), Vector512.FusedMultiplyAdd(x, y.B, z),
            Vector512.FusedMultiplyAdd(x, y.C, z), Vector512.FusedMultiplyAdd(x, y.D, z));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 AtLeast(Vector512<float> low, Four512 t) =>
            new(SiluMath.AtLeast(low, t.A), SiluMath.AtLeast(low, t.B), SiluMath.AtLeast(low, t.C), SiluMath.AtLeast(low, t.D));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 AtMost(Vector512<float> high, Four512 t) =>
            new(SiluMath.AtMost(high, t.A), SiluMath.AtMost(high, t.B), SiluMath.AtMost(high, t.C), SiluMath.AtMost(high, t.D));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 TimesTwoToThe(Four512 p, Four512 k, Four512 j) => new(
            SiluMath.TimesTwoToThe(p.A, k.A, j.A), SiluMath.TimesTwoToThe(p.B, k.B, j.B),
            SiluMath.TimesTwoToThe(p.C, k.C, j.C), SiluMath.TimesTwoToThe(p.D, k.D, j.D));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 GreaterThan(Four512 x, Vector512<float> v) =>
            new(Vector512.GreaterThan(x.A, v), Vector512.GreaterThan(x.B, v), Vector512.GreaterThan(x.C, v), Vector512.GreaterThan(x.D, v));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 GreaterThanOrEqual(Four512 x, Vector512<float> v) => new(
            Vector512.GreaterThanOrEqual(x.A, v), Vector512.GreaterThanOrEqual(x.B, v),
            Vector512.GreaterThanOrEqual(x.C, v), Vector512.GreaterThanOrEqual(x.D, v));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 Select(Four512 mask, Vector512<float> yes, Four512 no) => new(
            Vector512.ConditionalSelect(mask.A, yes, no.A), Vector512.ConditionalSelect(mask.B, yes, no.B),
            Vector512.ConditionalSelect(mask.C, yes, no.C), Vector512.ConditionalSelect(mask.D, yes, no.D));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 Select(Four512 mask, Four512 yes, Four512 no) => new(
            Vector512.ConditionalSelect(mask.A, yes.A, no.A), Vector512.ConditionalSelect(mask.B, yes.B, no.B),
            Vector512.ConditionalSelect(mask.C, yes.C, no.C), Vector512.ConditionalSelect(mask.D, yes.D, no.D));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Four512 Canonical(Four512 x) =>
            new(SiluMath.Canonical(x.A), SiluMath.Canonical(x.B), SiluMath.Canonical(x.C), SiluMath.Canonical(x.D));
    }
}
