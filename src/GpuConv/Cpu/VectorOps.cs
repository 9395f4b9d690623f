using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu;

/// <summary>
/// Small element-wise loops of the CPU backend (add, add-scalar, sum), each walking
/// Vector512 → Vector256 → Vector128 → scalar: every tier consumes what it can and hands the tail on.
/// </summary>
internal static unsafe class VectorOps
{
    /// <summary>dst[i] += src[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(float* dst, float* src, nint n)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) (Vector512.Load(dst + i) + Vector512.Load(src + i)).Store(dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) (Vector256.Load(dst + i) + Vector256.Load(src + i)).Store(dst + i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= n; i += 4) (Vector128.Load(dst + i) + Vector128.Load(src + i)).Store(dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>dst[i] = src[i] + value for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CopyAddScalar(float* src, float* dst, float value, nint n)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var v = Vector512.Create(value);
            for (; i + 16 <= n; i += 16) (Vector512.Load(src + i) + v).Store(dst + i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var v = Vector256.Create(value);
            for (; i + 8 <= n; i += 8) (Vector256.Load(src + i) + v).Store(dst + i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var v = Vector128.Create(value);
            for (; i + 4 <= n; i += 4) (Vector128.Load(src + i) + v).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = src[i] + value;
    }

    /// <summary>dst[i] += value for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScalar(float* dst, float value, nint n)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var v = Vector512.Create(value);
            for (; i + 16 <= n; i += 16) (Vector512.Load(dst + i) + v).Store(dst + i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var v = Vector256.Create(value);
            for (; i + 8 <= n; i += 8) (Vector256.Load(dst + i) + v).Store(dst + i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var v = Vector128.Create(value);
            for (; i + 4 <= n; i += 4) (Vector128.Load(dst + i) + v).Store(dst + i);
        }
        for (; i < n; i++) dst[i] += value;
    }

    /// <summary>Sum of src[0..n) accumulated in double per vector lane (bias gradients sum many values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Sum(float* src, nint n)
    {
        nint i = 0;
        double total = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<double>.Zero;
            for (; i + 4 <= n; i += 4)
                acc += Vector256.WidenLower(Vector256.Create(Vector128.Load(src + i), Vector128<float>.Zero));
            total = Vector256.Sum(acc);
        }
        for (; i < n; i++) total += src[i];
        return total;
    }

