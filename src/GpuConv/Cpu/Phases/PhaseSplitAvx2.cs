using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Phases;

/// <summary>
/// Splitting an input row into its stride-2 or stride-4 column phases in ymm registers (AVX2), for the phase
/// planes of strided layers and of Winograd's patches on AVX2 machines, where the AVX-512 splits
/// (<see cref="VectorOps.SplitStride4"/>, the two-source permutes) are missing: the stride-4 split ran one
/// element at a time there and the stride-2 one as SSE gathers that read every float twice, which made the
/// padding — done by every worker for the planes it reads — a serial share of Winograd F(4×4) on two threads.
/// In-lane shuffles and unpacks, then one cross-lane permute per output vector; the ends of a row scalar.
/// </summary>
internal static unsafe class PhaseSplitAvx2
{
    /// <summary>even[i] = src[2i], odd[i] = src[2i + 1] over the <paramref name="count"/> floats of src: 16 a step, then 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Stride2(float* src, int count, float* even, float* odd)
    {
        int i = 0;
        for (; i + 16 <= count; i += 16)
        {
            var a = Vector256.Load(src + i);
            var b = Vector256.Load(src + i + 8);
            // In each 128-bit lane: a's two even (odd) columns then b's; the 64-bit permute puts the lanes in order.
            var e = Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble();
            var o = Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble();
            Avx2.Permute4x64(e, 0b11_01_10_00).AsSingle().Store(even + i / 2);
            Avx2.Permute4x64(o, 0b11_01_10_00).AsSingle().Store(odd + i / 2);
        }
        // Short rows (Winograd F(2×2)'s 14-wide planes) and a row's rest: 8 columns a step in xmm registers.
        for (; i + 8 <= count; i += 8)
        {
            var a = Vector128.Load(src + i);
            var b = Vector128.Load(src + i + 4);
            Sse.Shuffle(a, b, 0b10_00_10_00).Store(even + i / 2);
            Sse.Shuffle(a, b, 0b11_01_11_01).Store(odd + i / 2);
        }
        for (; i < count; i++)
        {
            if ((i & 1) == 0) even[i / 2] = src[i];
            else odd[i / 2] = src[i];
        }
    }

    /// <summary>
    /// The <paramref name="count"/> floats of src, which start at padded column <paramref name="pw0"/>, into four
    /// column phases: column pw goes to row[(pw mod 4) · phaseFloats + pw / 4]. 32 floats a step, then 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Stride4(float* src, int count, int pw0, float* row, long phaseFloats)
    {
        int i = 0;
        for (; i < count && ((pw0 + i) & 3) != 0; i++) row[((pw0 + i) & 3) * phaseFloats + (pw0 + i) / 4] = src[i];
        float* d = row + (pw0 + i) / 4;
        // Lane k of a phase's vector is column 4k + phase; after the unpacks it sits at lane order 0, 2, 4, 6, 1, 3, 5, 7.
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        for (; i + 32 <= count; i += 32, d += 8)
        {
            var v0 = Vector256.Load(src + i);
            var v1 = Vector256.Load(src + i + 8);
            var v2 = Vector256.Load(src + i + 16);
            var v3 = Vector256.Load(src + i + 24);
            // Per 128-bit lane: (v0[j], v1[j], v0[j+1], v1[j+1]) pairs, then (v0, v1, v2, v3)[j] quadruples.
            var lo01 = Avx.UnpackLow(v0, v1).AsDouble();
            var hi01 = Avx.UnpackHigh(v0, v1).AsDouble();
            var lo23 = Avx.UnpackLow(v2, v3).AsDouble();
            var hi23 = Avx.UnpackHigh(v2, v3).AsDouble();
            Avx2.PermuteVar8x32(Avx.UnpackLow(lo01, lo23).AsSingle(), order).Store(d);
            Avx2.PermuteVar8x32(Avx.UnpackHigh(lo01, lo23).AsSingle(), order).Store(d + phaseFloats);
            Avx2.PermuteVar8x32(Avx.UnpackLow(hi01, hi23).AsSingle(), order).Store(d + 2 * phaseFloats);
            Avx2.PermuteVar8x32(Avx.UnpackHigh(hi01, hi23).AsSingle(), order).Store(d + 3 * phaseFloats);
        }
        // Short rows (Winograd F(4×4)'s 28-wide planes) and a row's rest: 16 columns a step as a 4 × 4 transpose in xmm registers.
        for (; i + 16 <= count; i += 16, d += 4)
        {
            var v0 = Vector128.Load(src + i);
            var v1 = Vector128.Load(src + i + 4);
            var v2 = Vector128.Load(src + i + 8);
            var v3 = Vector128.Load(src + i + 12);
            var lo01 = Sse.UnpackLow(v0, v1).AsDouble();     // columns 0, 4, 1, 5
            var hi01 = Sse.UnpackHigh(v0, v1).AsDouble();    // 2, 6, 3, 7
            var lo23 = Sse.UnpackLow(v2, v3).AsDouble();     // 8, 12, 9, 13
            var hi23 = Sse.UnpackHigh(v2, v3).AsDouble();    // 10, 14, 11, 15
            Sse2.UnpackLow(lo01, lo23).AsSingle().Store(d);
            Sse2.UnpackHigh(lo01, lo23).AsSingle().Store(d + phaseFloats);
            Sse2.UnpackLow(hi01, hi23).AsSingle().Store(d + 2 * phaseFloats);
            Sse2.UnpackHigh(hi01, hi23).AsSingle().Store(d + 3 * phaseFloats);
        }
        for (; i < count; i++) row[((pw0 + i) & 3) * phaseFloats + (pw0 + i) / 4] = src[i];
    }
}
