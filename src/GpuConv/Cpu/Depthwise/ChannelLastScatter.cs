using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// 16 channel planes into channel-last vectors at given destinations: pixel p's 16 channels go to
/// dst + offsets[p], so one pass both transposes and places each pixel (e.g. inside a zero-padded
/// plane), with no dense copy in between and no bias adds. 16 × 16 tiles in registers (AVX-512); the last
/// tile overlaps the one before it when the pixel count is not a multiple of 16 (same values written twice).
/// </summary>
internal static unsafe class ChannelLastScatter
{
    /// <summary>dst[offsets[p] + c] = planes[c · planeStride + p] for p &lt; pixels, c &lt; 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* planes, nint planeStride, int pixels, float* dst, int* offsets)
    {
        if (pixels < 16)
        {
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < 16; c++) dst[offsets[p] + c] = planes[c * planeStride + p];
            return;
        }
        for (int q = 0; ; q += 16)
        {
            if (q + 16 > pixels) q = pixels - 16;
            Tile(planes + q, planeStride, dst, offsets + q);
            if (q + 16 >= pixels) break;
        }
    }

    /// <summary>Transposes 16 rows of 16 floats in registers (as <see cref="BlockTranspose"/>), row j stored at dst + offsets[j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(float* src, nint lds, float* dst, int* offsets)
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
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);
        var u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(); var u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        var u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(); var u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        var u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(); var u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        var u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(); var u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        var u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle(); var u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        var u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle(); var u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        var u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle(); var u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        var u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle(); var u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
        var v0 = Avx512F.Shuffle4x128(u0, u4, 0x88); var v4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        var v8 = Avx512F.Shuffle4x128(u8, u12, 0x88); var v12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        var v1 = Avx512F.Shuffle4x128(u1, u5, 0x88); var v5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        var v9 = Avx512F.Shuffle4x128(u9, u13, 0x88); var v13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        var v2 = Avx512F.Shuffle4x128(u2, u6, 0x88); var v6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        var v10 = Avx512F.Shuffle4x128(u10, u14, 0x88); var v14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        var v3 = Avx512F.Shuffle4x128(u3, u7, 0x88); var v7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        var v11 = Avx512F.Shuffle4x128(u11, u15, 0x88); var v15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);
        Avx512F.Shuffle4x128(v0, v8, 0x88).Store(dst + offsets[0]);
        Avx512F.Shuffle4x128(v1, v9, 0x88).Store(dst + offsets[1]);
        Avx512F.Shuffle4x128(v2, v10, 0x88).Store(dst + offsets[2]);
        Avx512F.Shuffle4x128(v3, v11, 0x88).Store(dst + offsets[3]);
        Avx512F.Shuffle4x128(v4, v12, 0x88).Store(dst + offsets[4]);
        Avx512F.Shuffle4x128(v5, v13, 0x88).Store(dst + offsets[5]);
        Avx512F.Shuffle4x128(v6, v14, 0x88).Store(dst + offsets[6]);
        Avx512F.Shuffle4x128(v7, v15, 0x88).Store(dst + offsets[7]);
        Avx512F.Shuffle4x128(v0, v8, 0xDD).Store(dst + offsets[8]);
        Avx512F.Shuffle4x128(v1, v9, 0xDD).Store(dst + offsets[9]);
        Avx512F.Shuffle4x128(v2, v10, 0xDD).Store(dst + offsets[10]);
        Avx512F.Shuffle4x128(v3, v11, 0xDD).Store(dst + offsets[11]);
        Avx512F.Shuffle4x128(v4, v12, 0xDD).Store(dst + offsets[12]);
        Avx512F.Shuffle4x128(v5, v13, 0xDD).Store(dst + offsets[13]);
        Avx512F.Shuffle4x128(v6, v14, 0xDD).Store(dst + offsets[14]);
        Avx512F.Shuffle4x128(v7, v15, 0xDD).Store(dst + offsets[15]);
    }
}
