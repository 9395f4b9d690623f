// Register-tiled GEMM microkernels, written out in full (generated) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// The innermost GEMM loop, one per tier and tile shape: multiplies a packed A micro-panel (kc × MR, MR
/// values per k) by a packed B micro-panel (kc × NR, NR values per k) into an MR × NR tile of C held in
/// registers, then stores (or adds) the tile. Operands are zero-padded by packing, so kernels only see
/// full tiles. The *_Direct variants read a row-major A in place instead: convolution weights are
/// already row-major, and packing them on every call costs as much as the GEMM when outputs are small.
/// </summary>
internal static unsafe class MicroKernels
{
    /// <summary>12 × 32 tile with Vector512 (24 accumulators): C[0..12, 0..32] (+)= Ap · Bp over kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_12x32(nint kc, float* a, float* b, float* c, nint ldc, bool accumulate)
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
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Vector512.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Vector512.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Vector512.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Vector512.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Vector512.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector512.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Vector512.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector512.MultiplyAddEstimate(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Vector512.MultiplyAddEstimate(a6, b0, c6_0); c6_1 = Vector512.MultiplyAddEstimate(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Vector512.MultiplyAddEstimate(a7, b0, c7_0); c7_1 = Vector512.MultiplyAddEstimate(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Vector512.MultiplyAddEstimate(a8, b0, c8_0); c8_1 = Vector512.MultiplyAddEstimate(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Vector512.MultiplyAddEstimate(a9, b0, c9_0); c9_1 = Vector512.MultiplyAddEstimate(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Vector512.MultiplyAddEstimate(a10, b0, c10_0); c10_1 = Vector512.MultiplyAddEstimate(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Vector512.MultiplyAddEstimate(a11, b0, c11_0); c11_1 = Vector512.MultiplyAddEstimate(a11, b1, c11_1);
            a += 12;
            b += 32;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector512.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            (Vector512.Load(o6 + 0) + c6_0).Store(o6 + 0); (Vector512.Load(o6 + 16) + c6_1).Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            (Vector512.Load(o7 + 0) + c7_0).Store(o7 + 0); (Vector512.Load(o7 + 16) + c7_1).Store(o7 + 16);
            float* o8 = c + 8 * ldc;
            (Vector512.Load(o8 + 0) + c8_0).Store(o8 + 0); (Vector512.Load(o8 + 16) + c8_1).Store(o8 + 16);
            float* o9 = c + 9 * ldc;
            (Vector512.Load(o9 + 0) + c9_0).Store(o9 + 0); (Vector512.Load(o9 + 16) + c9_1).Store(o9 + 16);
            float* o10 = c + 10 * ldc;
            (Vector512.Load(o10 + 0) + c10_0).Store(o10 + 0); (Vector512.Load(o10 + 16) + c10_1).Store(o10 + 16);
            float* o11 = c + 11 * ldc;
            (Vector512.Load(o11 + 0) + c11_0).Store(o11 + 0); (Vector512.Load(o11 + 16) + c11_1).Store(o11 + 16);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            c6_0.Store(o6 + 0); c6_1.Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            c7_0.Store(o7 + 0); c7_1.Store(o7 + 16);
            float* o8 = c + 8 * ldc;
            c8_0.Store(o8 + 0); c8_1.Store(o8 + 16);
            float* o9 = c + 9 * ldc;
            c9_0.Store(o9 + 0); c9_1.Store(o9 + 16);
            float* o10 = c + 10 * ldc;
            c10_0.Store(o10 + 0); c10_1.Store(o10 + 16);
            float* o11 = c + 11 * ldc;
            c11_0.Store(o11 + 0); c11_1.Store(o11 + 16);
        }
    }

    /// <summary>12 × 32 tile with Vector512 (24 accumulators), A read in place (row-major, leading dimension lda).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_12x32_Direct(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool accumulate)
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
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
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
            b += 32;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector512.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            (Vector512.Load(o6 + 0) + c6_0).Store(o6 + 0); (Vector512.Load(o6 + 16) + c6_1).Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            (Vector512.Load(o7 + 0) + c7_0).Store(o7 + 0); (Vector512.Load(o7 + 16) + c7_1).Store(o7 + 16);
            float* o8 = c + 8 * ldc;
            (Vector512.Load(o8 + 0) + c8_0).Store(o8 + 0); (Vector512.Load(o8 + 16) + c8_1).Store(o8 + 16);
            float* o9 = c + 9 * ldc;
            (Vector512.Load(o9 + 0) + c9_0).Store(o9 + 0); (Vector512.Load(o9 + 16) + c9_1).Store(o9 + 16);
            float* o10 = c + 10 * ldc;
            (Vector512.Load(o10 + 0) + c10_0).Store(o10 + 0); (Vector512.Load(o10 + 16) + c10_1).Store(o10 + 16);
            float* o11 = c + 11 * ldc;
            (Vector512.Load(o11 + 0) + c11_0).Store(o11 + 0); (Vector512.Load(o11 + 16) + c11_1).Store(o11 + 16);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            c6_0.Store(o6 + 0); c6_1.Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            c7_0.Store(o7 + 0); c7_1.Store(o7 + 16);
            float* o8 = c + 8 * ldc;
            c8_0.Store(o8 + 0); c8_1.Store(o8 + 16);
            float* o9 = c + 9 * ldc;
            c9_0.Store(o9 + 0); c9_1.Store(o9 + 16);
            float* o10 = c + 10 * ldc;
            c10_0.Store(o10 + 0); c10_1.Store(o10 + 16);
            float* o11 = c + 11 * ldc;
            c11_0.Store(o11 + 0); c11_1.Store(o11 + 16);
        }
    }

    /// <summary>8 × 32 tile with Vector512 (16 accumulators): C[0..8, 0..32] (+)= Ap · Bp over kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_8x32(nint kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero; var c4_1 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero; var c5_1 = Vector512<float>.Zero;
        var c6_0 = Vector512<float>.Zero; var c6_1 = Vector512<float>.Zero;
        var c7_0 = Vector512<float>.Zero; var c7_1 = Vector512<float>.Zero;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Vector512.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Vector512.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Vector512.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Vector512.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Vector512.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector512.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Vector512.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector512.MultiplyAddEstimate(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Vector512.MultiplyAddEstimate(a6, b0, c6_0); c6_1 = Vector512.MultiplyAddEstimate(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Vector512.MultiplyAddEstimate(a7, b0, c7_0); c7_1 = Vector512.MultiplyAddEstimate(a7, b1, c7_1);
            a += 8;
            b += 32;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector512.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            (Vector512.Load(o6 + 0) + c6_0).Store(o6 + 0); (Vector512.Load(o6 + 16) + c6_1).Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            (Vector512.Load(o7 + 0) + c7_0).Store(o7 + 0); (Vector512.Load(o7 + 16) + c7_1).Store(o7 + 16);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            c6_0.Store(o6 + 0); c6_1.Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            c7_0.Store(o7 + 0); c7_1.Store(o7 + 16);
        }
    }

    /// <summary>8 × 32 tile with Vector512 (16 accumulators), A read in place (row-major, leading dimension lda).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_8x32_Direct(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool accumulate)
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
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
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
            b += 32;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector512.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            (Vector512.Load(o6 + 0) + c6_0).Store(o6 + 0); (Vector512.Load(o6 + 16) + c6_1).Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            (Vector512.Load(o7 + 0) + c7_0).Store(o7 + 0); (Vector512.Load(o7 + 16) + c7_1).Store(o7 + 16);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 16);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 16);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 16);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 16);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 16);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 16);
            float* o6 = c + 6 * ldc;
            c6_0.Store(o6 + 0); c6_1.Store(o6 + 16);
            float* o7 = c + 7 * ldc;
            c7_0.Store(o7 + 0); c7_1.Store(o7 + 16);
        }
    }

    /// <summary>6 × 16 tile with Vector256 (12 accumulators): C[0..6, 0..16] (+)= Ap · Bp over kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector256_6x16(nint kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector256<float>.Zero; var c0_1 = Vector256<float>.Zero;
        var c1_0 = Vector256<float>.Zero; var c1_1 = Vector256<float>.Zero;
        var c2_0 = Vector256<float>.Zero; var c2_1 = Vector256<float>.Zero;
        var c3_0 = Vector256<float>.Zero; var c3_1 = Vector256<float>.Zero;
        var c4_0 = Vector256<float>.Zero; var c4_1 = Vector256<float>.Zero;
        var c5_0 = Vector256<float>.Zero; var c5_1 = Vector256<float>.Zero;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Vector256.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector256.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Vector256.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector256.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Vector256.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector256.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Vector256.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector256.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Vector256.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector256.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Vector256.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector256.MultiplyAddEstimate(a5, b1, c5_1);
            a += 6;
            b += 16;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector256.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector256.Load(o0 + 8) + c0_1).Store(o0 + 8);
            float* o1 = c + 1 * ldc;
            (Vector256.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector256.Load(o1 + 8) + c1_1).Store(o1 + 8);
            float* o2 = c + 2 * ldc;
            (Vector256.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector256.Load(o2 + 8) + c2_1).Store(o2 + 8);
            float* o3 = c + 3 * ldc;
            (Vector256.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector256.Load(o3 + 8) + c3_1).Store(o3 + 8);
            float* o4 = c + 4 * ldc;
            (Vector256.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector256.Load(o4 + 8) + c4_1).Store(o4 + 8);
            float* o5 = c + 5 * ldc;
            (Vector256.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector256.Load(o5 + 8) + c5_1).Store(o5 + 8);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 8);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 8);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 8);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 8);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 8);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 8);
        }
    }

    /// <summary>6 × 16 tile with Vector256 (12 accumulators), A read in place (row-major, leading dimension lda).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector256_6x16_Direct(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector256<float>.Zero; var c0_1 = Vector256<float>.Zero;
        var c1_0 = Vector256<float>.Zero; var c1_1 = Vector256<float>.Zero;
        var c2_0 = Vector256<float>.Zero; var c2_1 = Vector256<float>.Zero;
        var c3_0 = Vector256<float>.Zero; var c3_1 = Vector256<float>.Zero;
        var c4_0 = Vector256<float>.Zero; var c4_1 = Vector256<float>.Zero;
        var c5_0 = Vector256<float>.Zero; var c5_1 = Vector256<float>.Zero;
        nint lda2 = lda * 2;
        float* r0 = a;
        float* r3 = a + 3 * lda;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(r0[0]);
            c0_0 = Vector256.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector256.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector256.Create(r0[lda]);
            c1_0 = Vector256.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector256.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector256.Create(r0[lda2]);
            c2_0 = Vector256.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector256.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector256.Create(r3[0]);
            c3_0 = Vector256.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector256.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector256.Create(r3[lda]);
            c4_0 = Vector256.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector256.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector256.Create(r3[lda2]);
            c5_0 = Vector256.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector256.MultiplyAddEstimate(a5, b1, c5_1);
            r0++; r3++;
            b += 16;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector256.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector256.Load(o0 + 8) + c0_1).Store(o0 + 8);
            float* o1 = c + 1 * ldc;
            (Vector256.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector256.Load(o1 + 8) + c1_1).Store(o1 + 8);
            float* o2 = c + 2 * ldc;
            (Vector256.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector256.Load(o2 + 8) + c2_1).Store(o2 + 8);
            float* o3 = c + 3 * ldc;
            (Vector256.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector256.Load(o3 + 8) + c3_1).Store(o3 + 8);
            float* o4 = c + 4 * ldc;
            (Vector256.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector256.Load(o4 + 8) + c4_1).Store(o4 + 8);
            float* o5 = c + 5 * ldc;
            (Vector256.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector256.Load(o5 + 8) + c5_1).Store(o5 + 8);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 8);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 8);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 8);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 8);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 8);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 8);
        }
    }

    /// <summary>6 × 8 tile with Vector128 (12 accumulators): C[0..6, 0..8] (+)= Ap · Bp over kc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector128_6x8(nint kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector128<float>.Zero; var c0_1 = Vector128<float>.Zero;
        var c1_0 = Vector128<float>.Zero; var c1_1 = Vector128<float>.Zero;
        var c2_0 = Vector128<float>.Zero; var c2_1 = Vector128<float>.Zero;
        var c3_0 = Vector128<float>.Zero; var c3_1 = Vector128<float>.Zero;
        var c4_0 = Vector128<float>.Zero; var c4_1 = Vector128<float>.Zero;
        var c5_0 = Vector128<float>.Zero; var c5_1 = Vector128<float>.Zero;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b + 0);
            var b1 = Vector128.Load(b + 4);
            var a0 = Vector128.Create(a[0]);
            c0_0 = Vector128.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector128.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector128.Create(a[1]);
            c1_0 = Vector128.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector128.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector128.Create(a[2]);
            c2_0 = Vector128.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector128.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector128.Create(a[3]);
            c3_0 = Vector128.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector128.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector128.Create(a[4]);
            c4_0 = Vector128.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector128.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector128.Create(a[5]);
            c5_0 = Vector128.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector128.MultiplyAddEstimate(a5, b1, c5_1);
            a += 6;
            b += 8;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector128.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector128.Load(o0 + 4) + c0_1).Store(o0 + 4);
            float* o1 = c + 1 * ldc;
            (Vector128.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector128.Load(o1 + 4) + c1_1).Store(o1 + 4);
            float* o2 = c + 2 * ldc;
            (Vector128.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector128.Load(o2 + 4) + c2_1).Store(o2 + 4);
            float* o3 = c + 3 * ldc;
            (Vector128.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector128.Load(o3 + 4) + c3_1).Store(o3 + 4);
            float* o4 = c + 4 * ldc;
            (Vector128.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector128.Load(o4 + 4) + c4_1).Store(o4 + 4);
            float* o5 = c + 5 * ldc;
            (Vector128.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector128.Load(o5 + 4) + c5_1).Store(o5 + 4);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 4);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 4);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 4);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 4);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 4);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 4);
        }
    }

    /// <summary>6 × 8 tile with Vector128 (12 accumulators), A read in place (row-major, leading dimension lda).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector128_6x8_Direct(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector128<float>.Zero; var c0_1 = Vector128<float>.Zero;
        var c1_0 = Vector128<float>.Zero; var c1_1 = Vector128<float>.Zero;
        var c2_0 = Vector128<float>.Zero; var c2_1 = Vector128<float>.Zero;
        var c3_0 = Vector128<float>.Zero; var c3_1 = Vector128<float>.Zero;
        var c4_0 = Vector128<float>.Zero; var c4_1 = Vector128<float>.Zero;
        var c5_0 = Vector128<float>.Zero; var c5_1 = Vector128<float>.Zero;
        nint lda2 = lda * 2;
        float* r0 = a;
        float* r3 = a + 3 * lda;
        for (nint p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b + 0);
            var b1 = Vector128.Load(b + 4);
            var a0 = Vector128.Create(r0[0]);
            c0_0 = Vector128.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector128.MultiplyAddEstimate(a0, b1, c0_1);
            var a1 = Vector128.Create(r0[lda]);
            c1_0 = Vector128.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector128.MultiplyAddEstimate(a1, b1, c1_1);
            var a2 = Vector128.Create(r0[lda2]);
            c2_0 = Vector128.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector128.MultiplyAddEstimate(a2, b1, c2_1);
            var a3 = Vector128.Create(r3[0]);
            c3_0 = Vector128.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector128.MultiplyAddEstimate(a3, b1, c3_1);
            var a4 = Vector128.Create(r3[lda]);
            c4_0 = Vector128.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector128.MultiplyAddEstimate(a4, b1, c4_1);
            var a5 = Vector128.Create(r3[lda2]);
            c5_0 = Vector128.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector128.MultiplyAddEstimate(a5, b1, c5_1);
            r0++; r3++;
            b += 8;
        }
        if (accumulate)
        {
            float* o0 = c;
            (Vector128.Load(o0 + 0) + c0_0).Store(o0 + 0); (Vector128.Load(o0 + 4) + c0_1).Store(o0 + 4);
            float* o1 = c + 1 * ldc;
            (Vector128.Load(o1 + 0) + c1_0).Store(o1 + 0); (Vector128.Load(o1 + 4) + c1_1).Store(o1 + 4);
            float* o2 = c + 2 * ldc;
            (Vector128.Load(o2 + 0) + c2_0).Store(o2 + 0); (Vector128.Load(o2 + 4) + c2_1).Store(o2 + 4);
            float* o3 = c + 3 * ldc;
            (Vector128.Load(o3 + 0) + c3_0).Store(o3 + 0); (Vector128.Load(o3 + 4) + c3_1).Store(o3 + 4);
            float* o4 = c + 4 * ldc;
            (Vector128.Load(o4 + 0) + c4_0).Store(o4 + 0); (Vector128.Load(o4 + 4) + c4_1).Store(o4 + 4);
            float* o5 = c + 5 * ldc;
            (Vector128.Load(o5 + 0) + c5_0).Store(o5 + 0); (Vector128.Load(o5 + 4) + c5_1).Store(o5 + 4);
        }
        else
        {
            float* o0 = c;
            c0_0.Store(o0 + 0); c0_1.Store(o0 + 4);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1 + 0); c1_1.Store(o1 + 4);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2 + 0); c2_1.Store(o2 + 4);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3 + 0); c3_1.Store(o3 + 4);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4 + 0); c4_1.Store(o4 + 4);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5 + 0); c5_1.Store(o5 + 4);
        }
    }

    /// <summary>4 × 4 tile in scalar arithmetic (no SIMD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scalar_4x4(nint kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        float c0_0 = 0; float c0_1 = 0; float c0_2 = 0; float c0_3 = 0;
        float c1_0 = 0; float c1_1 = 0; float c1_2 = 0; float c1_3 = 0;
        float c2_0 = 0; float c2_1 = 0; float c2_2 = 0; float c2_3 = 0;
        float c3_0 = 0; float c3_1 = 0; float c3_2 = 0; float c3_3 = 0;
        for (nint p = 0; p < kc; p++)
        {
            float b0 = b[0]; float b1 = b[1]; float b2 = b[2]; float b3 = b[3];
            float a0 = a[0];
            c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
            float a1 = a[1];
            c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
            float a2 = a[2];
            c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
            float a3 = a[3];
            c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
            a += 4;
            b += 4;
        }
        if (!accumulate)
        {
            c[0 * ldc + 0] = 0; c[0 * ldc + 1] = 0; c[0 * ldc + 2] = 0; c[0 * ldc + 3] = 0;
            c[1 * ldc + 0] = 0; c[1 * ldc + 1] = 0; c[1 * ldc + 2] = 0; c[1 * ldc + 3] = 0;
            c[2 * ldc + 0] = 0; c[2 * ldc + 1] = 0; c[2 * ldc + 2] = 0; c[2 * ldc + 3] = 0;
            c[3 * ldc + 0] = 0; c[3 * ldc + 1] = 0; c[3 * ldc + 2] = 0; c[3 * ldc + 3] = 0;
        }
        c[0 * ldc + 0] += c0_0; c[0 * ldc + 1] += c0_1; c[0 * ldc + 2] += c0_2; c[0 * ldc + 3] += c0_3;
        c[1 * ldc + 0] += c1_0; c[1 * ldc + 1] += c1_1; c[1 * ldc + 2] += c1_2; c[1 * ldc + 3] += c1_3;
        c[2 * ldc + 0] += c2_0; c[2 * ldc + 1] += c2_1; c[2 * ldc + 2] += c2_2; c[2 * ldc + 3] += c2_3;
        c[3 * ldc + 0] += c3_0; c[3 * ldc + 1] += c3_1; c[3 * ldc + 2] += c3_2; c[3 * ldc + 3] += c3_3;
    }

    /// <summary>4 × 4 tile in scalar arithmetic (no SIMD), A read in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scalar_4x4_Direct(nint kc, float* a, nint lda, float* b, float* c, nint ldc, bool accumulate)
    {
        float c0_0 = 0; float c0_1 = 0; float c0_2 = 0; float c0_3 = 0;
        float c1_0 = 0; float c1_1 = 0; float c1_2 = 0; float c1_3 = 0;
        float c2_0 = 0; float c2_1 = 0; float c2_2 = 0; float c2_3 = 0;
        float c3_0 = 0; float c3_1 = 0; float c3_2 = 0; float c3_3 = 0;
        for (nint p = 0; p < kc; p++)
        {
            float b0 = b[0]; float b1 = b[1]; float b2 = b[2]; float b3 = b[3];
            float a0 = a[0 * lda + p];
            c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
            float a1 = a[1 * lda + p];
            c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
            float a2 = a[2 * lda + p];
            c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
            float a3 = a[3 * lda + p];
            c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
            b += 4;
        }
        if (!accumulate)
        {
            c[0 * ldc + 0] = 0; c[0 * ldc + 1] = 0; c[0 * ldc + 2] = 0; c[0 * ldc + 3] = 0;
            c[1 * ldc + 0] = 0; c[1 * ldc + 1] = 0; c[1 * ldc + 2] = 0; c[1 * ldc + 3] = 0;
            c[2 * ldc + 0] = 0; c[2 * ldc + 1] = 0; c[2 * ldc + 2] = 0; c[2 * ldc + 3] = 0;
            c[3 * ldc + 0] = 0; c[3 * ldc + 1] = 0; c[3 * ldc + 2] = 0; c[3 * ldc + 3] = 0;
        }
        c[0 * ldc + 0] += c0_0; c[0 * ldc + 1] += c0_1; c[0 * ldc + 2] += c0_2; c[0 * ldc + 3] += c0_3;
        c[1 * ldc + 0] += c1_0; c[1 * ldc + 1] += c1_1; c[1 * ldc + 2] += c1_2; c[1 * ldc + 3] += c1_3;
        c[2 * ldc + 0] += c2_0; c[2 * ldc + 1] += c2_1; c[2 * ldc + 2] += c2_2; c[2 * ldc + 3] += c2_3;
        c[3 * ldc + 0] += c3_0; c[3 * ldc + 1] += c3_1; c[3 * ldc + 2] += c3_2; c[3 * ldc + 3] += c3_3;
    }
}
