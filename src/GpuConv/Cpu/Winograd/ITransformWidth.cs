using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// The vector width of the Winograd transforms as a type (<see cref="TransformWidth512"/>: 16 lanes, AVX-512;
/// <see cref="TransformWidth256"/>: 8 lanes, AVX2), so each variant's transforms are written once and the JIT
/// compiles one copy per width with these members inlined (hence AggressiveInlining on every one: the inlining
/// budget of a large transform must not run out before them).
/// </summary>
internal unsafe interface ITransformWidth<TV> where TV : struct
{
    static abstract int Lanes { get; }

    /// <summary>
    /// Whether whole vectors of V are stored plainly and only a row's last, partial one masked (AVX2: vmaskmovps is
    /// slow on some cores); otherwise every store is masked (AVX-512: a masked store costs as much as a plain one).
    /// </summary>
    static abstract bool PlainWhole { get; }

    static abstract TV AllLanes { get; }

    /// <summary>The store mask of a row of <paramref name="count"/> lanes' last vector: its first (count − 1) mod Lanes + 1 lanes.</summary>
    static abstract TV LastMask(int count);

    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract void MaskStore(float* p, TV mask, TV v);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract TV Negate(TV a);
    /// <summary>a·b + c, fused.</summary>
    static abstract TV FusedMultiplyAdd(TV a, TV b, TV c);
    static abstract TV Create(float value);

    /// <summary>The first <paramref name="n"/> lanes, as a store mask.</summary>
    static abstract TV FirstLanes(int n);

    /// <summary>What <see cref="StoreSelected"/> needs to pack the lanes set in <paramref name="bits"/> to the front.</summary>
    static abstract TV Selection(uint bits);

    /// <summary>The lanes of <paramref name="v"/> that <paramref name="selection"/> picks, packed to the front, stored in the lanes of <paramref name="stored"/>.</summary>
    static abstract void StoreSelected(float* p, TV stored, TV selection, TV v);
}

/// <summary>16 lanes in zmm registers (AVX-512).</summary>
internal readonly unsafe struct TransformWidth512 : ITransformWidth<Vector512<float>>
{
    public static int Lanes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 16; }
    public static bool PlainWhole { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => false; }
    public static Vector512<float> AllLanes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<int>.AllBitsSet.AsSingle(); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LastMask(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((count - 1) % 16 + 1)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaskStore(float* p, Vector512<float> mask, Vector512<float> v) => Avx512F.MaskStore(p, mask, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Negate(Vector512<float> a) => -a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Create(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FirstLanes(int n) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle();

    /// <summary>The compress mask: lane k set where bit k is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Selection(uint bits)
    {
        // Lane k holds 1 << k: a constant made here, not read from a property (see PoolVector512).
        var laneBits = Vector512.Create(1u, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
        return Vector512.Equals(Vector512.Create(bits) & laneBits, laneBits).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreSelected(float* p, Vector512<float> stored, Vector512<float> selection, Vector512<float> v) =>
        Avx512F.MaskStore(p, stored, Avx512F.Compress(Vector512<float>.Zero, selection, v));

}

/// <summary>8 lanes in ymm registers (AVX2).</summary>
internal readonly unsafe struct TransformWidth256 : ITransformWidth<Vector256<float>>
{
    public static int Lanes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => 8; }
    public static bool PlainWhole { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => true; }
    public static Vector256<float> AllLanes { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256<int>.AllBitsSet.AsSingle(); }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LastMask(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create((count - 1) % 8 + 1)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaskStore(float* p, Vector256<float> mask, Vector256<float> v) => Avx.MaskStore(p, mask, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Negate(Vector256<float> a) => -a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Create(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FirstLanes(int n) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(n)).AsSingle();

    /// <summary>AVX2 has no compress: the permutation (as floats) that gathers the lanes set in <paramref name="bits"/> to the front, from a 256-entry table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Selection(uint bits) => Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(CompressTable), (nuint)bits * 8).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreSelected(float* p, Vector256<float> stored, Vector256<float> selection, Vector256<float> v) =>
        Avx.MaskStore(p, stored, Avx2.PermuteVar8x32(v, selection.AsInt32()));

    /// <summary>Row b (8 ints) lists the set bits of b in order, then zeros: the permutation that moves the kept lanes to the front.</summary>
    static readonly int[] CompressTable = MakeCompressTable();

    static int[] MakeCompressTable()
    {
        var table = new int[256 * 8];
        for (int bits = 0; bits < 256; bits++)
            for (int k = 0, n = 0; k < 8; k++)
                if ((bits & (1 << k)) != 0) table[bits * 8 + n++] = k;
        return table;
    }
}
