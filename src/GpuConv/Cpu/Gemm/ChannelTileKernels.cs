// Channel-vectorized microkernels, written out in full (generated) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// Microkernels with the vectors along output channels: a tile of up to 6 output pixels × 64 output
/// channels. A (the input) is read in place and broadcast: row p (channel, tap) of pixel r is
/// a[pixels[r] + offsets[p]] in the padded phase planes; B is the
/// weights packed as kc × 64 panels (<see cref="ChannelPanels"/>). No lane is ever wasted on a
/// small plane, unlike pixel-vectorized tiles (a 7 × 7 plane fills 49 of 64 lanes). Each pixel has
/// its own base (pixels[r]), so a tile may run on past the end of an output row into the next.
/// </summary>
internal static unsafe class ChannelTileKernels
{
    /// <summary>Output channels per tile (four zmm vectors).</summary>
    public const int Channels = 64;

    /// <summary>Most pixels per tile (24 accumulators).</summary>
    public const int MaxPixels = 6;

    /// <summary>The kernel for a tile of <paramref name="pixels"/> (1..6) pixels.</summary>
    public static delegate*<nint, float*, nint*, nint*, float*, float*, nint, bool, void> For(int pixels) => pixels switch
    {
        1 => &Vector512_1x64,
        2 => &Vector512_2x64,
        3 => &Vector512_3x64,
        4 => &Vector512_4x64,
        5 => &Vector512_5x64,
        _ => &Vector512_6x64,
    };

