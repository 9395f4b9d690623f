using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// GELU forward and gradient on AVX-512 with their two regimes computed apart. The vector forms compute both for every
/// lane — the polynomial (~8 operations) and the tail (e^(-x²/2) and g(|x|), ~60) — and select, so every vector costs the tail.
/// Here a chunk of floats is gone through three times: (1) the lanes at or beyond <see cref="Split"/> are packed together
/// (VCOMPRESSPS, register form); (2) the tail runs on the packed lanes only; (3) every lane's polynomial result is computed
/// and the tail's results are put back in their lanes over it (VEXPANDPS). Each lane still gets
/// exactly the operations of <see cref="Gelu(Vector512{float})"/>'s branch it takes, so the bits are the same; the time
/// falls with the share of |x| &lt; 1 (the packing costs ~10 operations per vector when every lane is far). The gradient
/// takes its regimes by whole vectors instead (<see cref="GeluBackwardByVector512"/>).
/// </summary>
internal static partial class GeluMath
{
    /// <summary>
    /// Floats per chunk (their packed far lanes on the stack, 4 KB, in L1). At 256 the far pass began while the packing
    /// pass's unaligned stores were still in flight, and its loads waited on them: 1024 took N(0, 0.5²) inputs from
    /// 0.48–0.53 to 0.36 ns a float, N(0, 1.41²) from 0.80–0.82 to 0.75 (larger chunks gained nothing more).
    /// </summary>
    internal const int RegimeChunk = 1024;

    /// <summary>
    /// y[i] = gelu(x[i]) for the first n - n % 16 floats, returns that count; y may be x. Only where AVX-512 runs
    /// (<see cref="ElementwiseMap.Wide"/>): the packing instructions have no software form worth running.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe nuint GeluRegimesApart512(ref float x, ref float y, nuint n)
    {
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("GELU's regime packing needs AVX-512");
        var far = stackalloc float[RegimeChunk + 16];
        nuint done = 0;
        while (n - done >= 16)
        {
            int length = (int)Math.Min((nuint)RegimeChunk, (n - done) & ~(nuint)15);
            ref float xc = ref Unsafe.Add(ref x, done);
            ref float yc = ref Unsafe.Add(ref y, done);
            int packed = 0;
            for (int k = 0; k < length; k += 16)
            {
                var v = Vector512.LoadUnsafe(ref xc, (nuint)k);
                var isFar = IsFar(v);
                Avx512F.Compress(Vector512<float>.Zero, isFar, v).Store(far + packed);
                packed += BitOperations.PopCount(isFar.ExtractMostSignificantBits());
            }
            // The lanes past 'packed' in the last vector hold stale floats; their results are never expanded.
            for (int j = 0; j < packed; j += 16)
                GeluFar512(Vector512.Load(far + j)).Store(far + j);
            // x is read again (from L1) rather than the near results and masks kept from the first pass: one store and
            // two loads fewer per vector. y may be x: each vector of x is read before its y is written.
            int taken = 0;
            for (int k = 0; k < length; k += 16)
            {
                var v = Vector512.LoadUnsafe(ref xc, (nuint)k);
                var isFar = IsFar(v);
                Avx512F.Expand(GeluNear512(v), isFar, Vector512.Load(far + taken)).StoreUnsafe(ref yc, (nuint)k);
                taken += BitOperations.PopCount(isFar.ExtractMostSignificantBits());
            }
            done += (nuint)length;
        }
        return done;
    }

    /// <summary>The lanes the tail computes: |x| ≥ <see cref="Split"/>, and NaN (the select's false side).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> IsFar(Vector512<float> v) => ~Vector512.LessThan(Abs(v), V(Split));

    /// <summary>
    /// dx[i] = gelu'(x[i])·dy[i] for the first n - n % 16 floats, returns that count; dx may be dy or x. Both regimes need
    /// e^(-x²/2), so packing saves only the tail and cost more than that (measured: 1.25 → 1.29 ms on N(0, 1) inputs);
    /// instead a vector whose lanes all lie in one regime runs that regime's operations alone, and a mixed one the fused form.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static nuint GeluBackwardByVector512(ref float dy, ref float x, ref float dx, nuint n)
    {
        nuint i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.LoadUnsafe(ref x, i);
            var g = Vector512.LoadUnsafe(ref dy, i);
            ulong near = Vector512.LessThan(Abs(v), V(Split)).ExtractMostSignificantBits();
            var d = near == 0xFFFF ? GeluBackwardNear512(g, v) : near == 0 ? GeluBackwardFar512(g, v) : GeluBackward(g, v);
            d.StoreUnsafe(ref dx, i);
        }
        return i;
    }
}
