using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// GELU forward and gradient on AVX-512 with their two regimes computed apart. The vector forms compute both for every lane — the
/// polynomial (~8 operations) and the tail (e^(-x²/2) and g(|x|), ~60) — and select, so every vector costs the tail.
/// Here a chunk of floats is gone through three times: (1) every lane's polynomial result is stored and the lanes at or
/// beyond <see cref="Split"/> are packed together (VCOMPRESSPS, register form); (2) the tail runs on the packed lanes only;
/// (3) its results are put back in their lanes (VEXPANDPS) over the stored polynomial results. Each lane still gets
/// exactly the operations of <see cref="Gelu(Vector512{float})"/>'s branch it takes, so the bits are the same; the time
/// falls with the share of |x| &lt; 1 (the packing costs ~10 operations per vector when every lane is far). The gradient
/// the same way (<see cref="GeluBackwardRegimesApart512"/>): its near lanes need e^(-x²/2) too, but not g(|x|)'s two divisions.
/// </summary>
internal static partial class GeluMath
{
    /// <summary>Floats per chunk: sixteen vectors, their packed copies and masks on the stack (~3 KB, in L1).</summary>
    const int RegimeChunk = 256;

    /// <summary>
    /// y[i] = gelu(x[i]) for the first n - n % 16 floats, returns that count; y may be x. Only where AVX-512 runs
    /// (<see cref="ElementwiseMap.Wide"/>): the packing instructions have no software form worth running.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe nuint GeluRegimesApart512(ref float x, ref float y, nuint n)
    {
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("GELU's regime packing needs AVX-512");
        var far = stackalloc float[RegimeChunk + 16];
        var masks = stackalloc Vector512<float>[RegimeChunk / 16];
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
                var isFar = ~Vector512.LessThan(Abs(v), V(Split)); // NaN too, as the select's false side
                masks[k / 16] = isFar;
                GeluNear512(v).StoreUnsafe(ref yc, (nuint)k);
                Avx512F.Compress(Vector512<float>.Zero, isFar, v).Store(far + packed);
                packed += BitOperations.PopCount(isFar.ExtractMostSignificantBits());
            }
            // The lanes past 'packed' in the last vector hold stale floats; their results are never expanded.
            for (int j = 0; j < packed; j += 16)
                GeluFar512(Vector512.Load(far + j)).Store(far + j);
            int taken = 0;
            for (int k = 0; k < length; k += 16)
            {
                var isFar = masks[k / 16];
                var near = Vector512.LoadUnsafe(ref yc, (nuint)k);
                Avx512F.Expand(near, isFar, Vector512.Load(far + taken)).StoreUnsafe(ref yc, (nuint)k);
                taken += BitOperations.PopCount(isFar.ExtractMostSignificantBits());
            }
            done += (nuint)length;
        }
        return done;
    }

    /// <summary>
    /// dx[i] = gelu'(x[i])·dy[i] for the first n - n % 16 floats, returns that count; dx may be dy or x. The far lanes' x and
    /// dy are packed side by side with the same mask; otherwise as <see cref="GeluRegimesApart512"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe nuint GeluBackwardRegimesApart512(ref float dy, ref float x, ref float dx, nuint n)
    {
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("GELU's regime packing needs AVX-512");
        var farX = stackalloc float[RegimeChunk + 16];
        var farDy = stackalloc float[RegimeChunk + 16];
        var masks = stackalloc Vector512<float>[RegimeChunk / 16];
        nuint done = 0;
        while (n - done >= 16)
        {
            int length = (int)Math.Min((nuint)RegimeChunk, (n - done) & ~(nuint)15);
            ref float xc = ref Unsafe.Add(ref x, done);
            ref float dyc = ref Unsafe.Add(ref dy, done);
            ref float dxc = ref Unsafe.Add(ref dx, done);
            int packed = 0;
            for (int k = 0; k < length; k += 16)
            {
                var v = Vector512.LoadUnsafe(ref xc, (nuint)k);
                var g = Vector512.LoadUnsafe(ref dyc, (nuint)k);
                var isFar = ~Vector512.LessThan(Abs(v), V(Split)); // NaN too, as the select's false side
                masks[k / 16] = isFar;
                GeluBackwardNear512(g, v).StoreUnsafe(ref dxc, (nuint)k);
                Avx512F.Compress(Vector512<float>.Zero, isFar, v).Store(farX + packed);
                Avx512F.Compress(Vector512<float>.Zero, isFar, g).Store(farDy + packed);
                packed += BitOperations.PopCount(isFar.ExtractMostSignificantBits());
            }
            for (int j = 0; j < packed; j += 16)
                GeluBackwardFar512(Vector512.Load(farDy + j), Vector512.Load(farX + j)).Store(farX + j);
            int taken = 0;
            for (int k = 0; k < length; k += 16)
            {
                var isFar = masks[k / 16];
                var near = Vector512.LoadUnsafe(ref dxc, (nuint)k);
                Avx512F.Expand(near, isFar, Vector512.Load(farX + taken)).StoreUnsafe(ref dxc, (nuint)k);
                taken += BitOperations.PopCount(isFar.ExtractMostSignificantBits());
            }
            done += (nuint)length;
        }
        return done;
    }
}
