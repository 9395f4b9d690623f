using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// The vector tiers of <see cref="PoolRows"/> and the global average: a lane is one output (or one partial sum), and each
/// lane applies the scalar definition's operations to its own taps in the scalar order, so the bits are the scalar ones.
/// x86 only (the max step is MAXPS's exact rule, see <see cref="IPoolVector{TV}.GreaterOrKeep"/>); elsewhere the scalar
/// definitions run.
/// </summary>
internal unsafe interface IPoolVector<TV> where TV : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Lanes { get; }
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Splat(float value);
    /// <summary>p[0], p[2], …, p[2·Lanes − 2] and p[1], p[3], …, p[2·Lanes − 1]: reads 2·Lanes floats from p.</summary>
    static abstract void Deinterleave(float* p, out TV even, out TV odd);
    /// <summary>p[1], p[3], …, p[2·Lanes − 1] (reads p[0] … p[2·Lanes − 1]).</summary>
    static abstract TV Odds(float* p);
    static abstract TV Add(TV a, TV b);
    static abstract TV Divide(TV a, TV b);
    /// <summary>v &gt; m ? v : m per lane, false for NaN and for equal values (−0 vs +0 keeps m): MAXPS(v, m), the scalar test's first half.</summary>
    static abstract TV GreaterOrKeep(TV v, TV m);
    /// <summary>v is NaN ? v : n per lane (n keeps the last NaN taken, payload and all).</summary>
    static abstract TV NaNOrKeep(TV v, TV n);
    /// <summary>p[0] … p[n − 1] and +0 in the lanes from n on (0 &lt; n &lt; Lanes), reading nothing past p[n − 1] (a masked load).</summary>
    static abstract TV LoadFirst(float* p, int n);
    /// <summary>The pairwise tree within one vector: for half = Lanes/2, …, 1, v[t] = v[t] + v[t + half] for t &lt; half; returns v[0].</summary>
    static abstract float Tree(TV v);
}

/// <summary>AVX-512: 16 lanes, two-source permutes for the stride-2 split.</summary>
internal readonly unsafe struct PoolVector512 : IPoolVector<Vector512<float>>
{
    // The permutes' indices are made where they are used (Indices is the JIT's constant 0, 1, …, 15), not read from
    // properties: a property is an inline candidate, and one nested a few calls deep is refused once the root method's
    // inline budget is spent; the call then returns the vector through memory (the global average's tree, four such
    // calls a plane, ran 53 µs instead of 13 for 1152 × 7 × 7 in some processes).
    public static bool IsSupported => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;
    public static int Lanes => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(float* p, out Vector512<float> even, out Vector512<float> odd)
    {
        var lo = Vector512.Load(p);
        var hi = Vector512.Load(p + 16);
        var evens = Vector512<int>.Indices * 2;
        even = Avx512F.PermuteVar16x32x2(lo, evens, hi);
        odd = Avx512F.PermuteVar16x32x2(lo, evens + Vector512<int>.One, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Odds(float* p) =>
        Avx512F.PermuteVar16x32x2(Vector512.Load(p), Vector512<int>.Indices * 2 + Vector512<int>.One, Vector512.Load(p + 16));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => Avx512F.Add(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => Avx512F.Divide(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterOrKeep(Vector512<float> v, Vector512<float> m) => Avx512F.Max(v, m);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> NaNOrKeep(Vector512<float> v, Vector512<float> n) => Avx512F.BlendVariable(n, v, Avx512F.CompareUnordered(v, v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFirst(float* p, int n) =>
        Avx512F.MaskLoad(p, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle(), Vector512<float>.Zero);

    // Halves, then PoolVector256's in-lane moves: the same adds, lane t first and lane t + half second.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tree(Vector512<float> v)
    {
        var h = Avx.Add(v.GetLower(), v.GetUpper());
        var q = Sse.Add(h.GetLower(), h.GetUpper());
        q = Sse.Add(q, Sse.MoveHighToLow(q, q));
        return Sse.AddScalar(q, Sse3.MoveHighAndDuplicate(q)).ToScalar();
    }
}

/// <summary>AVX2: 8 lanes, SHUFPS then a 64-bit permute for the stride-2 split.</summary>
internal readonly unsafe struct PoolVector256 : IPoolVector<Vector256<float>>
{
    public static bool IsSupported => Avx2.IsSupported && Vector256.IsHardwareAccelerated;
    public static int Lanes => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(float* p, out Vector256<float> even, out Vector256<float> odd)
    {
        var lo = Vector256.Load(p);
        var hi = Vector256.Load(p + 8);
        // SHUFPS works per 128-bit half: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; the 64-bit permute puts the halves in order.
        even = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
        odd = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Odds(float* p) =>
        Avx2.Permute4x64(Avx.Shuffle(Vector256.Load(p), Vector256.Load(p + 8), 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => Avx.Add(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => Avx.Divide(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterOrKeep(Vector256<float> v, Vector256<float> m) => Avx.Max(v, m);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NaNOrKeep(Vector256<float> v, Vector256<float> n) => Avx.BlendVariable(n, v, Avx.CompareUnordered(v, v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadFirst(float* p, int n) =>
        Avx.MaskLoad(p, Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(n)).AsSingle());

    // The halves and in-lane moves, one-cycle shuffles, rather than three lane-crossing permutes: the same adds, lane t
    // first and lane t + half second.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tree(Vector256<float> v)
    {
        var q = Sse.Add(v.GetLower(), v.GetUpper());
        q = Sse.Add(q, Sse.MoveHighToLow(q, q));
        return Sse.AddScalar(q, Sse3.MoveHighAndDuplicate(q)).ToScalar();
    }
}
