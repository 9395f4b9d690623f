using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// C (m × n) = A · B for a GEMM of at most 16 rows and a deep, wide B read in place (row-major, any leading
/// dimension): gemm-col2im's GEMM when dx has few channels (Conv-TasNet's 512 → 1 decoder: 16 rows = the
/// taps, 512 deep, 4000 columns). The blocked <see cref="Sgemm"/> pads 16 rows to its 12- or 8-row tiles and
/// packs all of B — a copy of the whole of dy for 16 multiply-adds per element. Here one 16 × 16 register
/// tile (16 zmm accumulators, one B vector and 16 broadcasts of A per step) reads each element of B once,
/// and A (depth × 16, zero past row m) stays in L1; up to 8 rows take 8 × 32 tiles (two B vectors, 8
/// broadcasts), half the multiply-adds. One thread, 512 deep, 1024 columns of a 4000-wide B, alternated
/// (SmallRowsGemmTimings): 16 rows 80 µs against Sgemm's 113, 12 rows 80 against 97, 2–8 rows 43 against 83–87.
/// 17–24 rows take 24 × 16 tiles (24 accumulators; a 24-wide A panel). The blocked driver sends its few-row GEMMs
/// with a row-major B here too (<see cref="Sgemm"/>: 1x1 projections to few channels).
/// AVX-512 only; the AVX2 tier's route is <see cref="SmallRowsGemm256"/>, and gemm-col2im on other tiers takes <see cref="Sgemm"/>.
/// </summary>
internal static unsafe class SmallRowsGemm
{
    /// <summary>The most rows this GEMM takes (the 24 × 16 tile's).</summary>
    public const int MaxRows = 24;
    /// <summary>Rows of the 16 × 16 tile: its A panel is 16 wide.</summary>
    public const int TileRows = 16;
    const int Cols = 16, HalfRows = 8, WideCols = 32;
    /// <summary>Columns of one full tile: a narrower B is all edge.</summary>
    public const int TileColumns = Cols;
    /// <summary>
    /// Software prefetch two tiles ahead in each B row: the kernel walks 512 rows 16 KB apart, more streams than
    /// the hardware prefetchers follow. With B cold (from memory: 1024 columns of a 64 MB B per call, one thread)
    /// 16 rows took 123–137 µs with it against 282–288 without, 8 rows 158–166 against 168–179; B warm unchanged.
    /// </summary>
    const int PrefetchTiles = 2;

    /// <summary>True where the kernel runs (the Vector512 tier).</summary>
    public static bool Supported(GemmTier tier) => tier == GemmTier.Vector512 && Vector512.IsHardwareAccelerated;

    /// <summary>Floats of the A panel for depth k (k × 24 at most).</summary>
    public static long PanelFloats(int k) => (long)k * MaxRows;

    /// <summary>Floats of the edge scratch for depth k: B's last partial tile (k × 16) and a C tile (24 × 16 or 8 × 32).</summary>
    public static long EdgeFloats(int k) => (long)k * Cols + MaxRows * Cols;

    /// <summary>Width of the A panel for m rows: 16 up to 16 rows, else 24.</summary>
    static int PanelRows(int m) => m <= TileRows ? TileRows : MaxRows;

    /// <summary>
    /// Packs A (m ≤ 24 rows, depth k) into <paramref name="panel"/>: panel[p·w + i] = A(i, p), zero for i ≥ m, with
    /// w = 16 for m ≤ 16, else 24.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(MatrixView a, int m, int k, float* panel)
    {
        int w = PanelRows(m);
        for (int p = 0; p < k; p++)
        {
            float* dst = panel + (nint)p * w;
            int i = 0;
            for (; i < m; i++) dst[i] = *a.At(i, p);
            for (; i < w; i++) dst[i] = 0;
        }
    }

