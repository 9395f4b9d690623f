using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Winograd.Winograd3x3;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// <see cref="F4x4"/>'s transforms in ymm registers (AVX2): the same matrices and the same operations in the
/// same order (so the same results as the AVX-512 variant, bit for bit), 8 positions per vector of the input
/// transform and 8 channels per vector of the output transform instead of 16. AVX2 has no compress: the
/// lanes of real tiles are gathered to the front by a permutation from a 256-entry table, then stored masked.
/// </summary>
internal readonly unsafe struct F4x4Avx2 : IWinogradTiles
{
    const int P = 6, Lanes = 8;

    public static int Tile => 4;

    public static void TransformFilter(float* f, float* u, nint step) => F4x4.TransformFilter(f, u, step);

    /// <summary>
    /// As <see cref="F4x4.TransformInput"/>: element (i, j) of the patches of 8 consecutive positions of a phase
    /// row is one contiguous vector; positions that are no tile (each row's last) are dropped before the store.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v)
    {
        long phase = l.PhaseFloats;
        int lq = l.Lq;
        nint tiles = (nint)(tr1 - tr0) * tileCols, xiStride = (nint)cg * tiles;
        nint* offsets = stackalloc nint[P * P];
        for (int i = 0; i < P; i++)
            for (int j = 0; j < P; j++)
                offsets[P * i + j] = (nint)(((i & 3) * 4 + (j & 3)) * phase + (i >> 2) * lq + (j >> 2));
        float* buffer = stackalloc float[P * P * Lanes + 16];
        float* t = F4x4Transforms.Aligned(buffer);
        int start = tr0 * lq, end = (tr1 - 1) * lq + tileCols, vectors = (end - start + Lanes - 1) / Lanes;
        // Lane k of vector n is a tile where its column (start + 8n + k) mod lq is below tileCols, before the end.
        byte* tileBits = stackalloc byte[Math.Min(vectors, 2048)];
        for (int n = 0; n < Math.Min(vectors, 2048); n++) tileBits[n] = TileBits(start + n * Lanes, end, lq, tileCols);
        ref int table = ref MemoryMarshal.GetArrayDataReference(CompressTable);
        for (int c = 0; c < cg; c++)
        {
            float* plane = padded + c * l.PlaneFloats;
            float* d = v + (nint)c * tiles;
            for (int pos = start, n = 0; pos < end; pos += Lanes, n++)
            {
                uint bits = n < 2048 ? tileBits[n] : TileBits(pos, end, lq, tileCols);
                int count = BitOperations.PopCount(bits);
                var gather = Vector256.LoadUnsafe(ref table, (nuint)bits * Lanes);
                var stored = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
                float* s = plane + pos;
                for (int j = 0; j < P; j++)
                {
                    nint* o = offsets + j;
                    var (r0, r1, r2, r3, r4, r5) = F4x4Transforms.Bt<Vector256<float>, TransformWidth256>(Vector256.Load(s + o[0]), Vector256.Load(s + o[P]), Vector256.Load(s + o[2 * P]),
                        Vector256.Load(s + o[3 * P]), Vector256.Load(s + o[4 * P]), Vector256.Load(s + o[5 * P]));
                    float* tj = t + j * Lanes;
                    r0.Store(tj); r1.Store(tj + P * Lanes); r2.Store(tj + 2 * P * Lanes);
                    r3.Store(tj + 3 * P * Lanes); r4.Store(tj + 4 * P * Lanes); r5.Store(tj + 5 * P * Lanes);
                }
                for (int i = 0; i < P; i++)
                {
                    float* ti = t + P * i * Lanes;
                    var (r0, r1, r2, r3, r4, r5) = F4x4Transforms.Bt<Vector256<float>, TransformWidth256>(Vector256.Load(ti), Vector256.Load(ti + Lanes), Vector256.Load(ti + 2 * Lanes),
                        Vector256.Load(ti + 3 * Lanes), Vector256.Load(ti + 4 * Lanes), Vector256.Load(ti + 5 * Lanes));
                    // Element (i, j) of the transform is index 6i + j.
                    float* di = d + P * i * xiStride;
                    if (count == Lanes)
                    {
                        r0.Store(di); r1.Store(di + xiStride); r2.Store(di + 2 * xiStride);
                        r3.Store(di + 3 * xiStride); r4.Store(di + 4 * xiStride); r5.Store(di + 5 * xiStride);
                    }
                    else
                    {
                        Avx.MaskStore(di, stored, Avx2.PermuteVar8x32(r0, gather));
                        Avx.MaskStore(di + xiStride, stored, Avx2.PermuteVar8x32(r1, gather));
                        Avx.MaskStore(di + 2 * xiStride, stored, Avx2.PermuteVar8x32(r2, gather));
                        Avx.MaskStore(di + 3 * xiStride, stored, Avx2.PermuteVar8x32(r3, gather));
                        Avx.MaskStore(di + 4 * xiStride, stored, Avx2.PermuteVar8x32(r4, gather));
                        Avx.MaskStore(di + 5 * xiStride, stored, Avx2.PermuteVar8x32(r5, gather));
                    }
                }
                d += count;
            }
        }
    }

    static byte TileBits(int pos, int end, int lq, int tileCols)
    {
        uint bits = 0;
        for (int k = 0; k < Lanes && pos + k < end; k++)
            if ((pos + k) % lq < tileCols) bits |= 1u << k;
        return (byte)bits;
    }

    /// <summary>Row b (8 ints) lists the set bits of b in order, then zeros: the permutation that moves the kept lanes to the front.</summary>
    static readonly int[] CompressTable = MakeCompressTable();

    static int[] MakeCompressTable()
    {
        var table = new int[256 * Lanes];
        for (int bits = 0; bits < 256; bits++)
            for (int k = 0, n = 0; k < Lanes; k++)
                if ((bits & (1 << k)) != 0) table[bits * Lanes + n++] = k;
        return table;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage) =>
        F4x4Transforms.Output<Vector256<float>, TransformWidth256>(m, tiles, tileCols, tr0, outH, outW, stage);
}
