// Register-tiled microkernels of shifted-direct (written out in full so the JIT keeps every accumulator in a register).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// The kernels of <see cref="ShiftedKernels"/> (B row p read in place at b + offsets[p], A read in
/// place) that store their tile straight into the output with the bias added: a tile is MR output
/// channels × up to 32 (or 16) consecutive pixels of one output row, so its rows are runs of y, and
/// a row's last, partial tile is stored masked. Vector512 only.
/// </summary>
internal static unsafe class RowTileKernels
{
    /// <summary>12 × 32 tile: A read in place (leading dimension lda), B row p at b + offsets[p]; the first <paramref name="cols"/> (1..32) columns of each row, plus its bias, stored to y (rows ldy apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile12x32(nint kc, float* a, nint lda, float* b, nint* offsets, float* y, nint ldy, float* bias, int cols)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero; var c4_1 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero; var c5_1 = Vector512<float>.Zero;
        var c6_0 = Vector512<float>.Zero; var c6_1 = Vector512<float>.Zero;
        var c7_0 = Vector512<float>.Zero; var c7_1 = Vector512<float>.Zero;
        var c8_0 = Vector512<float>.Zero; var c8_1 = Vector512<float>.Zero;
        var c9_0 = Vector512<float>.Zero; var c9_1 = Vector512<float>.Zero;
        var c10_0 = Vector512<float>.Zero; var c10_1 = Vector512<float>.Zero;
        var c11_0 = Vector512<float>.Zero; var c11_1 = Vector512<float>.Zero;
        nint lda2 = lda * 2;
        float* r0 = a + 0 * lda;
        float* r3 = a + 3 * lda;
        float* r6 = a + 6 * lda;
        float* r9 = a + 9 * lda;
        for (nint p = 0; p < kc; p++)
        {
            float* bp = b + offsets[p];
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            var a0 = Vector512.Create(r0[0]);
            c0_0 = Vector512.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector512.Create(r0[lda]);
            c1_0 = Vector512.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector512.Create(r0[lda2]);
            c2_0 = Vector512.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector512.Create(r3[0]);
            c3_0 = Vector512.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector512.Create(r3[lda]);
            c4_0 = Vector512.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector512.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector512.Create(r3[lda2]);
            c5_0 = Vector512.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector512.MultiplyAddEstimate(a5, b1, c5_1);
            var a6 = Vector512.Create(r6[0]);
            c6_0 = Vector512.MultiplyAddEstimate(a6, b0, c6_0); c6_1 = Vector512.MultiplyAddEstimate(a6, b1, c6_1);
            var a7 = Vector512.Create(r6[lda]);
            c7_0 = Vector512.MultiplyAddEstimate(a7, b0, c7_0); c7_1 = Vector512.MultiplyAddEstimate(a7, b1, c7_1);
            var a8 = Vector512.Create(r6[lda2]);
            c8_0 = Vector512.MultiplyAddEstimate(a8, b0, c8_0); c8_1 = Vector512.MultiplyAddEstimate(a8, b1, c8_1);
            var a9 = Vector512.Create(r9[0]);
            c9_0 = Vector512.MultiplyAddEstimate(a9, b0, c9_0); c9_1 = Vector512.MultiplyAddEstimate(a9, b1, c9_1);
            var a10 = Vector512.Create(r9[lda]);
            c10_0 = Vector512.MultiplyAddEstimate(a10, b0, c10_0); c10_1 = Vector512.MultiplyAddEstimate(a10, b1, c10_1);
            var a11 = Vector512.Create(r9[lda2]);
            c11_0 = Vector512.MultiplyAddEstimate(a11, b0, c11_0); c11_1 = Vector512.MultiplyAddEstimate(a11, b1, c11_1);
            r0++; r3++; r6++; r9++;
        }
        var m0 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();
        var m1 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols - 16)).AsSingle();
        if (cols >= 32)
        {
            { var s = Vector512.Create(bias[0]); float* o = y + 0 * ldy; (c0_0 + s).Store(o); (c0_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[1]); float* o = y + 1 * ldy; (c1_0 + s).Store(o); (c1_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[2]); float* o = y + 2 * ldy; (c2_0 + s).Store(o); (c2_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[3]); float* o = y + 3 * ldy; (c3_0 + s).Store(o); (c3_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[4]); float* o = y + 4 * ldy; (c4_0 + s).Store(o); (c4_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[5]); float* o = y + 5 * ldy; (c5_0 + s).Store(o); (c5_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[6]); float* o = y + 6 * ldy; (c6_0 + s).Store(o); (c6_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[7]); float* o = y + 7 * ldy; (c7_0 + s).Store(o); (c7_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[8]); float* o = y + 8 * ldy; (c8_0 + s).Store(o); (c8_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[9]); float* o = y + 9 * ldy; (c9_0 + s).Store(o); (c9_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[10]); float* o = y + 10 * ldy; (c10_0 + s).Store(o); (c10_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[11]); float* o = y + 11 * ldy; (c11_0 + s).Store(o); (c11_1 + s).Store(o + 16); }
        }
        else
        {
            { var s = Vector512.Create(bias[0]); float* o = y + 0 * ldy; Avx512F.MaskStore(o, m0, c0_0 + s); Avx512F.MaskStore(o + 16, m1, c0_1 + s); }
            { var s = Vector512.Create(bias[1]); float* o = y + 1 * ldy; Avx512F.MaskStore(o, m0, c1_0 + s); Avx512F.MaskStore(o + 16, m1, c1_1 + s); }
            { var s = Vector512.Create(bias[2]); float* o = y + 2 * ldy; Avx512F.MaskStore(o, m0, c2_0 + s); Avx512F.MaskStore(o + 16, m1, c2_1 + s); }
            { var s = Vector512.Create(bias[3]); float* o = y + 3 * ldy; Avx512F.MaskStore(o, m0, c3_0 + s); Avx512F.MaskStore(o + 16, m1, c3_1 + s); }
            { var s = Vector512.Create(bias[4]); float* o = y + 4 * ldy; Avx512F.MaskStore(o, m0, c4_0 + s); Avx512F.MaskStore(o + 16, m1, c4_1 + s); }
            { var s = Vector512.Create(bias[5]); float* o = y + 5 * ldy; Avx512F.MaskStore(o, m0, c5_0 + s); Avx512F.MaskStore(o + 16, m1, c5_1 + s); }
            { var s = Vector512.Create(bias[6]); float* o = y + 6 * ldy; Avx512F.MaskStore(o, m0, c6_0 + s); Avx512F.MaskStore(o + 16, m1, c6_1 + s); }
            { var s = Vector512.Create(bias[7]); float* o = y + 7 * ldy; Avx512F.MaskStore(o, m0, c7_0 + s); Avx512F.MaskStore(o + 16, m1, c7_1 + s); }
            { var s = Vector512.Create(bias[8]); float* o = y + 8 * ldy; Avx512F.MaskStore(o, m0, c8_0 + s); Avx512F.MaskStore(o + 16, m1, c8_1 + s); }
            { var s = Vector512.Create(bias[9]); float* o = y + 9 * ldy; Avx512F.MaskStore(o, m0, c9_0 + s); Avx512F.MaskStore(o + 16, m1, c9_1 + s); }
            { var s = Vector512.Create(bias[10]); float* o = y + 10 * ldy; Avx512F.MaskStore(o, m0, c10_0 + s); Avx512F.MaskStore(o + 16, m1, c10_1 + s); }
            { var s = Vector512.Create(bias[11]); float* o = y + 11 * ldy; Avx512F.MaskStore(o, m0, c11_0 + s); Avx512F.MaskStore(o + 16, m1, c11_1 + s); }
        }
    }

    /// <summary>8 × 32 tile: A read in place (leading dimension lda), B row p at b + offsets[p]; the first <paramref name="cols"/> (1..32) columns of each row, plus its bias, stored to y (rows ldy apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile8x32(nint kc, float* a, nint lda, float* b, nint* offsets, float* y, nint ldy, float* bias, int cols)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero; var c4_1 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero; var c5_1 = Vector512<float>.Zero;
        var c6_0 = Vector512<float>.Zero; var c6_1 = Vector512<float>.Zero;
        var c7_0 = Vector512<float>.Zero; var c7_1 = Vector512<float>.Zero;
        nint lda2 = lda * 2;
        float* r0 = a + 0 * lda;
        float* r3 = a + 3 * lda;
        float* r6 = a + 6 * lda;
        for (nint p = 0; p < kc; p++)
        {
            float* bp = b + offsets[p];
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            var a0 = Vector512.Create(r0[0]);
            c0_0 = Vector512.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector512.Create(r0[lda]);
            c1_0 = Vector512.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector512.Create(r0[lda2]);
            c2_0 = Vector512.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector512.Create(r3[0]);
            c3_0 = Vector512.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector512.Create(r3[lda]);
            c4_0 = Vector512.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector512.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector512.Create(r3[lda2]);
            c5_0 = Vector512.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector512.MultiplyAddEstimate(a5, b1, c5_1);
            var a6 = Vector512.Create(r6[0]);
            c6_0 = Vector512.MultiplyAddEstimate(a6, b0, c6_0); c6_1 = Vector512.MultiplyAddEstimate(a6, b1, c6_1);
            var a7 = Vector512.Create(r6[lda]);
            c7_0 = Vector512.MultiplyAddEstimate(a7, b0, c7_0); c7_1 = Vector512.MultiplyAddEstimate(a7, b1, c7_1);
            r0++; r3++; r6++;
        }
        var m0 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();
        var m1 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols - 16)).AsSingle();
        if (cols >= 32)
        {
            { var s = Vector512.Create(bias[0]); float* o = y + 0 * ldy; (c0_0 + s).Store(o); (c0_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[1]); float* o = y + 1 * ldy; (c1_0 + s).Store(o); (c1_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[2]); float* o = y + 2 * ldy; (c2_0 + s).Store(o); (c2_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[3]); float* o = y + 3 * ldy; (c3_0 + s).Store(o); (c3_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[4]); float* o = y + 4 * ldy; (c4_0 + s).Store(o); (c4_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[5]); float* o = y + 5 * ldy; (c5_0 + s).Store(o); (c5_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[6]); float* o = y + 6 * ldy; (c6_0 + s).Store(o); (c6_1 + s).Store(o + 16); }
            { var s = Vector512.Create(bias[7]); float* o = y + 7 * ldy; (c7_0 + s).Store(o); (c7_1 + s).Store(o + 16); }
        }
        else
        {
            { var s = Vector512.Create(bias[0]); float* o = y + 0 * ldy; Avx512F.MaskStore(o, m0, c0_0 + s); Avx512F.MaskStore(o + 16, m1, c0_1 + s); }
            { var s = Vector512.Create(bias[1]); float* o = y + 1 * ldy; Avx512F.MaskStore(o, m0, c1_0 + s); Avx512F.MaskStore(o + 16, m1, c1_1 + s); }
            { var s = Vector512.Create(bias[2]); float* o = y + 2 * ldy; Avx512F.MaskStore(o, m0, c2_0 + s); Avx512F.MaskStore(o + 16, m1, c2_1 + s); }
            { var s = Vector512.Create(bias[3]); float* o = y + 3 * ldy; Avx512F.MaskStore(o, m0, c3_0 + s); Avx512F.MaskStore(o + 16, m1, c3_1 + s); }
            { var s = Vector512.Create(bias[4]); float* o = y + 4 * ldy; Avx512F.MaskStore(o, m0, c4_0 + s); Avx512F.MaskStore(o + 16, m1, c4_1 + s); }
            { var s = Vector512.Create(bias[5]); float* o = y + 5 * ldy; Avx512F.MaskStore(o, m0, c5_0 + s); Avx512F.MaskStore(o + 16, m1, c5_1 + s); }
            { var s = Vector512.Create(bias[6]); float* o = y + 6 * ldy; Avx512F.MaskStore(o, m0, c6_0 + s); Avx512F.MaskStore(o + 16, m1, c6_1 + s); }
            { var s = Vector512.Create(bias[7]); float* o = y + 7 * ldy; Avx512F.MaskStore(o, m0, c7_0 + s); Avx512F.MaskStore(o + 16, m1, c7_1 + s); }
        }
    }

    /// <summary>12 × 16 tile: A read in place (leading dimension lda), B row p at b + offsets[p]; the first <paramref name="cols"/> (1..16) columns of each row, plus its bias, stored to y (rows ldy apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile12x16(nint kc, float* a, nint lda, float* b, nint* offsets, float* y, nint ldy, float* bias, int cols)
    {
        var c0_0 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero;
        var c6_0 = Vector512<float>.Zero;
        var c7_0 = Vector512<float>.Zero;
        var c8_0 = Vector512<float>.Zero;
        var c9_0 = Vector512<float>.Zero;
        var c10_0 = Vector512<float>.Zero;
        var c11_0 = Vector512<float>.Zero;
        nint lda2 = lda * 2;
        float* r0 = a + 0 * lda;
        float* r3 = a + 3 * lda;
        float* r6 = a + 6 * lda;
        float* r9 = a + 9 * lda;
        for (nint p = 0; p < kc; p++)
        {
            float* bp = b + offsets[p];
            var b0 = Vector512.Load(bp);
            var a0 = Vector512.Create(r0[0]);
            c0_0 = Vector512.MultiplyAddEstimate(a0, b0, c0_0);
            var a1 = Vector512.Create(r0[lda]);
            c1_0 = Vector512.MultiplyAddEstimate(a1, b0, c1_0);
            var a2 = Vector512.Create(r0[lda2]);
            c2_0 = Vector512.MultiplyAddEstimate(a2, b0, c2_0);
            var a3 = Vector512.Create(r3[0]);
            c3_0 = Vector512.MultiplyAddEstimate(a3, b0, c3_0);
            var a4 = Vector512.Create(r3[lda]);
            c4_0 = Vector512.MultiplyAddEstimate(a4, b0, c4_0);
            var a5 = Vector512.Create(r3[lda2]);
            c5_0 = Vector512.MultiplyAddEstimate(a5, b0, c5_0);
            var a6 = Vector512.Create(r6[0]);
            c6_0 = Vector512.MultiplyAddEstimate(a6, b0, c6_0);
            var a7 = Vector512.Create(r6[lda]);
            c7_0 = Vector512.MultiplyAddEstimate(a7, b0, c7_0);
            var a8 = Vector512.Create(r6[lda2]);
            c8_0 = Vector512.MultiplyAddEstimate(a8, b0, c8_0);
            var a9 = Vector512.Create(r9[0]);
            c9_0 = Vector512.MultiplyAddEstimate(a9, b0, c9_0);
            var a10 = Vector512.Create(r9[lda]);
            c10_0 = Vector512.MultiplyAddEstimate(a10, b0, c10_0);
            var a11 = Vector512.Create(r9[lda2]);
            c11_0 = Vector512.MultiplyAddEstimate(a11, b0, c11_0);
            r0++; r3++; r6++; r9++;
        }
        var m0 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();
        Avx512F.MaskStore(y + 0 * ldy, m0, c0_0 + Vector512.Create(bias[0]));
        Avx512F.MaskStore(y + 1 * ldy, m0, c1_0 + Vector512.Create(bias[1]));
        Avx512F.MaskStore(y + 2 * ldy, m0, c2_0 + Vector512.Create(bias[2]));
        Avx512F.MaskStore(y + 3 * ldy, m0, c3_0 + Vector512.Create(bias[3]));
        Avx512F.MaskStore(y + 4 * ldy, m0, c4_0 + Vector512.Create(bias[4]));
        Avx512F.MaskStore(y + 5 * ldy, m0, c5_0 + Vector512.Create(bias[5]));
        Avx512F.MaskStore(y + 6 * ldy, m0, c6_0 + Vector512.Create(bias[6]));
        Avx512F.MaskStore(y + 7 * ldy, m0, c7_0 + Vector512.Create(bias[7]));
        Avx512F.MaskStore(y + 8 * ldy, m0, c8_0 + Vector512.Create(bias[8]));
        Avx512F.MaskStore(y + 9 * ldy, m0, c9_0 + Vector512.Create(bias[9]));
        Avx512F.MaskStore(y + 10 * ldy, m0, c10_0 + Vector512.Create(bias[10]));
        Avx512F.MaskStore(y + 11 * ldy, m0, c11_0 + Vector512.Create(bias[11]));
    }

    /// <summary>8 × 16 tile: A read in place (leading dimension lda), B row p at b + offsets[p]; the first <paramref name="cols"/> (1..16) columns of each row, plus its bias, stored to y (rows ldy apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile8x16(nint kc, float* a, nint lda, float* b, nint* offsets, float* y, nint ldy, float* bias, int cols)
    {
        var c0_0 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero;
        var c6_0 = Vector512<float>.Zero;
        var c7_0 = Vector512<float>.Zero;
        nint lda2 = lda * 2;
        float* r0 = a + 0 * lda;
        float* r3 = a + 3 * lda;
        float* r6 = a + 6 * lda;
        for (nint p = 0; p < kc; p++)
        {
            float* bp = b + offsets[p];
            var b0 = Vector512.Load(bp);
            var a0 = Vector512.Create(r0[0]);
            c0_0 = Vector512.MultiplyAddEstimate(a0, b0, c0_0);
            var a1 = Vector512.Create(r0[lda]);
            c1_0 = Vector512.MultiplyAddEstimate(a1, b0, c1_0);
            var a2 = Vector512.Create(r0[lda2]);
            c2_0 = Vector512.MultiplyAddEstimate(a2, b0, c2_0);
            var a3 = Vector512.Create(r3[0]);
            c3_0 = Vector512.MultiplyAddEstimate(a3, b0, c3_0);
            var a4 = Vector512.Create(r3[lda]);
            c4_0 = Vector512.MultiplyAddEstimate(a4, b0, c4_0);
            var a5 = Vector512.Create(r3[lda2]);
            c5_0 = Vector512.MultiplyAddEstimate(a5, b0, c5_0);
            var a6 = Vector512.Create(r6[0]);
            c6_0 = Vector512.MultiplyAddEstimate(a6, b0, c6_0);
            var a7 = Vector512.Create(r6[lda]);
            c7_0 = Vector512.MultiplyAddEstimate(a7, b0, c7_0);
            r0++; r3++; r6++;
        }
        var m0 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();
        Avx512F.MaskStore(y + 0 * ldy, m0, c0_0 + Vector512.Create(bias[0]));
        Avx512F.MaskStore(y + 1 * ldy, m0, c1_0 + Vector512.Create(bias[1]));
        Avx512F.MaskStore(y + 2 * ldy, m0, c2_0 + Vector512.Create(bias[2]));
        Avx512F.MaskStore(y + 3 * ldy, m0, c3_0 + Vector512.Create(bias[3]));
        Avx512F.MaskStore(y + 4 * ldy, m0, c4_0 + Vector512.Create(bias[4]));
        Avx512F.MaskStore(y + 5 * ldy, m0, c5_0 + Vector512.Create(bias[5]));
        Avx512F.MaskStore(y + 6 * ldy, m0, c6_0 + Vector512.Create(bias[6]));
        Avx512F.MaskStore(y + 7 * ldy, m0, c7_0 + Vector512.Create(bias[7]));
    }
}
