using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// The AVX-512 form of a forward or backward-data chunk: its positions in four 16-lane vectors held in registers through
/// each pass over the channels (the former Vector256-lanes form kept them in the mean/rstd slots, a load and a store per
/// channel: 1.7–2.0× slower on Zen 4 at ConvNeXt-T's shapes). Each lane is still one position's sum over c = 0 … C − 1
/// in turn from +0 with the scalar loop's operations, so the bits do not change; the four vectors are four independent
/// chains of C adds in flight. A chunk shorter than 64 positions (a sample's last, or P &lt; 64) takes its last vector
/// under a mask: the lanes past its end read nothing and write nothing.
/// </summary>
internal static unsafe partial class CpuChannelLayerNorm
{
    /// <summary>Positions one AVX-512 block covers: four Vector512, a whole <see cref="ChunkPositions"/> chunk.</summary>
    const int Block512Positions = 4 * 16;

    /// <summary>True where the blocks run as AVX-512 instructions; elsewhere the Vector256 forms and the scalar loop run.</summary>
    internal static bool Blocks512Accelerated => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>The loads and stores of a block's four vectors (u = 0 … 3, lanes 16u … 16u + 15 from a row pointer).</summary>
    interface IBlock512
    {
        Vector512<float> Load(float* row, int u);

        void Store(float* row, int u, Vector512<float> value);
    }

