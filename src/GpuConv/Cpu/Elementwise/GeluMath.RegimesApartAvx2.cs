using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// GELU forward on AVX2 with its two regimes computed apart, as <see cref="GeluRegimesApart512"/> does with AVX-512's
/// VCOMPRESSPS / VEXPANDPS: AVX2 has neither, so the far lanes of 8 are packed and put back by VPERMPS with a lane order
/// looked up by the vector's 8-bit mask of far lanes (two tables of 256 × 8 indices, 16 KB). The Vector256 form computes
/// both regimes on every lane and selects (1.97 ns a float on any input here); apart, a lane pays its own regime only.
/// Each lane gets the operations of <see cref="Gelu(Vector256{float})"/>'s branch it takes: the same bits. The gradient
/// takes its regimes by whole vectors instead (<see cref="GeluBackwardByVector256"/>).
/// </summary>
internal static partial class GeluMath
{
    /// <summary>By mask m: lanes whose bit is set, in order, then zeros (a permutation packing the far lanes first).</summary>
    static readonly int[] PackOrder = LaneOrders(pack: true);

    /// <summary>By mask m: for each set lane its rank among the set lanes (the packed float it takes back), 0 elsewhere.</summary>
    static readonly int[] UnpackOrder = LaneOrders(pack: false);

    static int[] LaneOrders(bool pack)
    {
        var orders = new int[256 * 8];
        for (int m = 0; m < 256; m++)
            for (int lane = 0, rank = 0; lane < 8; lane++)
            {
                if ((m >> lane & 1) == 0) continue;
                if (pack) orders[m * 8 + rank] = lane;
                else orders[m * 8 + lane] = rank;
                rank++;
            }
        return orders;
    }

    /// <summary>
    /// y[i] = gelu(x[i]) for the first n - n % 8 floats, returns that count; y may be x. Only where AVX2 runs (the element-wise
    /// loop takes it where <see cref="GeluRegimesApart512"/> does not run).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe nuint GeluRegimesApart256(ref float x, ref float y, nuint n)
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("GELU's AVX2 regime packing needs AVX2");
        var far = stackalloc float[RegimeChunk + 8];
        ref int pack = ref MemoryMarshal.GetArrayDataReference(PackOrder);
        ref int unpack = ref MemoryMarshal.GetArrayDataReference(UnpackOrder);
        nuint done = 0;
        while (n - done >= 8)
        {
            int length = (int)Math.Min((nuint)RegimeChunk, (n - done) & ~(nuint)7);
            ref float xc = ref Unsafe.Add(ref x, done);
            ref float yc = ref Unsafe.Add(ref y, done);
            int packed = 0;
            for (int k = 0; k < length; k += 8)
            {
                var v = Vector256.LoadUnsafe(ref xc, (nuint)k);
                uint m = IsFar(v).ExtractMostSignificantBits();
                Avx2.PermuteVar8x32(v, Vector256.LoadUnsafe(ref pack, m * 8)).Store(far + packed);
                packed += BitOperations.PopCount(m);
            }
            // As in the AVX-512 form, the lanes past 'packed' in the last vector hold stale floats that are never taken back.
            for (int j = 0; j < packed; j += 8)
                GeluFar256(Vector256.Load(far + j)).Store(far + j);
            int taken = 0;
            for (int k = 0; k < length; k += 8)
            {
                var v = Vector256.LoadUnsafe(ref xc, (nuint)k);
                var isFar = IsFar(v);
                uint m = isFar.ExtractMostSignificantBits();
                var back = Avx2.PermuteVar8x32(Vector256.Load(far + taken), Vector256.LoadUnsafe(ref unpack, m * 8));
                Vector256.ConditionalSelect(isFar, back, GeluNear256(v)).StoreUnsafe(ref yc, (nuint)k);
                taken += BitOperations.PopCount(m);
            }
            done += (nuint)length;
        }
        return done;
    }

    /// <summary>The lanes the tail computes: |x| ≥ <see cref="Split"/>, and NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> IsFar(Vector256<float> v) => ~Vector256.LessThan(Abs(v), C(Split));

    /// <summary>
    /// dx[i] = gelu'(x[i])·dy[i] for the first n - n % 8 floats, returns that count; dx may be dy or x. As
    /// <see cref="GeluBackwardByVector512"/> on AVX-512: a vector whose lanes all lie in one regime runs that regime's
    /// operations alone (no tail's two divisions where every |x| &lt; 1), a mixed one the fused form; each lane gets its
    /// branch's operations, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static nuint GeluBackwardByVector256(ref float dy, ref float x, ref float dx, nuint n)
    {
        nuint i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var v = Vector256.LoadUnsafe(ref x, i);
            var g = Vector256.LoadUnsafe(ref dy, i);
            uint near = Vector256.LessThan(Abs(v), C(Split)).ExtractMostSignificantBits();
            var d = near == 0xFF ? GeluBackwardNear256(g, v) : near == 0 ? GeluBackwardFar256(g, v) : GeluBackward(g, v);
            d.StoreUnsafe(ref dx, i);
        }
        return i;
    }
}