    /// <summary>
    /// C (m ≤ 24 rows × n, leading dimension ldc) = A · B, A packed by <see cref="PackA"/>, B (k × n) row-major
    /// with leading dimension ldb; <paramref name="edge"/> holds <see cref="EdgeFloats"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int m, int n, int k, float* panel, float* b, nint ldb, float* c, nint ldc, float* edge)
    {
        if (m <= 0 || n <= 0) return;
        if ((uint)m > MaxRows) throw new ArgumentOutOfRangeException(nameof(m), m, $"at most {MaxRows} rows");
        if (m <= HalfRows) MultiplyHalf(m, n, k, panel, b, ldb, c, ldc, edge);
        else if (m <= TileRows) Multiply16(m, n, k, panel, b, ldb, c, ldc, edge);
        else Multiply24(m, n, k, panel, b, ldb, c, ldc, edge);
    }

    /// <summary>
    /// C (m rows × n, leading dimension ldc) = A · B for any m, in passes of up to <see cref="MaxRows"/> rows, each packing its
    /// rows of A into <paramref name="panel"/> (<see cref="PanelFloats"/>) and reading B in place (from L2 after the first pass).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyInPasses(int m, int n, int k, MatrixView a, float* b, nint ldb, float* c, nint ldc, float* panel, float* edge)
    {
        for (int i0 = 0; i0 < m; i0 += MaxRows)
        {
            int rows = Math.Min(MaxRows, m - i0);
            PackA(a.Offset(i0, 0), rows, k, panel);
            Multiply(rows, n, k, panel, b, ldb, c + i0 * ldc, ldc, edge);
        }
    }

    /// <summary>24 × 16 tiles (17–24 rows, a 24-wide panel), the last partial one through the edge scratch.</summary>
    internal static void Multiply24(int m, int n, int k, float* panel, float* b, nint ldb, float* c, nint ldc, float* edge) =>
        ColumnTiles(m, n, k, panel, b, ldb, c, ldc, edge, MaxRows, &Tile24);

    /// <summary>B's last <paramref name="rest"/> (&lt; 16) columns copied to a zero-padded 16-wide panel at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CopyPartialTile(int k, float* b, nint ldb, int rest, float* dst)
    {
        for (int p = 0; p < k; p++, dst += Cols)
        {
            float* src = b + p * ldb;
            int q = 0;
            for (; q < rest; q++) dst[q] = src[q];
            for (; q < Cols; q++) dst[q] = 0;
        }
    }

    /// <summary>16 × 16 tiles (any m ≤ 16), the last partial one through the edge scratch.</summary>
    internal static void Multiply16(int m, int n, int k, float* panel, float* b, nint ldb, float* c, nint ldc, float* edge) =>
        ColumnTiles(m, n, k, panel, b, ldb, c, ldc, edge, TileRows, &Tile);

