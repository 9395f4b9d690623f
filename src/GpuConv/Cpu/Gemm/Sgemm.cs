using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;
namespace GpuConv.Cpu.Gemm;

/// <summary>
/// Single-precision GEMM, C (m × n) = A (m × k) · B (k × n), or C += A · B, blocked for the caches
/// (Goto/BLIS loop order: NC columns of B per L3 block, KC-deep panels, MC rows of A per L2 block)
/// and register-tiled by a SIMD microkernel of the widest tier the runtime accelerates
/// (Vector512 → Vector256 → Vector128 → scalar). Operands may be transposed (strided views).
/// The serial driver is what the convolution runs inside each of its parallel tasks; the public
/// entry points validate arrays and can split C across threads themselves.
/// </summary>
internal static unsafe class Sgemm
{
    /// <summary>The tier the GEMM (and the CPU backend) runs with in this process.</summary>
    public static GemmTier ActiveTier => GemmTiers.Best;

    /// <summary>
    /// C = op(A) · op(B) (or C += when <paramref name="accumulate"/>), row-major arrays with leading
    /// dimensions; op(X) = Xᵀ when the matching transpose flag is set. Splits C across up to
    /// <paramref name="maxDegreeOfParallelism"/> threads (-1 = all cores).
    /// </summary>
    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<float> b, int ldb, bool transposeB,
        Span<float> c, int ldc, bool accumulate = false,
        int maxDegreeOfParallelism = -1, GemmTier? tier = null)
    {
        if (m < 0) throw new ArgumentException($"m must be >= 0, got {m}.", nameof(m));
        if (n < 0) throw new ArgumentException($"n must be >= 0, got {n}.", nameof(n));
        if (k < 0) throw new ArgumentException($"k must be >= 0, got {k}.", nameof(k));
        var t = tier ?? ActiveTier;
        if (!GemmTiers.IsSupported(t))
            throw new ArgumentException($"GEMM tier {t} is not accelerated here (best is {GemmTiers.Best}).", nameof(tier));
        // Rows × cols as stored: op(A) is m × k, so A is stored k × m when transposed.
        CheckOperand(a, lda, transposeA ? k : m, transposeA ? m : k, "a", "lda");
        CheckOperand(b, ldb, transposeB ? n : k, transposeB ? k : n, "b", "ldb");
        CheckOperand(c, ldc, m, n, "c", "ldc");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var va = transposeA ? MatrixView.Transposed(pa, lda) : MatrixView.RowMajor(pa, lda);
            var vb = transposeB ? MatrixView.Transposed(pb, ldb) : MatrixView.RowMajor(pb, ldb);
            MultiplyParallel(m, n, k, va, vb, pc, ldc, accumulate, t, WorkspacePool.Shared,
                maxDegreeOfParallelism < 1 ? Environment.ProcessorCount : maxDegreeOfParallelism);
        }
    }

    static void CheckOperand(ReadOnlySpan<float> x, int ld, int rows, int cols, string name, string ldName)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentException($"{ldName} = {ld} must be >= the stored column count {cols}.", ldName);
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (x.Length < needed)
            throw new ArgumentException($"{name} has {x.Length} elements but a {rows} × {cols} matrix with leading dimension {ld} needs {needed}.", name);
    }

    /// <summary>Splits C into stripes (columns when wide, rows when tall) and runs the serial GEMM on each in parallel.</summary>
    internal static void MultiplyParallel(int m, int n, int k, MatrixView a, MatrixView b, float* c, nint ldc,
        bool accumulate, GemmTier tier, WorkspacePool pool, int threads)
    {
        var blk = GemmBlocking.For(tier);
        double flops = 2.0 * m * n * k;
        // Below ~1 MFLOP a thread hand-off costs more than it saves.
        int tasks = flops < 1e6 ? 1 : threads;
        if (tasks <= 1)
        {
            var set = pool.Rent();
            try { Multiply(m, n, k, a, b, c, ldc, accumulate, tier, set); }
            finally { pool.Return(set); }
            return;
        }
        bool splitColumns = n / blk.NR >= m / blk.MR;
        int units = splitColumns ? (n + blk.NR - 1) / blk.NR : (m + blk.MR - 1) / blk.MR;
        // Several stripes per thread, handed out dynamically (see ConvTiling.TasksPerThread).
        tasks = Math.Min(tasks * ConvTiling.TasksPerThread, units);
        int unit = splitColumns ? blk.NR : blk.MR;
        var body = [MethodImpl(MethodImplOptions.AggressiveOptimization)] (int t, WorkspaceSet ws) =>
        {
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            if (splitColumns)
            {
                int j0 = u0 * unit, j1 = Math.Min(n, u1 * unit);
                Multiply(m, j1 - j0, k, a, b.Offset(0, j0), c + j0, ldc, accumulate, tier, ws);
            }
            else
            {
                int i0 = u0 * unit, i1 = Math.Min(m, u1 * unit);
                Multiply(i1 - i0, n, k, a.Offset(i0, 0), b, c + i0 * ldc, ldc, accumulate, tier, ws);
            }
        };
        CpuParallel.For(tasks, threads, pool, body);
    }

    /// <summary>The serial blocked GEMM on one thread: C (m × n, leading dimension ldc) (+)= A · B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Multiply(int m, int n, int k, MatrixView a, MatrixView b, float* c, nint ldc,
        bool accumulate, GemmTier tier, WorkspaceSet ws)
    {
        if (SmallRowsApply(m, n, k, b, accumulate, tier))
        {
            if (tier == GemmTier.Vector256)
                SmallRowsGemm256.Multiply(m, n, k, a, b.Pointer, b.RowStride, c, ldc,
                    ws.Get(WorkspaceSlot.PackA, SmallRowsGemm256.PanelFloats(m, k)), ws.Get(WorkspaceSlot.PackB, SmallRowsGemm256.EdgeFloats(k)));
            else
                SmallRowsGemm.MultiplyInPasses(m, n, k, a, b.Pointer, b.RowStride, c, ldc,
                    ws.Get(WorkspaceSlot.PackA, SmallRowsGemm.PanelFloats(k)), ws.Get(WorkspaceSlot.PackB, SmallRowsGemm.EdgeFloats(k)));
            return;
        }
        Multiply(m, n, k, a, new ViewSource(b), c, ldc, accumulate, tier, ws);
    }

    /// <summary>
    /// Most rows the in-place route takes, in passes of up to 24 rows over B on AVX-512 (B read once per pass, from L2 after
    /// the first; on AVX2, <see cref="SmallRowsGemm256"/>, passes of 6 rows per 16-column tile). One thread, gemm-1x1 alone (`gpuconv bench`): 40 outputs (EfficientNet-B0's and MobileNetV3-Large's
    /// 28 × 28 projections) 86–88 → 105–111 GFLOP/s in two passes; a third pass (up to 72 rows) gained nothing clear
    /// (ResNet-50's 256 → 64 on 56 × 56 95 → 109, as fast as channel-tiled, which the planner takes; MobileNetV3's
    /// 24 → 72 85 → 93, 80 outputs unchanged), so the route stops at two.
    /// </summary>
    internal const int SmallRowsMaxRows = 2 * SmallRowsGemm.MaxRows;

    /// <summary>
    /// Where a row-major B is read in place by <see cref="SmallRowsGemm"/> (<see cref="SmallRowsGemm256"/> on AVX2) instead of packed: at most
    /// <see cref="SmallRowsMaxRows"/> rows of C over at least one 16-column tile, C overwritten, and a depth of one K block,
    /// whose sums the blocked driver forms the same way (one multiply-add chain from zero per element in depth order), so
    /// the bits do not depend on the path. A 1x1 projection to few channels over a large plane (MobileNetV2's 32 → 16 on
    /// 112 × 112) packed all of x for 16 multiply-adds per element and ran two 8-row tiles over the packed copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool SmallRowsApply(int m, int n, int k, MatrixView b, bool accumulate, GemmTier tier) =>
        m <= SmallRowsMaxRows && n >= SmallRowsGemm.TileColumns && !accumulate && b.ColStride == 1
        && k <= GemmBlocking.For(tier).KC && (SmallRowsGemm.Supported(tier) || SmallRowsGemm256.Supported(tier));

    /// <summary>The serial blocked GEMM with B produced by a packing source (a matrix, or im2col on the fly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Multiply<TB>(int m, int n, int k, MatrixView a, TB b, float* c, nint ldc,
        bool accumulate, GemmTier tier, WorkspaceSet ws) where TB : struct, IPackSource =>
        Multiply(m, n, k, a, b, c, ldc, accumulate, tier, ws, null);

    /// <summary>Floats of a whole packed B (all of k, n ≤ NC columns) for <see cref="PackBBlock{TB}"/>.</summary>
    internal static long PackedBFloats(int n, int k, GemmTier tier) => (long)k * RoundUp(n, GemmBlocking.For(tier).NR);

    /// <summary>Number of K blocks the driver uses for depth k (each can be packed by a separate task).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int KBlocks(int k, GemmTier tier)
    {
        int kc = KcFor(Math.Max(k, 1), GemmBlocking.For(tier).KC);
        return (Math.Max(k, 1) + kc - 1) / kc;
    }

    /// <summary>
    /// Packs K block <paramref name="block"/> of B (n ≤ NC columns) into its place in a whole packed B, so
    /// several tasks that share B (row tiles of one output) pack it once instead of once each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PackBBlock<TB>(TB b, int n, int k, GemmTier tier, int block, float* packed) where TB : struct, IPackSource
    {
        var blk = GemmBlocking.For(tier);
        int kc = KcFor(k, blk.KC), pc = block * kc;
        if (pc >= k) return;
        b.PackB(pc, 0, Math.Min(kc, k - pc), n, blk.NR, packed + (long)pc * RoundUp(n, blk.NR));
    }

    static int KcFor(int k, int kcMax)
    {
        int kBlocks = (k + kcMax - 1) / kcMax;
        return (k + kBlocks - 1) / kBlocks;
    }

    /// <summary>The serial driver with B already packed whole by <see cref="PackBBlock{TB}"/> (n ≤ NC).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void MultiplyPacked(int m, int n, int k, MatrixView a, float* packedB, float* c, nint ldc,
        bool accumulate, GemmTier tier, WorkspaceSet ws) =>
        Multiply(m, n, k, a, default(ViewSource), c, ldc, accumulate, tier, ws, packedB);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Multiply<TB>(int m, int n, int k, MatrixView a, TB b, float* c, nint ldc,
        bool accumulate, GemmTier tier, WorkspaceSet ws, float* prepackedB) where TB : struct, IPackSource
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            // An empty sum: C = 0, or C unchanged when accumulating.
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
            return;
        }
        var blk = GemmBlocking.For(tier, m);
        // Equal-depth K blocks (576 = 2 × 288, not 256 + 256 + 64): a thin last block would pay a
        // full load and store of C for little arithmetic.
        blk = blk with { KC = KcFor(k, blk.KC) };
        if (prepackedB != null && n > blk.NC)
            throw new InvalidOperationException($"a prepacked B holds at most NC = {blk.NC} columns, got {n}.");
        int mr = blk.MR, nr = blk.NR;
        int kcMax = Math.Min(blk.KC, k);
        int ncMax = Math.Min(blk.NC, RoundUp(n, nr));
        int mcMax = Math.Min(blk.MC, RoundUp(m, mr));
        float* packB = prepackedB != null ? null : ws.Get(WorkspaceSlot.PackB, (long)kcMax * RoundUp(ncMax, nr));
        float* packA = ws.Get(WorkspaceSlot.PackA, (long)kcMax * RoundUp(mcMax, mr));
        var kernel = KernelFor(tier, mr);
        var direct = DirectKernelFor(tier, mr);
        // A row-major A (the weights in forward, dy in backward-filter) is read in place; only a
        // partial last panel of rows is packed (zero-padded) so the kernels never read past row m.
        // Packing pays for itself when A is reused across many columns; below that, reading A in place wins.
        bool inPlaceA = a.ColStride == 1 && n <= InPlaceAMaxColumns;
        float* edge = stackalloc float[12 * 32];

        for (int jc = 0; jc < n; jc += blk.NC)
        {
            int nc = Math.Min(blk.NC, n - jc);
            for (int pc = 0; pc < k; pc += blk.KC)
            {
                int kc = Math.Min(blk.KC, k - pc);
                bool add = accumulate || pc > 0;
                float* bBlock = packB;
                if (prepackedB != null) bBlock = prepackedB + (long)pc * RoundUp(n, nr);
                else b.PackB(pc, jc, kc, nc, nr, packB);
                for (int ic = 0; ic < m; ic += blk.MC)
                {
                    int mc = Math.Min(blk.MC, m - ic);
                    int fullRows = inPlaceA ? mc / mr * mr : 0;
                    if (fullRows < mc)
                        GemmPacking.PackA(a.Offset(ic + fullRows, pc), mc - fullRows, kc, mr, packA + (nint)fullRows * kc);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        float* bp = bBlock + (nint)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            float* ct = c + (ic + ir) * ldc + jc + jr;
                            bool full = rows == mr && cols == nr;
                            float* target = full ? ct : edge;
                            nint ldt = full ? ldc : nr;
                            bool addT = full && add;
                            if (ir < fullRows)
                                direct(kc, a.At(ic + ir, pc), a.RowStride, bp, target, ldt, addT);
                            else
                                kernel(kc, packA + (nint)ir * kc, bp, target, ldt, addT);
                            if (!full)
                            {
                                // Partial tile: computed aside in full, only the valid part is kept.
                                for (int i = 0; i < rows; i++)
                                {
                                    float* dst = ct + i * ldc;
                                    float* src = edge + i * nr;
                                    if (add) for (int j = 0; j < cols; j++) dst[j] += src[j];
                                    else for (int j = 0; j < cols; j++) dst[j] = src[j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static delegate*<nint, float*, nint, float*, float*, nint, bool, void> DirectKernelFor(GemmTier tier, int mr) => tier switch
    {
        GemmTier.Vector512 => mr == 8 ? &MicroKernels.Vector512_8x32_Direct : &MicroKernels.Vector512_12x32_Direct,
        GemmTier.Vector256 => &MicroKernels.Vector256_6x16_Direct,
        GemmTier.Vector128 => &MicroKernels.Vector128_6x8_Direct,
        _ => &MicroKernels.Scalar_4x4_Direct,
    };

    /// <summary>Widest C for which the driver reads a row-major A in place instead of packing it.</summary>
    internal const int InPlaceAMaxColumns = 384;

    static delegate*<nint, float*, float*, float*, nint, bool, void> KernelFor(GemmTier tier, int mr) => tier switch
    {
        GemmTier.Vector512 => mr == 8 ? &MicroKernels.Vector512_8x32 : &MicroKernels.Vector512_12x32,
        GemmTier.Vector256 => &MicroKernels.Vector256_6x16,
        GemmTier.Vector128 => &MicroKernels.Vector128_6x8,
        _ => &MicroKernels.Scalar_4x4,
    };

    /// <summary>Packing buffer floats one serial GEMM of this size needs (for workspace reporting).</summary>
    internal static long PackFloats(int m, int n, int k, GemmTier tier)
    {
        var blk = GemmBlocking.For(tier);
        long kc = Math.Min(blk.KC, Math.Max(k, 1));
        long blocked = kc * RoundUp(Math.Min(blk.NC, RoundUp(n, blk.NR)), blk.NR) + kc * RoundUp(Math.Min(blk.MC, RoundUp(m, blk.MR)), blk.MR);
        if (m > SmallRowsMaxRows) return blocked;
        if (SmallRowsGemm.Supported(tier)) return Math.Max(blocked, SmallRowsGemm.PanelFloats(k) + SmallRowsGemm.EdgeFloats(k));
        if (SmallRowsGemm256.Supported(tier)) return Math.Max(blocked, SmallRowsGemm256.PanelFloats(m, k) + SmallRowsGemm256.EdgeFloats(k));
        return blocked;
    }

    static int RoundUp(int x, int to) => (x + to - 1) / to * to;
}