    /// <summary>All 64 positions present: plain loads and stores.</summary>
    readonly struct WholeBlock512 : IBlock512
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Load(float* row, int u) => Vector512.Load(row + 16 * u);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(float* row, int u, Vector512<float> value) => value.Store(row + 16 * u);
    }

    /// <summary>A count of vectors known to the JIT (a type argument, so each block kind is compiled with its own).</summary>
    interface IVectorCount
    {
        static abstract int Value { get; }
    }

    readonly struct OneVector : IVectorCount { public static int Value => 1; }

    readonly struct TwoVectors : IVectorCount { public static int Value => 2; }

    readonly struct ThreeVectors : IVectorCount { public static int Value => 3; }

    readonly struct FourVectors : IVectorCount { public static int Value => 4; }

    /// <summary>
    /// The first <c>length</c> (&lt; 64) positions present, in <typeparamref name="TUsed"/> vectors: those before the last
    /// loaded and stored plainly, the last under a mask (its absent lanes read as +0 and are never written), those past
    /// it not touched at all (+0 in, nothing out; the block's code for them is dead and the JIT drops it). With masked
    /// loads and stores for all four vectors, empty ones included, a short block cost about as much as a whole one on
    /// Zen 4 ([1, 384, 4]: 3.0 µs, 1.9 µs so).
    /// </summary>
    readonly struct PartialBlock512<TUsed>(int length) : IBlock512 where TUsed : struct, IVectorCount
    {
        readonly Vector512<float> mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(length - 16 * (TUsed.Value - 1))).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Load(float* row, int u) =>
            u < TUsed.Value - 1 ? Vector512.Load(row + 16 * u)
            : u == TUsed.Value - 1 ? Avx512F.MaskLoad(row + 16 * u, mask, Vector512<float>.Zero)
            : Vector512<float>.Zero;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(float* row, int u, Vector512<float> value)
        {
            if (u < TUsed.Value - 1) value.Store(row + 16 * u);
            else if (u == TUsed.Value - 1) Avx512F.MaskStore(row + 16 * u, mask, value);
        }
    }

    /// <summary>One chunk's forward on AVX-512: statistics, then outputs (see <see cref="Loop"/>'s ForwardOf for the pointers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per chunk, from the optimized task body
    static void Forward512(float* x, float* y, float* m, float* r, float* gamma, float* beta, int channels, long stride, float eps, int length)
    {
        switch ((length + 15) / 16)
        {
            case 4 when length == Block512Positions: Forward512(new WholeBlock512(), x, y, m, r, gamma, beta, channels, stride, eps); break;
            case 4: Forward512(new PartialBlock512<FourVectors>(length), x, y, m, r, gamma, beta, channels, stride, eps); break;
            case 3: Forward512(new PartialBlock512<ThreeVectors>(length), x, y, m, r, gamma, beta, channels, stride, eps); break;
            case 2: Forward512(new PartialBlock512<TwoVectors>(length), x, y, m, r, gamma, beta, channels, stride, eps); break;
            default: Forward512(new PartialBlock512<OneVector>(length), x, y, m, r, gamma, beta, channels, stride, eps); break;
        }
    }

    /// <summary>
    /// Three passes over the block's rows, the sums in registers: Σ x, then Σ (x − mean)², then y. Not inlined, one
    /// method per block kind, so that the JIT gives the twelve accumulators and constants registers of their own.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Forward512<TBlock>(TBlock block, float* x, float* y, float* m, float* r, float* gamma, float* beta, int channels, long stride, float eps)
        where TBlock : struct, IBlock512
    {
        Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        float* row = x;
        for (int c = 0; c < channels; c++, row += stride)
        {
            s0 += block.Load(row, 0);
            s1 += block.Load(row, 1);
            s2 += block.Load(row, 2);
            s3 += block.Load(row, 3);
        }
        var cf = Vector512.Create((float)channels);
        Vector512<float> m0 = s0 / cf, m1 = s1 / cf, m2 = s2 / cf, m3 = s3 / cf;
        s0 = s1 = s2 = s3 = Vector512<float>.Zero;
        row = x;
        for (int c = 0; c < channels; c++, row += stride)
        {
            var d0 = block.Load(row, 0) - m0;
            var d1 = block.Load(row, 1) - m1;
            var d2 = block.Load(row, 2) - m2;
            var d3 = block.Load(row, 3) - m3;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        Vector512<float> one = Vector512.Create(1f), e = Vector512.Create(eps);
        Vector512<float> r0 = one / Vector512.Sqrt(s0 / cf + e), r1 = one / Vector512.Sqrt(s1 / cf + e),
            r2 = one / Vector512.Sqrt(s2 / cf + e), r3 = one / Vector512.Sqrt(s3 / cf + e);
        block.Store(m, 0, m0);
        block.Store(m, 1, m1);
        block.Store(m, 2, m2);
        block.Store(m, 3, m3);
        block.Store(r, 0, r0);
        block.Store(r, 1, r1);
        block.Store(r, 2, r2);
        block.Store(r, 3, r3);
        row = x;
        float* outRow = y;
        for (int c = 0; c < channels; c++, row += stride, outRow += stride)
        {
            var shift = Vector512.Create(beta is null ? 0f : beta[c]);
            Vector512<float> k0 = r0, k1 = r1, k2 = r2, k3 = r3;
            if (gamma is not null)
            {
                var g = Vector512.Create(gamma[c]);
                k0 = g * r0;
                k1 = g * r1;
                k2 = g * r2;
                k3 = g * r3;
            }
            block.Store(outRow, 0, Vector512.FusedMultiplyAdd(block.Load(row, 0) - m0, k0, shift));
            block.Store(outRow, 1, Vector512.FusedMultiplyAdd(block.Load(row, 1) - m1, k1, shift));
            block.Store(outRow, 2, Vector512.FusedMultiplyAdd(block.Load(row, 2) - m2, k2, shift));
            block.Store(outRow, 3, Vector512.FusedMultiplyAdd(block.Load(row, 3) - m3, k3, shift));
        }
    }

    /// <summary>One chunk's dx on AVX-512 (see <see cref="Loop"/>'s BackwardDataOf for the pointers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per chunk, from the optimized task body
    static void BackwardData512(float* x, float* dy, float* dx, float* m, float* r, float* gamma, int channels, long stride, int length)
    {
        switch ((length + 15) / 16)
        {
            case 4 when length == Block512Positions: BackwardData512(new WholeBlock512(), x, dy, dx, m, r, gamma, channels, stride); break;
            case 4: BackwardData512(new PartialBlock512<FourVectors>(length), x, dy, dx, m, r, gamma, channels, stride); break;
            case 3: BackwardData512(new PartialBlock512<ThreeVectors>(length), x, dy, dx, m, r, gamma, channels, stride); break;
            case 2: BackwardData512(new PartialBlock512<TwoVectors>(length), x, dy, dx, m, r, gamma, channels, stride); break;
            default: BackwardData512(new PartialBlock512<OneVector>(length), x, dy, dx, m, r, gamma, channels, stride); break;
        }
    }

    /// <summary>Two passes over the block's rows: A = Σ g·dy and B = Σ (g·dy)·(x − mean) in registers, then dx.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void BackwardData512<TBlock>(TBlock block, float* x, float* dy, float* dx, float* m, float* r, float* gamma, int channels, long stride)
        where TBlock : struct, IBlock512
    {
        Vector512<float> m0 = block.Load(m, 0), m1 = block.Load(m, 1), m2 = block.Load(m, 2), m3 = block.Load(m, 3);
        Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        float* rx = x, rdy = dy;
        for (int c = 0; c < channels; c++, rx += stride, rdy += stride)
        {
            var g = Vector512.Create(gamma is null ? 1f : gamma[c]);
            var gdy0 = g * block.Load(rdy, 0);
            var gdy1 = g * block.Load(rdy, 1);
            var gdy2 = g * block.Load(rdy, 2);
            var gdy3 = g * block.Load(rdy, 3);
            a0 += gdy0;
            a1 += gdy1;
            a2 += gdy2;
            a3 += gdy3;
            b0 += gdy0 * (block.Load(rx, 0) - m0);
            b1 += gdy1 * (block.Load(rx, 1) - m1);
            b2 += gdy2 * (block.Load(rx, 2) - m2);
            b3 += gdy3 * (block.Load(rx, 3) - m3);
        }
        var cf = Vector512.Create((float)channels);
        var sign = Vector512.Create(-0f);
        Vector512<float> r0 = block.Load(r, 0), r1 = block.Load(r, 1), r2 = block.Load(r, 2), r3 = block.Load(r, 3);
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
            var g = Vector512.Create(gamma is null ? 1f : gamma[c]);
            block.Store(rdx, 0, Vector512.FusedMultiplyAdd(block.Load(rx, 0) - m0, b0, g * block.Load(rdy, 0) - a0) * r0);
            block.Store(rdx, 1, Vector512.FusedMultiplyAdd(block.Load(rx, 1) - m1, b1, g * block.Load(rdy, 1) - a1) * r1);
            block.Store(rdx, 2, Vector512.FusedMultiplyAdd(block.Load(rx, 2) - m2, b2, g * block.Load(rdy, 2) - a2) * r2);
            block.Store(rdx, 3, Vector512.FusedMultiplyAdd(block.Load(rx, 3) - m3, b3, g * block.Load(rdy, 3) - a3) * r3);
        }
    }
}
