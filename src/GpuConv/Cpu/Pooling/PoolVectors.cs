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
    /// <summary>The even and the odd elements of the 2·Lanes floats lo then hi: lo[0], lo[2], …, hi[Lanes − 2] and lo[1], lo[3], …, hi[Lanes − 1].</summary>
    static abstract void Split(TV lo, TV hi, out TV even, out TV odd);
    /// <summary>The odd elements of lo then hi (<see cref="Split"/>'s second half).</summary>
    static abstract TV OddsOf(TV lo, TV hi);
    /// <summary>The column numbers first, first + step, …, first + (Lanes − 1)·step, as int32 lanes (bits in a TV).</summary>
    static abstract TV Columns(int first, int step);
    /// <summary>
    /// Per lane, as a float, how many of the columns c, c + 1, …, c + length − 1 lie in [from, to), for c the lane's
    /// column in <paramref name="starts"/> (<see cref="Columns"/>' bits): min(c + length, to) − max(c, from), which must
    /// be positive.
    /// </summary>
    static abstract TV Overlaps(TV starts, int length, int from, int to);
    /// <summary>
    /// p[j] in the lanes j whose column, <paramref name="columns"/>[j] + <paramref name="offset"/>, lies in
    /// [0, <paramref name="width"/>) (width in every lane, as <see cref="Columns"/>'s bits), and
    /// <paramref name="fill"/> in the others, reading nothing for those (a masked load: a lane outside the row faults nothing).
    /// </summary>
    static abstract TV LoadInside(float* p, TV columns, int offset, TV width, TV fill);
    /// <summary>Whether a lane of v is NaN.</summary>
    static abstract bool AnyNaN(TV v);
    static abstract TV Add(TV a, TV b);
    static abstract TV Divide(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    /// <summary>v &gt; m ? v : m per lane, false for NaN and for equal values (−0 vs +0 keeps m): MAXPS(v, m), the scalar test's first half.</summary>
    static abstract TV GreaterOrKeep(TV v, TV m);
    /// <summary>v is NaN ? v : n per lane (n keeps the last NaN taken, payload and all).</summary>
    static abstract TV NaNOrKeep(TV v, TV n);
    /// <summary>p[0] … p[n − 1] and +0 in the lanes from n on (0 &lt; n &lt; Lanes), reading nothing past p[n − 1] (a masked load).</summary>
    static abstract TV LoadFirst(float* p, int n);
    /// <summary>The pairwise tree within one vector: for half = Lanes/2, …, 1, v[t] = v[t] + v[t + half] for t &lt; half; returns v[0].</summary>
    static abstract float Tree(TV v);
    /// <summary>Int lanes (bits in a TV) plus <paramref name="b"/>.</summary>
    static abstract TV AddInt(TV a, int b);
    /// <summary>
    /// Per lane, the in-plane index of the first tap inside the row of a window row at <paramref name="offset"/> whose taps
    /// are columns c … c + k − 1 (c: the lane's column in <paramref name="columns"/>): offset + max(c, 0), or −1 where
    /// none of them lies in [0, width). Int lanes.
    /// </summary>
    static abstract TV FirstInside(TV columns, int k, int width, int offset);
    /// <summary>The argmax step where no tap is NaN: at = index where v &gt; m; m = MAXPS(v, m). Int lanes in index and at.</summary>
    static abstract void ArgMaxGreater(TV v, TV index, ref TV m, ref TV at);
    /// <summary>The scalar argmax step: where v &gt; m or v is NaN, m = v and at = index. Int lanes in index and at.</summary>
    static abstract void ArgMaxStep(TV v, TV index, ref TV m, ref TV at);
    /// <summary>
    /// p[relative[j]] in the lanes where <paramref name="t"/> &lt; counts[j], +0 in the others: one load of p[0 … Lanes − 1]
    /// (all readable) and a permute. Int lanes in relative (each in [0, Lanes)) and counts.
    /// </summary>
    static abstract TV TakeBelow(float* p, TV relative, TV counts, int t);
    /// <summary>Stores lanes 0 … n − 1 of v at p, writing nothing past p[n − 1] (0 &lt; n &lt; Lanes; a masked store).</summary>
    static abstract void StoreFirst(TV v, float* p, int n);
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
    public static void Split(Vector512<float> lo, Vector512<float> hi, out Vector512<float> even, out Vector512<float> odd)
    {
        var evens = Vector512<int>.Indices * 2;
        even = Avx512F.PermuteVar16x32x2(lo, evens, hi);
        odd = Avx512F.PermuteVar16x32x2(lo, evens + Vector512<int>.One, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> OddsOf(Vector512<float> lo, Vector512<float> hi) =>
        Avx512F.PermuteVar16x32x2(lo, Vector512<int>.Indices * 2 + Vector512<int>.One, hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Columns(int first, int step) => (Vector512<int>.Indices * step + Vector512.Create(first)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Overlaps(Vector512<float> starts, int length, int from, int to)
    {
        var c = starts.AsInt32();
        return Vector512.ConvertToSingle(Vector512.Min(c + Vector512.Create(length), Vector512.Create(to)) - Vector512.Max(c, Vector512.Create(from)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadInside(float* p, Vector512<float> columns, int offset, Vector512<float> width, Vector512<float> fill) =>
        Avx512F.MaskLoad(p, Vector512.LessThan((columns.AsInt32() + Vector512.Create(offset)).AsUInt32(), width.AsUInt32()).AsSingle(), fill);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyNaN(Vector512<float> v) => Avx512F.CompareUnordered(v, v) != Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => Avx512F.Add(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => Avx512F.Divide(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => Avx512F.Multiply(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterOrKeep(Vector512<float> v, Vector512<float> m) => Avx512F.Max(v, m);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> NaNOrKeep(Vector512<float> v, Vector512<float> n) => Avx512F.BlendVariable(n, v, Avx512F.CompareUnordered(v, v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFirst(float* p, int n) =>
        Avx512F.MaskLoad(p, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle(), Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddInt(Vector512<float> a, int b) => (a.AsInt32() + Vector512.Create(b)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FirstInside(Vector512<float> columns, int k, int width, int offset)
    {
        var c = columns.AsInt32();
        var first = Vector512.Max(c, Vector512<int>.Zero);
        var any = Vector512.LessThan(first, Vector512.Min(c + Vector512.Create(k), Vector512.Create(width)));
        return Vector512.ConditionalSelect(any, first + Vector512.Create(offset), Vector512<int>.AllBitsSet).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxGreater(Vector512<float> v, Vector512<float> index, ref Vector512<float> m, ref Vector512<float> at)
    {
        at = Avx512F.BlendVariable(at, index, Avx512F.CompareGreaterThan(v, m));
        m = Avx512F.Max(v, m);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxStep(Vector512<float> v, Vector512<float> index, ref Vector512<float> m, ref Vector512<float> at)
    {
        var take = Avx512F.CompareGreaterThan(v, m) | Avx512F.CompareUnordered(v, v);
        at = Avx512F.BlendVariable(at, index, take);
        m = Avx512F.BlendVariable(m, v, take);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> TakeBelow(float* p, Vector512<float> relative, Vector512<float> counts, int t) =>
        Avx512F.PermuteVar16x32(Vector512.Load(p), relative.AsInt32()) & Vector512.GreaterThan(counts.AsInt32(), Vector512.Create(t)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector512<float> v, float* p, int n) =>
        Avx512F.MaskStore(p, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle(), v);

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
    public static void Split(Vector256<float> lo, Vector256<float> hi, out Vector256<float> even, out Vector256<float> odd)
    {
        // SHUFPS works per 128-bit half: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; the 64-bit permute puts the halves in order.
        even = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
        odd = OddsOf(lo, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> OddsOf(Vector256<float> lo, Vector256<float> hi) =>
        Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Columns(int first, int step) => (Vector256<int>.Indices * step + Vector256.Create(first)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Overlaps(Vector256<float> starts, int length, int from, int to)
    {
        var c = starts.AsInt32();
        return Vector256.ConvertToSingle(Vector256.Min(c + Vector256.Create(length), Vector256.Create(to)) - Vector256.Max(c, Vector256.Create(from)));
    }

    // VMASKMOVPS zeroes the lanes it leaves, so the fill is blended in. Signed compares: columns and widths are far
    // from int's ends.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadInside(float* p, Vector256<float> columns, int offset, Vector256<float> width, Vector256<float> fill)
    {
        var column = columns.AsInt32() + Vector256.Create(offset);
        var inside = (Vector256.GreaterThan(width.AsInt32(), column) & ~Vector256.LessThan(column, Vector256<int>.Zero)).AsSingle();
        return Avx.BlendVariable(fill, Avx.MaskLoad(p, inside), inside);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyNaN(Vector256<float> v) => Avx.CompareUnordered(v, v) != Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => Avx.Add(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => Avx.Divide(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => Avx.Multiply(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterOrKeep(Vector256<float> v, Vector256<float> m) => Avx.Max(v, m);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NaNOrKeep(Vector256<float> v, Vector256<float> n) => Avx.BlendVariable(n, v, Avx.CompareUnordered(v, v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadFirst(float* p, int n) =>
        Avx.MaskLoad(p, Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(n)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddInt(Vector256<float> a, int b) => (a.AsInt32() + Vector256.Create(b)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FirstInside(Vector256<float> columns, int k, int width, int offset)
    {
        var c = columns.AsInt32();
        var first = Vector256.Max(c, Vector256<int>.Zero);
        var any = Vector256.LessThan(first, Vector256.Min(c + Vector256.Create(k), Vector256.Create(width)));
        return Vector256.ConditionalSelect(any, first + Vector256.Create(offset), Vector256<int>.AllBitsSet).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxGreater(Vector256<float> v, Vector256<float> index, ref Vector256<float> m, ref Vector256<float> at)
    {
        at = Avx.BlendVariable(at, index, Avx.CompareGreaterThan(v, m));
        m = Avx.Max(v, m);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ArgMaxStep(Vector256<float> v, Vector256<float> index, ref Vector256<float> m, ref Vector256<float> at)
    {
        var take = Avx.CompareGreaterThan(v, m) | Avx.CompareUnordered(v, v);
        at = Avx.BlendVariable(at, index, take);
        m = Avx.BlendVariable(m, v, take);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> TakeBelow(float* p, Vector256<float> relative, Vector256<float> counts, int t) =>
        Avx2.PermuteVar8x32(Vector256.Load(p), relative.AsInt32()) & Vector256.GreaterThan(counts.AsInt32(), Vector256.Create(t)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector256<float> v, float* p, int n) =>
        Avx.MaskStore(p, Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(n)).AsSingle(), v);

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