    /// <summary>
    /// C = A · B in 16-column tiles of <paramref name="tile"/> (a register tile of <paramref name="tileRows"/> rows): a tile
    /// with fewer rows than that computed aside and its m rows copied out, the last partial tile's columns copied to a
    /// zero-padded 16-wide panel first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ColumnTiles(int m, int n, int k, float* panel, float* b, nint ldb, float* c, nint ldc, float* edge, int tileRows,
        delegate*<nint, float*, float*, nint, float*, nint, void> tile)
    {
        float* aside = edge + (nint)k * Cols;
        int full = n / Cols * Cols;
        for (int j = 0; j < full; j += Cols)
        {
            if (m == tileRows) tile(k, panel, b + j, ldb, c + j, ldc);
            else
            {
                tile(k, panel, b + j, ldb, aside, Cols);
                for (int i = 0; i < m; i++) Vector512.Store(Vector512.Load(aside + i * Cols), c + i * ldc + j);
            }
        }
        if (full < n)
        {
            int rest = n - full;
            CopyPartialTile(k, b + full, ldb, rest, edge);
            tile(k, panel, edge, Cols, aside, Cols);
            for (int i = 0; i < m; i++)
                for (int q = 0; q < rest; q++) c[i * ldc + full + q] = aside[i * Cols + q];
        }
    }

    /// <summary>
    /// At most 8 rows: 8 × 32 tiles (16 accumulators, two B vectors and 8 broadcasts per step), half the
    /// multiply-adds of the 16-row tile; A is the same 16-wide panel, its first 8 entries per step read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MultiplyHalf(int m, int n, int k, float* panel, float* b, nint ldb, float* c, nint ldc, float* edge)
    {
        float* tile = edge + (nint)k * Cols;
        int full = n / WideCols * WideCols;
        for (int j = 0; j < full; j += WideCols)
        {
            if (m == HalfRows) TileHalf(k, panel, b + j, ldb, c + j, ldc);
            else
            {
                TileHalf(k, panel, b + j, ldb, tile, WideCols);
                for (int i = 0; i < m; i++)
                {
                    Vector512.Store(Vector512.Load(tile + i * WideCols), c + i * ldc + j);
                    Vector512.Store(Vector512.Load(tile + i * WideCols + 16), c + i * ldc + j + 16);
                }
            }
        }
        // The rest (< 32 columns) in 16-wide tiles of the 16-row kernel.
        if (full < n) Multiply16(m, n - full, k, panel, b + full, ldb, c + full, ldc, edge);
    }

    /// <summary>One 8 × 32 tile of C (all 8 rows stored) over the whole depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TileHalf(nint k, float* a, float* b, nint ldb, float* c, nint ldc)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default;
        for (nint p = 0; p < k; p++, a += TileRows, b += ldb)
        {
            var v = Vector512.Load(b);
            var u = Vector512.Load(b + 16);
            Sse.Prefetch0(b + PrefetchTiles * WideCols);
            var x = Vector512.Create(a[0]); c0 = Vector512.FusedMultiplyAdd(x, v, c0); d0 = Vector512.FusedMultiplyAdd(x, u, d0);
            x = Vector512.Create(a[1]); c1 = Vector512.FusedMultiplyAdd(x, v, c1); d1 = Vector512.FusedMultiplyAdd(x, u, d1);
            x = Vector512.Create(a[2]); c2 = Vector512.FusedMultiplyAdd(x, v, c2); d2 = Vector512.FusedMultiplyAdd(x, u, d2);
            x = Vector512.Create(a[3]); c3 = Vector512.FusedMultiplyAdd(x, v, c3); d3 = Vector512.FusedMultiplyAdd(x, u, d3);
            x = Vector512.Create(a[4]); c4 = Vector512.FusedMultiplyAdd(x, v, c4); d4 = Vector512.FusedMultiplyAdd(x, u, d4);
            x = Vector512.Create(a[5]); c5 = Vector512.FusedMultiplyAdd(x, v, c5); d5 = Vector512.FusedMultiplyAdd(x, u, d5);
            x = Vector512.Create(a[6]); c6 = Vector512.FusedMultiplyAdd(x, v, c6); d6 = Vector512.FusedMultiplyAdd(x, u, d6);
            x = Vector512.Create(a[7]); c7 = Vector512.FusedMultiplyAdd(x, v, c7); d7 = Vector512.FusedMultiplyAdd(x, u, d7);
        }
        Vector512.Store(c0, c); Vector512.Store(d0, c + 16); c += ldc;
        Vector512.Store(c1, c); Vector512.Store(d1, c + 16); c += ldc;
        Vector512.Store(c2, c); Vector512.Store(d2, c + 16); c += ldc;
        Vector512.Store(c3, c); Vector512.Store(d3, c + 16); c += ldc;
        Vector512.Store(c4, c); Vector512.Store(d4, c + 16); c += ldc;
        Vector512.Store(c5, c); Vector512.Store(d5, c + 16); c += ldc;
        Vector512.Store(c6, c); Vector512.Store(d6, c + 16); c += ldc;
        Vector512.Store(c7, c); Vector512.Store(d7, c + 16);
    }

    /// <summary>One 16 × 16 tile of C (all 16 rows stored) over the whole depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(nint k, float* a, float* b, nint ldb, float* c, nint ldc)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        for (nint p = 0; p < k; p++, a += TileRows, b += ldb)
        {
            var v = Vector512.Load(b);
            Sse.Prefetch0(b + PrefetchTiles * Cols);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), v, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), v, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), v, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), v, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), v, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), v, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), v, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), v, c7);
            c8 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), v, c8);
            c9 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), v, c9);
            c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), v, c10);
            c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), v, c11);
            c12 = Vector512.FusedMultiplyAdd(Vector512.Create(a[12]), v, c12);
            c13 = Vector512.FusedMultiplyAdd(Vector512.Create(a[13]), v, c13);
            c14 = Vector512.FusedMultiplyAdd(Vector512.Create(a[14]), v, c14);
            c15 = Vector512.FusedMultiplyAdd(Vector512.Create(a[15]), v, c15);
        }
        Vector512.Store(c0, c); Vector512.Store(c1, c + ldc); Vector512.Store(c2, c + 2 * ldc); Vector512.Store(c3, c + 3 * ldc);
        Vector512.Store(c4, c + 4 * ldc); Vector512.Store(c5, c + 5 * ldc); Vector512.Store(c6, c + 6 * ldc); Vector512.Store(c7, c + 7 * ldc);
        Vector512.Store(c8, c + 8 * ldc); Vector512.Store(c9, c + 9 * ldc); Vector512.Store(c10, c + 10 * ldc); Vector512.Store(c11, c + 11 * ldc);
        Vector512.Store(c12, c + 12 * ldc); Vector512.Store(c13, c + 13 * ldc); Vector512.Store(c14, c + 14 * ldc); Vector512.Store(c15, c + 15 * ldc);
    }

    /// <summary>One 24 × 16 tile of C (all 24 rows stored) over the whole depth: 24 accumulators, one B vector a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile24(nint k, float* a, float* b, nint ldb, float* c, nint ldc)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        Vector512<float> c16 = default, c17 = default, c18 = default, c19 = default, c20 = default, c21 = default, c22 = default, c23 = default;
        for (nint p = 0; p < k; p++, a += MaxRows, b += ldb)
        {
            var v = Vector512.Load(b);
            Sse.Prefetch0(b + PrefetchTiles * Cols);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), v, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), v, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), v, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), v, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), v, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), v, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), v, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), v, c7);
            c8 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), v, c8);
            c9 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), v, c9);
            c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), v, c10);
            c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), v, c11);
            c12 = Vector512.FusedMultiplyAdd(Vector512.Create(a[12]), v, c12);
            c13 = Vector512.FusedMultiplyAdd(Vector512.Create(a[13]), v, c13);
            c14 = Vector512.FusedMultiplyAdd(Vector512.Create(a[14]), v, c14);
            c15 = Vector512.FusedMultiplyAdd(Vector512.Create(a[15]), v, c15);
            c16 = Vector512.FusedMultiplyAdd(Vector512.Create(a[16]), v, c16);
            c17 = Vector512.FusedMultiplyAdd(Vector512.Create(a[17]), v, c17);
            c18 = Vector512.FusedMultiplyAdd(Vector512.Create(a[18]), v, c18);
            c19 = Vector512.FusedMultiplyAdd(Vector512.Create(a[19]), v, c19);
            c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a[20]), v, c20);
            c21 = Vector512.FusedMultiplyAdd(Vector512.Create(a[21]), v, c21);
            c22 = Vector512.FusedMultiplyAdd(Vector512.Create(a[22]), v, c22);
            c23 = Vector512.FusedMultiplyAdd(Vector512.Create(a[23]), v, c23);
        }
        Vector512.Store(c0, c); Vector512.Store(c1, c + ldc); Vector512.Store(c2, c + 2 * ldc); Vector512.Store(c3, c + 3 * ldc);
        Vector512.Store(c4, c + 4 * ldc); Vector512.Store(c5, c + 5 * ldc); Vector512.Store(c6, c + 6 * ldc); Vector512.Store(c7, c + 7 * ldc);
        Vector512.Store(c8, c + 8 * ldc); Vector512.Store(c9, c + 9 * ldc); Vector512.Store(c10, c + 10 * ldc); Vector512.Store(c11, c + 11 * ldc);
        Vector512.Store(c12, c + 12 * ldc); Vector512.Store(c13, c + 13 * ldc); Vector512.Store(c14, c + 14 * ldc); Vector512.Store(c15, c + 15 * ldc);
        Vector512.Store(c16, c + 16 * ldc); Vector512.Store(c17, c + 17 * ldc); Vector512.Store(c18, c + 18 * ldc); Vector512.Store(c19, c + 19 * ldc);
        Vector512.Store(c20, c + 20 * ldc); Vector512.Store(c21, c + 21 * ldc); Vector512.Store(c22, c + 22 * ldc); Vector512.Store(c23, c + 23 * ldc);
    }
}
