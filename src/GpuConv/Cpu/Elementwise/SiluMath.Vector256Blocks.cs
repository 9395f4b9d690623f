using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// SiluMath's Vector256 form on blocks of two vectors, interleaved step by step as the Vector512 blocks are (see there
/// why): for AVX2 machines, and the tails of the Vector512 loop. The same operations lane for lane as the single
/// Vector256 form (VMAXPS/VMINPS with AVX, VSCALEFPS with AVX-512VL, the compare-and-select and two-product forms
/// otherwise). With AVX-512 switched off on Zen 5 (802 816 floats, one thread, minima of 38 rounds alternated with
/// the single-vector loop as first merged, load average 15): silu 358 → 264 µs, the gradient 514 → 456 µs.
/// </summary>
internal static partial class SiluMath
{
    /// <summary>Floats per call of the Vector256 block forms: two Vector256.</summary>
    public const int Block256Length = 16;

    /// <summary>
    /// y[i] = silu(x[i]) for the first n - n % Block256Length floats; returns that count. A method of its own (not inlined):
    /// compiled together with the other loops, the block structs were not kept in registers where AVX-512 is off
    /// (the dead Vector512 code's locals took the JIT's budget; 0xD90 bytes of stack copies, 1.7× slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static nuint SiluBlocks256(ref float x, ref float y, nuint n)
    {
        nuint i = 0;
        for (; i + Block256Length <= n; i += Block256Length)
            SiluBlock256(ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref y, i));
        return i;
    }

    /// <summary>dx[i] = silu'(x[i])·dy[i] for the first n - n % Block256Length floats; returns that count (see <see cref="SiluBlocks256"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static nuint SiluBackwardBlocks256(ref float dy, ref float x, ref float dx, nuint n)
    {
        nuint i = 0;
        for (; i + Block256Length <= n; i += Block256Length)
            SiluBackwardBlock256(ref Unsafe.Add(ref dy, i), ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref dx, i));
        return i;
    }

    /// <summary>y[i] = silu(x[i]) for the <see cref="Block256Length"/> floats from <paramref name="x"/>; y may be x (all are read first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SiluBlock256(ref float x, ref float y)
    {
        var v = Two256.Load(ref x);
        Two256.Canonical(v / (Vector256.Create(1f) + ExpNegSaturated(v))).Store(ref y);
    }

    /// <summary>dx[i] = silu'(x[i])·dy[i] for the <see cref="Block256Length"/> floats from each; dx may be dy or x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SiluBackwardBlock256(ref float dy, ref float x, ref float dx)
    {
        var g = Two256.Load(ref dy);
        var v = Two256.Load(ref x);
        var one = Vector256.Create(1f);
        var e = Two256.Select(Two256.GreaterThan(v, Vector256.Create(-MinExponent)), Vector256<float>.Zero, ExpNegSaturated(v));
        var s = one / (one + e);
        var oneMinusS = Two256.Select(Two256.GreaterThanOrEqual(v, Vector256<float>.Zero), e * s, one - s);
        Two256.Canonical(g * s * Two256.FusedMultiplyAdd(v, oneMinusS, one)).Store(ref dx);
    }

    /// <summary><see cref="ExpNegSaturated(float)"/> on two vectors, step by step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Two256 ExpNegSaturated(Two256 x)
    {
        var t = x ^ Vector256.Create(-0f);
        var tc = Two256.AtMost(Vector256.Create(MaxExponent), Two256.AtLeast(Vector256.Create(MinExponent), t));
        var shift = Vector256.Create(RoundingShift);
        var j = Two256.FusedMultiplyAdd(tc, Vector256.Create(Log2E), shift);
        var k = j - shift;
        var r = Two256.FusedMultiplyAdd(k, Vector256.Create(NegLn2Hi), tc);
        r = Two256.FusedMultiplyAdd(k, Vector256.Create(NegLn2Lo), r);
        var one = Vector256.Create(1f);
        var p = Two256.FusedMultiplyAdd(Vector256.Create(C7), r, Vector256.Create(C6));
        p = Two256.FusedMultiplyAdd(p, r, Vector256.Create(C5));
        p = Two256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Two256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Two256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Two256.FusedMultiplyAdd(p, r, one);
        p = Two256.FusedMultiplyAdd(p, r, one);
        return Two256.TimesTwoToThe(p, k, j);
    }

    /// <summary>
    /// Two Vector256 taken through each operation together (two, not four as the Vector512 blocks: with AVX2's 16 ymm
    /// registers four chains spilled). Every member is inlined and the JIT keeps the fields in registers.
    /// </summary>
    readonly struct Two256(Vector256<float> a, Vector256<float> b)
    {
        readonly Vector256<float> A = a, B = b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 Load(ref float p) => new(Vector256.LoadUnsafe(ref p), Vector256.LoadUnsafe(ref p, 8));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ref float p)
        {
            A.StoreUnsafe(ref p);
            B.StoreUnsafe(ref p, 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator ^(Two256 x, Vector256<float> m) => new(x.A ^ m, x.B ^ m);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator -(Two256 x, Vector256<float> v) => new(x.A - v, x.B - v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator -(Vector256<float> v, Two256 x) => new(v - x.A, v - x.B);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator +(Vector256<float> v, Two256 x) => new(v + x.A, v + x.B);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator *(Two256 x, Two256 y) => new(x.A * y.A, x.B * y.B);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator /(Two256 x, Two256 y) => new(x.A / y.A, x.B / y.B);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 operator /(Vector256<float> v, Two256 y) => new(v / y.A, v / y.B);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 FusedMultiplyAdd(Two256 x, Vector256<float> y, Vector256<float> z) =>
            new(Vector256.FusedMultiplyAdd(x.A, y, z), Vector256.FusedMultiplyAdd(x.B, y, z));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 FusedMultiplyAdd(Two256 x, Vector256<float> y, Two256 z) =>
            new(Vector256.FusedMultiplyAdd(x.A, y, z.A), Vector256.FusedMultiplyAdd(x.B, y, z.B));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 FusedMultiplyAdd(Two256 x, Two256 y, Vector256<float> z) =>
            new(Vector256.FusedMultiplyAdd(x.A, y.A, z), Vector256.FusedMultiplyAdd(x.B, y.B, z));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 FusedMultiplyAdd(Vector256<float> x, Two256 y, Vector256<float> z) =>
            new(Vector256.FusedMultiplyAdd(x, y.A, z), Vector256.FusedMultiplyAdd(x, y.B, z));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 AtLeast(Vector256<float> low, Two256 t) => new(SiluMath.AtLeast(low, t.A), SiluMath.AtLeast(low, t.B));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 AtMost(Vector256<float> high, Two256 t) => new(SiluMath.AtMost(high, t.A), SiluMath.AtMost(high, t.B));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 TimesTwoToThe(Two256 p, Two256 k, Two256 j) =>
            new(SiluMath.TimesTwoToThe(p.A, k.A, j.A), SiluMath.TimesTwoToThe(p.B, k.B, j.B));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 GreaterThan(Two256 x, Vector256<float> v) => new(Vector256.GreaterThan(x.A, v), Vector256.GreaterThan(x.B, v));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 GreaterThanOrEqual(Two256 x, Vector256<float> v) =>
            new(Vector256.GreaterThanOrEqual(x.A, v), Vector256.GreaterThanOrEqual(x.B, v));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 Select(Two256 mask, Vector256<float> yes, Two256 no) =>
            new(Vector256.ConditionalSelect(mask.A, yes, no.A), Vector256.ConditionalSelect(mask.B, yes, no.B));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 Select(Two256 mask, Two256 yes, Two256 no) =>
            new(Vector256.ConditionalSelect(mask.A, yes.A, no.A), Vector256.ConditionalSelect(mask.B, yes.B, no.B));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Two256 Canonical(Two256 x) => new(SiluMath.Canonical(x.A), SiluMath.Canonical(x.B));
    }
}
