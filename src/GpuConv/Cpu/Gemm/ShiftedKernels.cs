// Register-tiled microkernels for shifted B rows, written out in full (generated) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// GEMM microkernels whose B operand is never packed: row p of B is read straight from memory at
/// b + offsets[p] (32 consecutive floats). Shifted-gemm's B rows are the padded input planes at a
/// constant tap offset each, so the kernels read the input in place, and A (the weights, row-major)
/// is read in place too. Vector512 only; the other tiers pack.
/// </summary>
internal static unsafe class ShiftedKernels
{
    /// <summary>12 × 32 tile with Vector512 (24 accumulators); A read in place (leading dimension lda), B row p read at b + offsets[p].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_12x32(nint kc, float* a, nint lda, float* b, nint* offsets, float* c, nint ldc, bool accumulate)
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
        float* r0 = a;
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
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2) + c2_0).Store(o2); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3) + c3_0).Store(o3); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4) + c4_0).Store(o4); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5) + c5_0).Store(o5); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            (Vector512.Load(o6) + c6_0).Store(o6); (Vector512.Load(o6 + 16) + c6_1).Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            (Vector512.Load(o7) + c7_0).Store(o7); (Vector512.Load(o7 + 16) + c7_1).Store(o7 + 16);
            float* o8 = c + 8 * ldc;
            (Vector512.Load(o8) + c8_0).Store(o8); (Vector512.Load(o8 + 16) + c8_1).Store(o8 + 16);
            float* o9 = c + 9 * ldc;
            (Vector512.Load(o9) + c9_0).Store(o9); (Vector512.Load(o9 + 16) + c9_1).Store(o9 + 16);
            float* o10 = c + 10 * ldc;
            (Vector512.Load(o10) + c10_0).Store(o10); (Vector512.Load(o10 + 16) + c10_1).Store(o10 + 16);
            float* o11 = c + 11 * ldc;
            (Vector512.Load(o11) + c11_0).Store(o11); (Vector512.Load(o11 + 16) + c11_1).Store(o11 + 16);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2); c2_1.Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3); c3_1.Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4); c4_1.Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5); c5_1.Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            c6_0.Store(o6); c6_1.Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            c7_0.Store(o7); c7_1.Store(o7 + 16);
            float* o8 = c + 8 * ldc;
            c8_0.Store(o8); c8_1.Store(o8 + 16);
            float* o9 = c + 9 * ldc;
            c9_0.Store(o9); c9_1.Store(o9 + 16);
            float* o10 = c + 10 * ldc;
            c10_0.Store(o10); c10_1.Store(o10 + 16);
            float* o11 = c + 11 * ldc;
            c11_0.Store(o11); c11_1.Store(o11 + 16);
        }
    }

    /// <summary>8 × 32 tile with Vector512 (16 accumulators); A read in place (leading dimension lda), B row p read at b + offsets[p].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_8x32(nint kc, float* a, nint lda, float* b, nint* offsets, float* c, nint ldc, bool accumulate)
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
        float* r0 = a;
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
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2) + c2_0).Store(o2); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3) + c3_0).Store(o3); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4) + c4_0).Store(o4); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5) + c5_0).Store(o5); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            (Vector512.Load(o6) + c6_0).Store(o6); (Vector512.Load(o6 + 16) + c6_1).Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            (Vector512.Load(o7) + c7_0).Store(o7); (Vector512.Load(o7 + 16) + c7_1).Store(o7 + 16);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2); c2_1.Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3); c3_1.Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4); c4_1.Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5); c5_1.Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            c6_0.Store(o6); c6_1.Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            c7_0.Store(o7); c7_1.Store(o7 + 16);
        }
    }
}
