using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// The Vector256 form of a whole forward or backward-data chunk (AVX2 machines, or AVX-512 switched off): the AVX-512
/// blocks' scheme on 8-lane vectors, two blocks of four vectors (32 positions) whose sums stay in registers through each
/// pass over the channels, each lane one position's sequential sum with the scalar loop's operations (the same bits).
/// Four vectors, not eight: AVX2 has 16 vector registers, and the output pass holds a mean and an rstd per vector. A
/// shorter chunk stays on the Vector256 lanes in the mean/rstd slots and the scalar tail (Loop's ForwardOf): AVX2's masked
/// stores are slow on AMD, and splitting a short chunk into a block and the lanes sweeps its rows twice — measured
/// 0.76–0.85× at [1, 768, 7, 7].
/// </summary>
internal static unsafe partial class CpuChannelLayerNorm
{
    /// <summary>Positions one Vector256 block covers: four vectors.</summary>
    const int Block256Positions = 4 * 8;

    /// <summary>A whole chunk's forward in two Vector256 blocks; x and y point at channel 0 of the chunk, m and r at its statistics.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardChunk256(float* x, float* y, float* m, float* r, float* gamma, float* beta, int channels, long stride, float eps)
    {
        for (int k = 0; k < ChunkPositions; k += Block256Positions)
            Forward256(x + k, y + k, m + k, r + k, gamma, beta, channels, stride, eps);
    }

    /// <summary>
    /// One block's three passes, the sums in registers: Σ x, then Σ (x − mean)², then y. Not inlined, so that the JIT
    /// gives the accumulators registers of their own.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Forward256(float* x, float* y, float* m, float* r, float* gamma, float* beta, int channels, long stride, float eps)
    {
        Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        float* row = x;
        for (int c = 0; c < channels; c++, row += stride)
        {
            s0 += Load256(row, 0);
            s1 += Load256(row, 1);
            s2 += Load256(row, 2);
            s3 += Load256(row, 3);
        }
        var cf = Vector256.Create((float)channels);
        Vector256<float> m0 = s0 / cf, m1 = s1 / cf, m2 = s2 / cf, m3 = s3 / cf;
        s0 = s1 = s2 = s3 = Vector256<float>.Zero;
        row = x;
        for (int c = 0; c < channels; c++, row += stride)
        {
            var d0 = Load256(row, 0) - m0;
            var d1 = Load256(row, 1) - m1;
            var d2 = Load256(row, 2) - m2;
            var d3 = Load256(row, 3) - m3;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        Vector256<float> one = Vector256.Create(1f), e = Vector256.Create(eps);
        Vector256<float> r0 = one / Vector256.Sqrt(s0 / cf + e), r1 = one / Vector256.Sqrt(s1 / cf + e),
            r2 = one / Vector256.Sqrt(s2 / cf + e), r3 = one / Vector256.Sqrt(s3 / cf + e);
        Store256(m, 0, m0);
        Store256(m, 1, m1);
        Store256(m, 2, m2);
        Store256(m, 3, m3);
        Store256(r, 0, r0);
        Store256(r, 1, r1);
        Store256(r, 2, r2);
        Store256(r, 3, r3);
        row = x;
        float* outRow = y;
        for (int c = 0; c < channels; c++, row += stride, outRow += stride)
        {
            var shift = Vector256.Create(beta is null ? 0f : beta[c]);
            Vector256<float> k0 = r0, k1 = r1, k2 = r2, k3 = r3;
            if (gamma is not null)
            {
                var g = Vector256.Create(gamma[c]);
                k0 = g * r0;
                k1 = g * r1;
                k2 = g * r2;
                k3 = g * r3;
            }
            Store256(outRow, 0, Vector256.FusedMultiplyAdd(Load256(row, 0) - m0, k0, shift));
            Store256(outRow, 1, Vector256.FusedMultiplyAdd(Load256(row, 1) - m1, k1, shift));
            Store256(outRow, 2, Vector256.FusedMultiplyAdd(Load256(row, 2) - m2, k2, shift));
            Store256(outRow, 3, Vector256.FusedMultiplyAdd(Load256(row, 3) - m3, k3, shift));
        }
    }

    /// <summary>A whole chunk's dx in two Vector256 blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardDataChunk256(float* x, float* dy, float* dx, float* m, float* r, float* gamma, int channels, long stride)
    {
        for (int k = 0; k < ChunkPositions; k += Block256Positions)
            BackwardData256(x + k, dy + k, dx + k, m + k, r + k, gamma, channels, stride);
    }

    /// <summary>One block's two passes: A = Σ g·dy and B = Σ (g·dy)·(x − mean) in registers, then dx.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void BackwardData256(float* x, float* dy, float* dx, float* m, float* r, float* gamma, int channels, long stride)
    {
        Vector256<float> m0 = Load256(m, 0), m1 = Load256(m, 1), m2 = Load256(m, 2), m3 = Load256(m, 3);
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        float* rx = x, rdy = dy;
        for (int c = 0; c < channels; c++, rx += stride, rdy += stride)
        {
            var g = Vector256.Create(gamma is null ? 1f : gamma[c]);
            var gdy0 = g * Load256(rdy, 0);
            var gdy1 = g * Load256(rdy, 1);
            var gdy2 = g * Load256(rdy, 2);
            var gdy3 = g * Load256(rdy, 3);
            a0 += gdy0;
            a1 += gdy1;
            a2 += gdy2;
            a3 += gdy3;
            b0 += gdy0 * (Load256(rx, 0) - m0);
            b1 += gdy1 * (Load256(rx, 1) - m1);
            b2 += gdy2 * (Load256(rx, 2) - m2);
            b3 += gdy3 * (Load256(rx, 3) - m3);
        }
        var cf = Vector256.Create((float)channels);
        var sign = Vector256.Create(-0f);
        Vector256<float> r0 = Load256(r, 0), r1 = Load256(r, 1), r2 = Load256(r, 2), r3 = Load256(r, 3);
        a0 /= cf;
        a1 /= cf;
        a2 /= cf;
        a3 /= cf;
        // −k = −(((B·rstd)·rstd)/C), the negation a sign flip as the scalar loop's.
        b0 = (b0 * r0 * r0 / cf) ^ sign;
        b1 = (b1 * r1 * r1 / cf) ^ sign;
        b2 = (b2 * r2 * r2 / cf) ^ sign;
        b3 = (b3 * r3 * r3 / cf) ^ sign;
        rx = x;
        rdy = dy;
        float* rdx = dx;
        for (int c = 0; c < channels; c++, rx += stride, rdy += stride, rdx += stride)
        {
            var g = Vector256.Create(gamma is null ? 1f : gamma[c]);
            Store256(rdx, 0, Vector256.FusedMultiplyAdd(Load256(rx, 0) - m0, b0, g * Load256(rdy, 0) - a0) * r0);
            Store256(rdx, 1, Vector256.FusedMultiplyAdd(Load256(rx, 1) - m1, b1, g * Load256(rdy, 1) - a1) * r1);
            Store256(rdx, 2, Vector256.FusedMultiplyAdd(Load256(rx, 2) - m2, b2, g * Load256(rdy, 2) - a2) * r2);
            Store256(rdx, 3, Vector256.FusedMultiplyAdd(Load256(rx, 3) - m3, b3, g * Load256(rdy, 3) - a3) * r3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Load256(float* row, int u) => Vector256.Load(row + 8 * u);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store256(float* row, int u, Vector256<float> value) => value.Store(row + 8 * u);
}