    /// <summary>1 pixel × 64 channels (4 accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_1x64(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero; var c0_2 = Vector512<float>.Zero; var c0_3 = Vector512<float>.Zero;
        float* a0 = a + pixels[0];
        for (nint p = 0; p < kc; p++)
        {
            nint o = offsets[p];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a0[o]);
            c0_0 = Vector512.MultiplyAddEstimate(x0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(x0, b1, c0_1);
            c0_2 = Vector512.MultiplyAddEstimate(x0, b2, c0_2); c0_3 = Vector512.MultiplyAddEstimate(x0, b3, c0_3);
            b += 64;
        }
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16); (Vector512.Load(o0 + 32) + c0_2).Store(o0 + 32); (Vector512.Load(o0 + 48) + c0_3).Store(o0 + 48);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16); c0_2.Store(o0 + 32); c0_3.Store(o0 + 48);
        }
    }

    /// <summary>2 pixels × 64 channels (8 accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_2x64(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero; var c0_2 = Vector512<float>.Zero; var c0_3 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero; var c1_2 = Vector512<float>.Zero; var c1_3 = Vector512<float>.Zero;
        float* a0 = a + pixels[0];
        float* a1 = a + pixels[1];
        for (nint p = 0; p < kc; p++)
        {
            nint o = offsets[p];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a0[o]);
            c0_0 = Vector512.MultiplyAddEstimate(x0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(x0, b1, c0_1);
            c0_2 = Vector512.MultiplyAddEstimate(x0, b2, c0_2); c0_3 = Vector512.MultiplyAddEstimate(x0, b3, c0_3);
            var x1 = Vector512.Create(a1[o]);
            c1_0 = Vector512.MultiplyAddEstimate(x1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(x1, b1, c1_1);
            c1_2 = Vector512.MultiplyAddEstimate(x1, b2, c1_2); c1_3 = Vector512.MultiplyAddEstimate(x1, b3, c1_3);
            b += 64;
        }
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16); (Vector512.Load(o0 + 32) + c0_2).Store(o0 + 32); (Vector512.Load(o0 + 48) + c0_3).Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16); (Vector512.Load(o1 + 32) + c1_2).Store(o1 + 32); (Vector512.Load(o1 + 48) + c1_3).Store(o1 + 48);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16); c0_2.Store(o0 + 32); c0_3.Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16); c1_2.Store(o1 + 32); c1_3.Store(o1 + 48);
        }
    }

    /// <summary>3 pixels × 64 channels (12 accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_3x64(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero; var c0_2 = Vector512<float>.Zero; var c0_3 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero; var c1_2 = Vector512<float>.Zero; var c1_3 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero; var c2_2 = Vector512<float>.Zero; var c2_3 = Vector512<float>.Zero;
        float* a0 = a + pixels[0];
        float* a1 = a + pixels[1];
        float* a2 = a + pixels[2];
        for (nint p = 0; p < kc; p++)
        {
            nint o = offsets[p];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a0[o]);
            c0_0 = Vector512.MultiplyAddEstimate(x0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(x0, b1, c0_1);
            c0_2 = Vector512.MultiplyAddEstimate(x0, b2, c0_2); c0_3 = Vector512.MultiplyAddEstimate(x0, b3, c0_3);
            var x1 = Vector512.Create(a1[o]);
            c1_0 = Vector512.MultiplyAddEstimate(x1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(x1, b1, c1_1);
            c1_2 = Vector512.MultiplyAddEstimate(x1, b2, c1_2); c1_3 = Vector512.MultiplyAddEstimate(x1, b3, c1_3);
            var x2 = Vector512.Create(a2[o]);
            c2_0 = Vector512.MultiplyAddEstimate(x2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(x2, b1, c2_1);
            c2_2 = Vector512.MultiplyAddEstimate(x2, b2, c2_2); c2_3 = Vector512.MultiplyAddEstimate(x2, b3, c2_3);
            b += 64;
        }
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16); (Vector512.Load(o0 + 32) + c0_2).Store(o0 + 32); (Vector512.Load(o0 + 48) + c0_3).Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16); (Vector512.Load(o1 + 32) + c1_2).Store(o1 + 32); (Vector512.Load(o1 + 48) + c1_3).Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2) + c2_0).Store(o2); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16); (Vector512.Load(o2 + 32) + c2_2).Store(o2 + 32); (Vector512.Load(o2 + 48) + c2_3).Store(o2 + 48);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16); c0_2.Store(o0 + 32); c0_3.Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16); c1_2.Store(o1 + 32); c1_3.Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2); c2_1.Store(o2 + 16); c2_2.Store(o2 + 32); c2_3.Store(o2 + 48);
        }
    }

    /// <summary>4 pixels × 64 channels (16 accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_4x64(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero; var c0_2 = Vector512<float>.Zero; var c0_3 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero; var c1_2 = Vector512<float>.Zero; var c1_3 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero; var c2_2 = Vector512<float>.Zero; var c2_3 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero; var c3_2 = Vector512<float>.Zero; var c3_3 = Vector512<float>.Zero;
        float* a0 = a + pixels[0];
        float* a1 = a + pixels[1];
        float* a2 = a + pixels[2];
        float* a3 = a + pixels[3];
        for (nint p = 0; p < kc; p++)
        {
            nint o = offsets[p];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a0[o]);
            c0_0 = Vector512.MultiplyAddEstimate(x0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(x0, b1, c0_1);
            c0_2 = Vector512.MultiplyAddEstimate(x0, b2, c0_2); c0_3 = Vector512.MultiplyAddEstimate(x0, b3, c0_3);
            var x1 = Vector512.Create(a1[o]);
            c1_0 = Vector512.MultiplyAddEstimate(x1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(x1, b1, c1_1);
            c1_2 = Vector512.MultiplyAddEstimate(x1, b2, c1_2); c1_3 = Vector512.MultiplyAddEstimate(x1, b3, c1_3);
            var x2 = Vector512.Create(a2[o]);
            c2_0 = Vector512.MultiplyAddEstimate(x2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(x2, b1, c2_1);
            c2_2 = Vector512.MultiplyAddEstimate(x2, b2, c2_2); c2_3 = Vector512.MultiplyAddEstimate(x2, b3, c2_3);
            var x3 = Vector512.Create(a3[o]);
            c3_0 = Vector512.MultiplyAddEstimate(x3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(x3, b1, c3_1);
            c3_2 = Vector512.MultiplyAddEstimate(x3, b2, c3_2); c3_3 = Vector512.MultiplyAddEstimate(x3, b3, c3_3);
            b += 64;
        }
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16); (Vector512.Load(o0 + 32) + c0_2).Store(o0 + 32); (Vector512.Load(o0 + 48) + c0_3).Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16); (Vector512.Load(o1 + 32) + c1_2).Store(o1 + 32); (Vector512.Load(o1 + 48) + c1_3).Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2) + c2_0).Store(o2); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16); (Vector512.Load(o2 + 32) + c2_2).Store(o2 + 32); (Vector512.Load(o2 + 48) + c2_3).Store(o2 + 48);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3) + c3_0).Store(o3); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16); (Vector512.Load(o3 + 32) + c3_2).Store(o3 + 32); (Vector512.Load(o3 + 48) + c3_3).Store(o3 + 48);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16); c0_2.Store(o0 + 32); c0_3.Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16); c1_2.Store(o1 + 32); c1_3.Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2); c2_1.Store(o2 + 16); c2_2.Store(o2 + 32); c2_3.Store(o2 + 48);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3); c3_1.Store(o3 + 16); c3_2.Store(o3 + 32); c3_3.Store(o3 + 48);
        }
    }

    /// <summary>5 pixels × 64 channels (20 accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_5x64(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero; var c0_2 = Vector512<float>.Zero; var c0_3 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero; var c1_2 = Vector512<float>.Zero; var c1_3 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero; var c2_2 = Vector512<float>.Zero; var c2_3 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero; var c3_2 = Vector512<float>.Zero; var c3_3 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero; var c4_1 = Vector512<float>.Zero; var c4_2 = Vector512<float>.Zero; var c4_3 = Vector512<float>.Zero;
        float* a0 = a + pixels[0];
        float* a1 = a + pixels[1];
        float* a2 = a + pixels[2];
        float* a3 = a + pixels[3];
        float* a4 = a + pixels[4];
        for (nint p = 0; p < kc; p++)
        {
            nint o = offsets[p];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a0[o]);
            c0_0 = Vector512.MultiplyAddEstimate(x0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(x0, b1, c0_1);
            c0_2 = Vector512.MultiplyAddEstimate(x0, b2, c0_2); c0_3 = Vector512.MultiplyAddEstimate(x0, b3, c0_3);
            var x1 = Vector512.Create(a1[o]);
            c1_0 = Vector512.MultiplyAddEstimate(x1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(x1, b1, c1_1);
            c1_2 = Vector512.MultiplyAddEstimate(x1, b2, c1_2); c1_3 = Vector512.MultiplyAddEstimate(x1, b3, c1_3);
            var x2 = Vector512.Create(a2[o]);
            c2_0 = Vector512.MultiplyAddEstimate(x2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(x2, b1, c2_1);
            c2_2 = Vector512.MultiplyAddEstimate(x2, b2, c2_2); c2_3 = Vector512.MultiplyAddEstimate(x2, b3, c2_3);
            var x3 = Vector512.Create(a3[o]);
            c3_0 = Vector512.MultiplyAddEstimate(x3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(x3, b1, c3_1);
            c3_2 = Vector512.MultiplyAddEstimate(x3, b2, c3_2); c3_3 = Vector512.MultiplyAddEstimate(x3, b3, c3_3);
            var x4 = Vector512.Create(a4[o]);
            c4_0 = Vector512.MultiplyAddEstimate(x4, b0, c4_0); c4_1 = Vector512.MultiplyAddEstimate(x4, b1, c4_1);
            c4_2 = Vector512.MultiplyAddEstimate(x4, b2, c4_2); c4_3 = Vector512.MultiplyAddEstimate(x4, b3, c4_3);
            b += 64;
        }
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16); (Vector512.Load(o0 + 32) + c0_2).Store(o0 + 32); (Vector512.Load(o0 + 48) + c0_3).Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16); (Vector512.Load(o1 + 32) + c1_2).Store(o1 + 32); (Vector512.Load(o1 + 48) + c1_3).Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2) + c2_0).Store(o2); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16); (Vector512.Load(o2 + 32) + c2_2).Store(o2 + 32); (Vector512.Load(o2 + 48) + c2_3).Store(o2 + 48);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3) + c3_0).Store(o3); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16); (Vector512.Load(o3 + 32) + c3_2).Store(o3 + 32); (Vector512.Load(o3 + 48) + c3_3).Store(o3 + 48);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4) + c4_0).Store(o4); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16); (Vector512.Load(o4 + 32) + c4_2).Store(o4 + 32); (Vector512.Load(o4 + 48) + c4_3).Store(o4 + 48);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16); c0_2.Store(o0 + 32); c0_3.Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16); c1_2.Store(o1 + 32); c1_3.Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2); c2_1.Store(o2 + 16); c2_2.Store(o2 + 32); c2_3.Store(o2 + 48);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3); c3_1.Store(o3 + 16); c3_2.Store(o3 + 32); c3_3.Store(o3 + 48);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4); c4_1.Store(o4 + 16); c4_2.Store(o4 + 32); c4_3.Store(o4 + 48);
        }
    }

    /// <summary>6 pixels × 64 channels (24 accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector512_6x64(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero; var c0_2 = Vector512<float>.Zero; var c0_3 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero; var c1_2 = Vector512<float>.Zero; var c1_3 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero; var c2_2 = Vector512<float>.Zero; var c2_3 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero; var c3_2 = Vector512<float>.Zero; var c3_3 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero; var c4_1 = Vector512<float>.Zero; var c4_2 = Vector512<float>.Zero; var c4_3 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero; var c5_1 = Vector512<float>.Zero; var c5_2 = Vector512<float>.Zero; var c5_3 = Vector512<float>.Zero;
        float* a0 = a + pixels[0];
        float* a1 = a + pixels[1];
        float* a2 = a + pixels[2];
        float* a3 = a + pixels[3];
        float* a4 = a + pixels[4];
        float* a5 = a + pixels[5];
        for (nint p = 0; p < kc; p++)
        {
            nint o = offsets[p];
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a0[o]);
            c0_0 = Vector512.MultiplyAddEstimate(x0, b0, c0_0); c0_1 = Vector512.MultiplyAddEstimate(x0, b1, c0_1);
            c0_2 = Vector512.MultiplyAddEstimate(x0, b2, c0_2); c0_3 = Vector512.MultiplyAddEstimate(x0, b3, c0_3);
            var x1 = Vector512.Create(a1[o]);
            c1_0 = Vector512.MultiplyAddEstimate(x1, b0, c1_0); c1_1 = Vector512.MultiplyAddEstimate(x1, b1, c1_1);
            c1_2 = Vector512.MultiplyAddEstimate(x1, b2, c1_2); c1_3 = Vector512.MultiplyAddEstimate(x1, b3, c1_3);
            var x2 = Vector512.Create(a2[o]);
            c2_0 = Vector512.MultiplyAddEstimate(x2, b0, c2_0); c2_1 = Vector512.MultiplyAddEstimate(x2, b1, c2_1);
            c2_2 = Vector512.MultiplyAddEstimate(x2, b2, c2_2); c2_3 = Vector512.MultiplyAddEstimate(x2, b3, c2_3);
            var x3 = Vector512.Create(a3[o]);
            c3_0 = Vector512.MultiplyAddEstimate(x3, b0, c3_0); c3_1 = Vector512.MultiplyAddEstimate(x3, b1, c3_1);
            c3_2 = Vector512.MultiplyAddEstimate(x3, b2, c3_2); c3_3 = Vector512.MultiplyAddEstimate(x3, b3, c3_3);
            var x4 = Vector512.Create(a4[o]);
            c4_0 = Vector512.MultiplyAddEstimate(x4, b0, c4_0); c4_1 = Vector512.MultiplyAddEstimate(x4, b1, c4_1);
            c4_2 = Vector512.MultiplyAddEstimate(x4, b2, c4_2); c4_3 = Vector512.MultiplyAddEstimate(x4, b3, c4_3);
            var x5 = Vector512.Create(a5[o]);
            c5_0 = Vector512.MultiplyAddEstimate(x5, b0, c5_0); c5_1 = Vector512.MultiplyAddEstimate(x5, b1, c5_1);
            c5_2 = Vector512.MultiplyAddEstimate(x5, b2, c5_2); c5_3 = Vector512.MultiplyAddEstimate(x5, b3, c5_3);
            b += 64;
        }
        if (accumulate)
        {
            float* o0 = c + 0 * ldc;
            (Vector512.Load(o0) + c0_0).Store(o0); (Vector512.Load(o0 + 16) + c0_1).Store(o0 + 16); (Vector512.Load(o0 + 32) + c0_2).Store(o0 + 32); (Vector512.Load(o0 + 48) + c0_3).Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            (Vector512.Load(o1) + c1_0).Store(o1); (Vector512.Load(o1 + 16) + c1_1).Store(o1 + 16); (Vector512.Load(o1 + 32) + c1_2).Store(o1 + 32); (Vector512.Load(o1 + 48) + c1_3).Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            (Vector512.Load(o2) + c2_0).Store(o2); (Vector512.Load(o2 + 16) + c2_1).Store(o2 + 16); (Vector512.Load(o2 + 32) + c2_2).Store(o2 + 32); (Vector512.Load(o2 + 48) + c2_3).Store(o2 + 48);
            float* o3 = c + 3 * ldc;
            (Vector512.Load(o3) + c3_0).Store(o3); (Vector512.Load(o3 + 16) + c3_1).Store(o3 + 16); (Vector512.Load(o3 + 32) + c3_2).Store(o3 + 32); (Vector512.Load(o3 + 48) + c3_3).Store(o3 + 48);
            float* o4 = c + 4 * ldc;
            (Vector512.Load(o4) + c4_0).Store(o4); (Vector512.Load(o4 + 16) + c4_1).Store(o4 + 16); (Vector512.Load(o4 + 32) + c4_2).Store(o4 + 32); (Vector512.Load(o4 + 48) + c4_3).Store(o4 + 48);
            float* o5 = c + 5 * ldc;
            (Vector512.Load(o5) + c5_0).Store(o5); (Vector512.Load(o5 + 16) + c5_1).Store(o5 + 16); (Vector512.Load(o5 + 32) + c5_2).Store(o5 + 32); (Vector512.Load(o5 + 48) + c5_3).Store(o5 + 48);
        }
        else
        {
            float* o0 = c + 0 * ldc;
            c0_0.Store(o0); c0_1.Store(o0 + 16); c0_2.Store(o0 + 32); c0_3.Store(o0 + 48);
            float* o1 = c + 1 * ldc;
            c1_0.Store(o1); c1_1.Store(o1 + 16); c1_2.Store(o1 + 32); c1_3.Store(o1 + 48);
            float* o2 = c + 2 * ldc;
            c2_0.Store(o2); c2_1.Store(o2 + 16); c2_2.Store(o2 + 32); c2_3.Store(o2 + 48);
            float* o3 = c + 3 * ldc;
            c3_0.Store(o3); c3_1.Store(o3 + 16); c3_2.Store(o3 + 32); c3_3.Store(o3 + 48);
            float* o4 = c + 4 * ldc;
            c4_0.Store(o4); c4_1.Store(o4 + 16); c4_2.Store(o4 + 32); c4_3.Store(o4 + 48);
            float* o5 = c + 5 * ldc;
            c5_0.Store(o5); c5_1.Store(o5 + 16); c5_2.Store(o5 + 32); c5_3.Store(o5 + 48);
        }
    }
}
