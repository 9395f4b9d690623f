using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// <see cref="SmallRowsGemm"/>'s route on the Vector256 tier (AVX2 + FMA): C (m ≤ 48 rows × n) = A · B with B row-major,
/// read in place, in 6 × 16 register tiles (12 ymm accumulators, two B vectors and 6 broadcasts a step — the blocked
/// driver's tile shape; a 12 × 8 tile, 12 broadcasts per B vector, ran slower than packing). For each 16-column tile
/// every 6-row pass runs before the next tile, so the tile's B (one 64-byte line per depth row) is read from memory once
/// and from L1 by the later passes. Each element is one multiply-add chain from zero in depth order, as the blocked
/// driver's 6 × 16 kernel forms it over one K block: the same bits.
/// </summary>
internal static unsafe class SmallRowsGemm256
{
    /// <summary>Rows of one pass (the register tile's).</summary>
    public const int PassRows = 6;
    const int Cols = SmallRowsGemm.TileColumns;

    /// <summary>True where the tiles run: the Vector256 tier with FMA.</summary>
    public static bool Supported(GemmTier tier) => tier == GemmTier.Vector256 && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Floats of the A panels for m rows and depth k (a 6-wide panel per pass).</summary>
    public static long PanelFloats(int m, int k) => (long)(m + PassRows - 1) / PassRows * PassRows * k;

    /// <summary>Floats of the edge scratch for depth k: B's last partial tile (k × 16) and a C tile (6 × 16).</summary>
    public static long EdgeFloats(int k) => (long)k * Cols + PassRows * Cols;

    /// <summary>C (m rows × n, leading dimension ldc) = A · B, B (k × n) row-major with leading dimension ldb.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int m, int n, int k, MatrixView a, float* b, nint ldb, float* c, nint ldc, float* panels, float* edge)
    {
        int passes = (m + PassRows - 1) / PassRows;
        for (int s = 0; s < passes; s++) PackPass(a, s * PassRows, Math.Min(PassRows, m - s * PassRows), k, panels + (nint)s * PassRows * k);
        float* tile = edge + (nint)k * Cols;
        int full = n / Cols * Cols;
        for (int j = 0; j < full; j += Cols)
            for (int s = 0; s < passes; s++)
            {
                int rows = Math.Min(PassRows, m - s * PassRows);
                float* cs = c + (nint)s * PassRows * ldc + j;
                if (rows == PassRows) Tile(k, panels + (nint)s * PassRows * k, b + j, ldb, cs, ldc);
                else
                {
                    Tile(k, panels + (nint)s * PassRows * k, b + j, ldb, tile, Cols);
                    for (int i = 0; i < rows; i++) { Vector256.Store(Vector256.Load(tile + i * Cols), cs + i * ldc); Vector256.Store(Vector256.Load(tile + i * Cols + 8), cs + i * ldc + 8); }
                }
            }
        if (full == n) return;
        // The last partial tile: its columns copied to a zero-padded 16-wide panel, the valid part of each result kept.
        int rest = n - full;
        SmallRowsGemm.CopyPartialTile(k, b + full, ldb, rest, edge);
        for (int s = 0; s < passes; s++)
        {
            int rows = Math.Min(PassRows, m - s * PassRows);
            Tile(k, panels + (nint)s * PassRows * k, edge, Cols, tile, Cols);
            for (int i = 0; i < rows; i++)
                for (int q = 0; q < rest; q++) c[(s * PassRows + i) * ldc + full + q] = tile[i * Cols + q];
        }
    }

    /// <summary>Rows [i0, i0 + rows) of A into a 6-wide panel: panel[p·6 + i] = A(i0 + i, p), zero past the rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackPass(MatrixView a, int i0, int rows, int k, float* panel)
    {
        for (int p = 0; p < k; p++, panel += PassRows)
        {
            int i = 0;
            for (; i < rows; i++) panel[i] = *a.At(i0 + i, p);
            for (; i < PassRows; i++) panel[i] = 0;
        }
    }

    /// <summary>One 6 × 16 tile of C (all 6 rows stored) over the whole depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(nint k, float* a, float* b, nint ldb, float* c, nint ldc)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default;
        for (nint p = 0; p < k; p++, a += PassRows, b += ldb)
        {
            var v = Vector256.Load(b);
            var u = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]); c0 = Vector256.FusedMultiplyAdd(x, v, c0); d0 = Vector256.FusedMultiplyAdd(x, u, d0);
            x = Vector256.Create(a[1]); c1 = Vector256.FusedMultiplyAdd(x, v, c1); d1 = Vector256.FusedMultiplyAdd(x, u, d1);
            x = Vector256.Create(a[2]); c2 = Vector256.FusedMultiplyAdd(x, v, c2); d2 = Vector256.FusedMultiplyAdd(x, u, d2);
            x = Vector256.Create(a[3]); c3 = Vector256.FusedMultiplyAdd(x, v, c3); d3 = Vector256.FusedMultiplyAdd(x, u, d3);
            x = Vector256.Create(a[4]); c4 = Vector256.FusedMultiplyAdd(x, v, c4); d4 = Vector256.FusedMultiplyAdd(x, u, d4);
            x = Vector256.Create(a[5]); c5 = Vector256.FusedMultiplyAdd(x, v, c5); d5 = Vector256.FusedMultiplyAdd(x, u, d5);
        }
        Vector256.Store(c0, c); Vector256.Store(d0, c + 8); c += ldc;
        Vector256.Store(c1, c); Vector256.Store(d1, c + 8); c += ldc;
        Vector256.Store(c2, c); Vector256.Store(d2, c + 8); c += ldc;
        Vector256.Store(c3, c); Vector256.Store(d3, c + 8); c += ldc;
        Vector256.Store(c4, c); Vector256.Store(d4, c + 8); c += ldc;
        Vector256.Store(c5, c); Vector256.Store(d5, c + 8);
    }
}
