using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu;

/// <summary>
/// Writes a pixel-major block (row q: the channels of pixel q) into channel planes (row c: the pixels
/// of channel c), adding a bias per channel: 16 × 16 tiles transposed in registers (AVX-512), the
/// ragged edges element by element.
/// </summary>
internal static unsafe class BlockTranspose
{
    /// <summary>
    /// y[c · ldy + q] = src[q · lds + c] + bias[c] for q &lt; pixels, c &lt; channels (bias may be null).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToPlanes(float* src, nint lds, int pixels, int channels, float* y, nint ldy, float* bias)
    {
        int q = 0, fullChannels = Avx512F.IsSupported ? channels / 16 * 16 : 0;
        if (fullChannels > 0)
        {
            float* zeros = stackalloc float[16];
            for (int i = 0; i < 16; i++) zeros[i] = 0f;
            for (; q + 16 <= pixels; q += 16)
                for (int c = 0; c < fullChannels; c += 16)
                    Transpose16x16(src + (nint)q * lds + c, lds, new PlaneRows(y + (nint)c * ldy + q, ldy, bias == null ? zeros : bias + c));
        }
        // Pixels past the last whole 16, and channels past the last whole 16.
        for (int c = 0; c < channels; c++)
        {
            float b = bias == null ? 0f : bias[c];
            float* dst = y + (nint)c * ldy;
            for (int p = c < fullChannels ? q : 0; p < pixels; p++) dst[p] = src[(nint)p * lds + c] + b;
        }
    }

    /// <summary>Transposes 16 rows of 16 floats held in registers (four rounds of lane shuffles; written out so every value stays in a register).</summary>
    /// <remarks>Row j of the result goes to <paramref name="rows"/>.Store(j, …); the struct's type is a generic
    /// argument, so each destination gets its own compiled copy with the store inlined.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose16x16<TRows>(float* src, nint lds, TRows rows) where TRows : struct, ITransposedRows
    {
        var r0 = Vector512.Load(src + 0 * lds);
        var r1 = Vector512.Load(src + 1 * lds);
        var r2 = Vector512.Load(src + 2 * lds);
        var r3 = Vector512.Load(src + 3 * lds);
        var r4 = Vector512.Load(src + 4 * lds);
        var r5 = Vector512.Load(src + 5 * lds);
        var r6 = Vector512.Load(src + 6 * lds);
        var r7 = Vector512.Load(src + 7 * lds);
        var r8 = Vector512.Load(src + 8 * lds);
        var r9 = Vector512.Load(src + 9 * lds);
        var r10 = Vector512.Load(src + 10 * lds);
        var r11 = Vector512.Load(src + 11 * lds);
        var r12 = Vector512.Load(src + 12 * lds);
        var r13 = Vector512.Load(src + 13 * lds);
        var r14 = Vector512.Load(src + 14 * lds);
        var r15 = Vector512.Load(src + 15 * lds);
        // Pairs of rows interleaved by element within each 128-bit lane.
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);
        // Then by element pair: lane L of u[4i + j] holds rows 4i..4i+3 of channel 4L + j.
        var u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(); var u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        var u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(); var u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        var u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(); var u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        var u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(); var u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        var u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle(); var u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        var u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle(); var u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        var u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle(); var u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        var u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle(); var u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
        // Then whole 128-bit lanes, twice: even lanes (0x88) and odd lanes (0xDD) of two registers.
        var v0 = Avx512F.Shuffle4x128(u0, u4, 0x88); var v4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        var v8 = Avx512F.Shuffle4x128(u8, u12, 0x88); var v12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        var v1 = Avx512F.Shuffle4x128(u1, u5, 0x88); var v5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        var v9 = Avx512F.Shuffle4x128(u9, u13, 0x88); var v13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        var v2 = Avx512F.Shuffle4x128(u2, u6, 0x88); var v6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        var v10 = Avx512F.Shuffle4x128(u10, u14, 0x88); var v14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        var v3 = Avx512F.Shuffle4x128(u3, u7, 0x88); var v7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        var v11 = Avx512F.Shuffle4x128(u11, u15, 0x88); var v15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);
        rows.Store(0, Avx512F.Shuffle4x128(v0, v8, 0x88));
        rows.Store(1, Avx512F.Shuffle4x128(v1, v9, 0x88));
        rows.Store(2, Avx512F.Shuffle4x128(v2, v10, 0x88));
        rows.Store(3, Avx512F.Shuffle4x128(v3, v11, 0x88));
        rows.Store(4, Avx512F.Shuffle4x128(v4, v12, 0x88));
        rows.Store(5, Avx512F.Shuffle4x128(v5, v13, 0x88));
        rows.Store(6, Avx512F.Shuffle4x128(v6, v14, 0x88));
        rows.Store(7, Avx512F.Shuffle4x128(v7, v15, 0x88));
        rows.Store(8, Avx512F.Shuffle4x128(v0, v8, 0xDD));
        rows.Store(9, Avx512F.Shuffle4x128(v1, v9, 0xDD));
        rows.Store(10, Avx512F.Shuffle4x128(v2, v10, 0xDD));
        rows.Store(11, Avx512F.Shuffle4x128(v3, v11, 0xDD));
        rows.Store(12, Avx512F.Shuffle4x128(v4, v12, 0xDD));
        rows.Store(13, Avx512F.Shuffle4x128(v5, v13, 0xDD));
        rows.Store(14, Avx512F.Shuffle4x128(v6, v14, 0xDD));
        rows.Store(15, Avx512F.Shuffle4x128(v7, v15, 0xDD));
    }


    /// <summary>Where the transposed rows of one tile go.</summary>
    internal interface ITransposedRows
    {
        void Store(int j, Vector512<float> row);
    }

    /// <summary>Channel planes: row j (channel j) at dst + j · ldd, plus bias[j].</summary>
    readonly struct PlaneRows(float* dst, nint ldd, float* bias) : ITransposedRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(int j, Vector512<float> row) => (row + Vector512.Create(bias[j])).Store(dst + j * ldd);
    }
}