    /// <summary>
    /// dst[i] = src[2i] for i &lt; n (a stride-2 gather: stride-2 im2col rows, phase splitting), reading
    /// no element at or past <paramref name="limit"/>. Two-source permutes pick the even lanes of 32
    /// (AVX-512) or 8 (SSE) consecutive floats; the rest is scalar.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GatherStride2(float* src, float* dst, int n, float* limit)
    {
        int i = 0;
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            var evens = Vector512<int>.Indices * 2;
            for (; i + 16 <= n && src + 2 * i + 32 <= limit; i += 16)
                Avx512F.PermuteVar16x32x2(Vector512.Load(src + 2 * i), evens, Vector512.Load(src + 2 * i + 16)).Store(dst + i);
        }
        if (Sse.IsSupported && Vector128.IsHardwareAccelerated)
            for (; i + 4 <= n && src + 2 * i + 8 <= limit; i += 4)
                Sse.Shuffle(Vector128.Load(src + 2 * i), Vector128.Load(src + 2 * i + 4), 0b10_00_10_00).Store(dst + i);
        for (; i < n; i++) dst[i] = src[2 * i];
    }

    /// <summary>
    /// Splits a row of <paramref name="count"/> floats that starts at padded column <paramref name="pw0"/> into
    /// four column phases (stride 4): column pw goes to row[(pw mod 4) · phaseFloats + pw / 4]. 64 floats a step,
    /// six two-source permutes, loads and stores masked at the row's end (Winograd F(4x4)'s stride-4 planes:
    /// one element at a time took 0.2 of a 56 × 56 × 64 layer's 0.9 thread-ms).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SplitStride4(float* src, int count, int pw0, float* row, long phaseFloats)
    {
        int i = 0;
        for (; i < count && ((pw0 + i) & 3) != 0; i++) row[((pw0 + i) & 3) * phaseFloats + (pw0 + i) / 4] = src[i];
        float* d = row + (pw0 + i) / 4;
        var evens = Vector512<int>.Indices * 2;
        var odd = evens + Vector512<int>.One;
        for (; i < count; i += 64, d += 16)
        {
            int rest = count - i;
            var v0 = Avx512F.MaskLoad(src + i, FirstLanes(rest), Vector512<float>.Zero);
            var v1 = Avx512F.MaskLoad(src + i + 16, FirstLanes(rest - 16), Vector512<float>.Zero);
            var v2 = Avx512F.MaskLoad(src + i + 32, FirstLanes(rest - 32), Vector512<float>.Zero);
            var v3 = Avx512F.MaskLoad(src + i + 48, FirstLanes(rest - 48), Vector512<float>.Zero);
            var a = Avx512F.PermuteVar16x32x2(v0, evens, v1);           // columns 0, 2, …, 30
            var b = Avx512F.PermuteVar16x32x2(v0, odd, v1);             // 1, 3, …, 31
            var c = Avx512F.PermuteVar16x32x2(v2, evens, v3);           // 32, 34, …, 62
            var e = Avx512F.PermuteVar16x32x2(v2, odd, v3);             // 33, 35, …, 63
            Avx512F.MaskStore(d, FirstLanes((rest + 3) / 4), Avx512F.PermuteVar16x32x2(a, evens, c));
            Avx512F.MaskStore(d + phaseFloats, FirstLanes((rest + 2) / 4), Avx512F.PermuteVar16x32x2(b, evens, e));
            Avx512F.MaskStore(d + 2 * phaseFloats, FirstLanes((rest + 1) / 4), Avx512F.PermuteVar16x32x2(a, odd, c));
            Avx512F.MaskStore(d + 3 * phaseFloats, FirstLanes(rest / 4), Avx512F.PermuteVar16x32x2(b, odd, e));
        }
    }

    /// <summary>A mask of the first <paramref name="n"/> lanes (none for n ≤ 0, all for n ≥ 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> FirstLanes(int n) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle();

    /// <summary>
    /// No NaN or ±Inf in <paramref name="count"/> floats (v − v is 0 for finite v, NaN otherwise), four
    /// vectors a step. Winograd and reduction-split check their inputs with it: their transforms and padded
    /// layouts would turn a ±Inf into a NaN the direct sum does not have.
    /// </summary>
    public static bool AllFinite(float* data, long count) =>
        UseVector128 ? AllFiniteVector128(data, count) : AllFiniteVector256(data, count);

    /// <summary>
    /// True where Vector128 is accelerated and Vector256 is not (ARM64's NEON, x64 without AVX2): there Vector256
    /// runs as .NET's software fallback instead of as instructions. With neither accelerated, Vector256 as before.
    /// </summary>
    static bool UseVector128 => !Vector256.IsHardwareAccelerated && Vector128.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool AllFiniteVector256(float* data, long count)
    {
        Vector256<float> a = Vector256<float>.Zero, b = a, c = a, d = a;
        long i = 0;
        for (; i + 32 <= count; i += 32)
        {
            var v0 = Vector256.Load(data + i); var v1 = Vector256.Load(data + i + 8);
            var v2 = Vector256.Load(data + i + 16); var v3 = Vector256.Load(data + i + 24);
            a += v0 - v0; b += v1 - v1; c += v2 - v2; d += v3 - v3;
        }
        float tail = 0;
        for (; i < count; i++) tail += data[i] - data[i];
        return tail == 0 && Vector256.EqualsAll(a + b + c + d, Vector256<float>.Zero);
    }

    /// <summary><see cref="AllFinite"/> in 128-bit vectors, four a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool AllFiniteVector128(float* data, long count)
    {
        Vector128<float> a = Vector128<float>.Zero, b = a, c = a, d = a;
        long i = 0;
        for (; i + 16 <= count; i += 16)
        {
            var v0 = Vector128.Load(data + i); var v1 = Vector128.Load(data + i + 4);
            var v2 = Vector128.Load(data + i + 8); var v3 = Vector128.Load(data + i + 12);
            a += v0 - v0; b += v1 - v1; c += v2 - v2; d += v3 - v3;
        }
        float tail = 0;
        for (; i < count; i++) tail += data[i] - data[i];
        return tail == 0 && Vector128.EqualsAll(a + b + c + d, Vector128<float>.Zero);
    }

    /// <summary>
    /// The largest |v| of <paramref name="count"/> floats, or +Inf when any is NaN or ±Inf. On the bits: with the
    /// sign cleared, the integer order of floats is their magnitude order and every NaN or Inf lies at or above
    /// 0x7F800000, so one AND and one integer max per vector find both (as cheap as <see cref="AllFinite"/>).
    /// </summary>
    public static float MaxAbsOrInfinity(float* data, long count) =>
        UseVector128 ? MaxAbsOrInfinityVector128(data, count) : MaxAbsOrInfinityVector256(data, count);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float MaxAbsOrInfinityVector256(float* data, long count)
    {
        var magnitude = Vector256.Create(0x7FFFFFFF);
        Vector256<int> a = Vector256<int>.Zero, b = a, c = a, d = a;
        int* bits = (int*)data;
        long i = 0;
        for (; i + 32 <= count; i += 32)
        {
            a = Vector256.Max(a, Vector256.Load(bits + i) & magnitude);
            b = Vector256.Max(b, Vector256.Load(bits + i + 8) & magnitude);
            c = Vector256.Max(c, Vector256.Load(bits + i + 16) & magnitude);
            d = Vector256.Max(d, Vector256.Load(bits + i + 24) & magnitude);
        }
        int max = Vector256.Max(Vector256.Max(a, b), Vector256.Max(c, d)) is var m
            ? Math.Max(Math.Max(Math.Max(m[0], m[1]), Math.Max(m[2], m[3])), Math.Max(Math.Max(m[4], m[5]), Math.Max(m[6], m[7]))) : 0;
        for (; i < count; i++) max = Math.Max(max, bits[i] & 0x7FFFFFFF);
        return max >= 0x7F800000 ? float.PositiveInfinity : BitConverter.Int32BitsToSingle(max);
    }

    /// <summary><see cref="MaxAbsOrInfinity"/> in 128-bit vectors, four a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float MaxAbsOrInfinityVector128(float* data, long count)
    {
        var magnitude = Vector128.Create(0x7FFFFFFF);
        Vector128<int> a = Vector128<int>.Zero, b = a, c = a, d = a;
        int* bits = (int*)data;
        long i = 0;
        for (; i + 16 <= count; i += 16)
        {
            a = Vector128.Max(a, Vector128.Load(bits + i) & magnitude);
            b = Vector128.Max(b, Vector128.Load(bits + i + 4) & magnitude);
            c = Vector128.Max(c, Vector128.Load(bits + i + 8) & magnitude);
            d = Vector128.Max(d, Vector128.Load(bits + i + 12) & magnitude);
        }
        var m = Vector128.Max(Vector128.Max(a, b), Vector128.Max(c, d));
        int max = Math.Max(Math.Max(m[0], m[1]), Math.Max(m[2], m[3]));
        for (; i < count; i++) max = Math.Max(max, bits[i] & 0x7FFFFFFF);
        return max >= 0x7F800000 ? float.PositiveInfinity : BitConverter.Int32BitsToSingle(max);
    }
}
