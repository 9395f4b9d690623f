using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.BackwardData;

/// <summary>
/// Backward-data (transposed convolution) where every dx position takes exactly one tap: per dimension
/// stride == kernel without dilation, or a dy extent of 1 (UNet's and ERFNet's 2x2 s2 up-convolutions,
/// DCGAN's 1x1 → 4x4 first layer). Then dx is ONE GEMM per image and group,
/// col[(c, t), q] = Σ_k W[g·Kg + k, c, t] · dy[n, g·Kg + k, q] (A = Wᵀ read from W as it is, B = dy),
/// and a pixel shuffle, dx[n, g·Cg + c, q·r + t − padBegin] = col[(c, t), q] + bias (r the kernel
/// extent; positions past the last q — output padding — get the bias). No phases, no dx-sized
/// temporary: each task packs a block of dy's columns once, computes the col tile of a few channels
/// into a cache-sized buffer and shuffles it into dx at once, so dx is written once. A dy of one
/// position (col is a vector) runs a vectorized W-row sum instead of a GEMM padded to 32 columns.
/// </summary>
internal static unsafe class GemmPixelShuffle
{
    /// <summary>Most columns of dy per task: up to this the GEMM reads A (Wᵀ, transposed once) in place instead of packing it per task.</summary>
    const int MaxColumns = Sgemm.InPlaceAMaxColumns;
    /// <summary>
    /// Tasks wanted per thread: many, as the workers take them dynamically (UNet's up-convolutions, 2 threads:
    /// 8 per thread 3–8 % faster than 4, 16 no better).
    /// </summary>
    const int TasksPerThread = 8;
    /// <summary>Fewest columns per task when the work is split for more tasks.</summary>
    const int MinColumns = 128;
    /// <summary>Floats of a task's col tile: a few hundred KiB, so it is shuffled out of L2.</summary>
    const int TileFloats = 48 * 1024;
    /// <summary>Fewest col rows per task of the one-column (vector) case.</summary>
    const int MinVectorRows = 256;

    /// <summary>True where every dx position has exactly one tap (see the class summary).</summary>
    public static bool Applies(ConvProblem p)
    {
        if (p.Op != ConvOp.BackwardData || p.KernelVolume <= 1) return false;
        var g = ConvGeometry.Of(p);
        return Dim(g.KD, g.SD, g.DD, g.PD, g.OutD) && Dim(g.KH, g.SH, g.DH, g.PH, g.OutH) && Dim(g.KW, g.SW, g.DW, g.PW, g.OutW);

        static bool Dim(int k, int s, int dil, int pad, int outExtent) => pad >= 0 && (k == 1 || dil == 1) && (s == k || outExtent == 1);
    }

    /// <summary>How the work is cut: per image and group, column blocks × channel splits; a task's channels go in tiles of <see cref="CTile"/>.</summary>
    internal readonly record struct Tiling(int JBlocks, int JTile, int CSplits, int CPerSplit, int CTile)
    {
        public int Tasks(int outer) => outer * JBlocks * CSplits;
    }

    internal static Tiling TilingOf(ConvProblem p, int threads)
    {
        int outer = p.N * p.Groups, cg = p.CPerGroup, kvol = (int)p.KernelVolume;
        long cols = p.YShape.SpatialSize;
        int wo = (int)p.YShape.Dims[^1];
        int want = TasksPerThread * threads;
        int jBlocks = 1, jTile = 1;
        if (cols > 1)
        {
            // Tasks as near square as the count allows (col rows × dy columns): a task packs its A (W's rows) once
            // per channel tile and its B (dy's columns) once, and a thin task would pack one of them for little work.
            long perOuter = (want + outer - 1) / outer;
            long square = (long)Math.Round(Math.Sqrt((double)perOuter * cols / ((long)cg * kvol)));
            long blocks = Math.Max((cols + MaxColumns - 1) / MaxColumns, Math.Clamp(square, 1, Math.Min(perOuter, (cols + MinColumns - 1) / MinColumns)));
            jTile = (int)((cols + blocks - 1) / blocks);
            // Whole rows where a block holds several (the shuffle then writes whole dx rows).
            if (jTile > wo && (jTile + wo - 1) / wo * wo <= MaxColumns) jTile = (jTile + wo - 1) / wo * wo;
            jBlocks = (int)((cols + jTile - 1) / jTile);
        }
        int maxSplits = cols > 1 ? cg : Math.Max(1, cg * kvol / MinVectorRows);
        int splits = Math.Clamp((want + outer * jBlocks - 1) / (outer * jBlocks), 1, Math.Max(1, maxSplits));
        // Few tasks in all: a count the threads divide (9 tasks on 2 threads left one idle a ninth of the run).
        int maxS = Math.Max(1, maxSplits);
        while ((long)outer * jBlocks * splits < 2L * want && (long)outer * jBlocks * splits % threads != 0 && splits < maxS) splits++;
        int perSplit = (cg + splits - 1) / splits;
        splits = (cg + perSplit - 1) / perSplit;
        int cTile = perSplit;
        if (cols > 1)
        {
            // Tiles of about equal size (a ragged last tile of a few channels would pass over the packed dy for
            // little work), rounded up to whole 24-row blocks where that stays near the cap (the GEMM's 12- and
            // 8-row register tiles then have no ragged edge).
            int cap = Math.Clamp(TileFloats / (jTile * kvol), 1, perSplit);
            int tiles = (perSplit + cap - 1) / cap;
            cTile = (perSplit + tiles - 1) / tiles;
            int unit = 24 / (int)Gcd(24, kvol), rounded = (cTile + unit - 1) / unit * unit;
            if (tiles > 1 && rounded * 4 <= cap * 5) cTile = rounded;
        }
        return new Tiling(jBlocks, jTile, splits, perSplit, cTile);
    }

    static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>True when the run is a GEMM on Wᵀ (more than one dy position): the caller passes W transposed (<see cref="TransposeWeights"/>).</summary>
    public static bool TakesTransposed(ConvProblem p) => p.YShape.SpatialSize > 1;

    /// <summary>Floats of Wᵀ: W's.</summary>
    public static long TransposedFloats(ConvProblem p) => p.WShape.ElementCount;

    /// <summary>Columns of W per task of <see cref="TransposeWeights"/>.</summary>
    const int TransposeBlock = 256;

    /// <summary>
    /// wt[g][i][k] = W[g·Kg + k][i] (i over C/g × kernel volume): per group the [Kg, C/g·taps] matrix W is
    /// transposed so the GEMM reads A's rows in place (read as Wᵀ straight from W, each k of a 12-row
    /// panel is a different cache line and page, and every task packs it again). Tasks over 256-column blocks.
    /// </summary>
    public static void TransposeWeights(CpuWorkers workers, ConvProblem p, float* w, float* wt)
    {
        int groups = p.Groups, kg = p.KPerGroup, rows = p.CPerGroup * (int)p.KernelVolume;
        int blocks = (rows + TransposeBlock - 1) / TransposeBlock;
        workers.For(groups * blocks, new TransposeTasks(w, wt, blocks, rows, kg));
    }

    /// <summary>One block of 256 columns of one group's W, transposed.</summary>
    readonly struct TransposeTasks(float* w, float* wt, int blocks, int rows, int kg) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int g = t / blocks, i0 = t % blocks * TransposeBlock, n = Math.Min(TransposeBlock, rows - i0);
            BlockTranspose.ToPlanes(w + (nint)g * kg * rows + i0, rows, kg, n, wt + ((nint)g * rows + i0) * kg, kg, null);
        }
    }

    /// <summary>Per-task scratch: the col tile, the packed dy block and the GEMM's packed A.</summary>
    internal static long TaskFloats(ConvProblem p, int threads, GemmTier tier)
    {
        var t = TilingOf(p, threads);
        long tile = (long)t.CTile * p.KernelVolume * t.JTile;
        if (p.YShape.SpatialSize == 1) return tile;
        return tile + Sgemm.PackedBFloats(t.JTile, p.KPerGroup, tier) + Sgemm.PackFloats(t.CTile * (int)p.KernelVolume, t.JTile, p.KPerGroup, tier);
    }

    /// <summary>Runs the problem of <paramref name="ctx"/>; <paramref name="wt"/> is W transposed (<see cref="TransposeWeights"/>) where <see cref="TakesTransposed"/>.</summary>
    public static void Run(CpuConvContext ctx, float* wt)
    {
        var p = ctx.Problem;
        var t = TilingOf(p, ctx.Threads);
        int outer = ctx.N * ctx.Groups;
        int cols = ctx.Cols, kg = ctx.Kg, kvol = ctx.Kvol, cg = ctx.Cg;
        var tier = ctx.Tier;
        ctx.Workers.For(t.Tasks(outer), new ShuffleTasks(ctx, t, wt, cols, kg, kvol, cg, tier));
    }

    /// <summary>(image, group, column block, channel split): the GEMM of its dy columns, then the pixel shuffle into dx.</summary>
    readonly struct ShuffleTasks(CpuConvContext ctx, Tiling t, float* wt, int cols, int kg, int kvol, int cg, GemmTier tier) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet ws)
        {
            int cs = task % t.CSplits; task /= t.CSplits;
            int jb = task % t.JBlocks; task /= t.JBlocks;
            int g = task % ctx.Groups, n = task / ctx.Groups;
            int j0 = jb * t.JTile, j1 = Math.Min(cols, j0 + t.JTile), width = j1 - j0;
            int cBegin = cs * t.CPerSplit, cEnd = Math.Min(cg, cBegin + t.CPerSplit);
            float* dy = ctx.YPlane(n, g * kg);
            float* wGroup = ctx.W + (nint)g * kg * ctx.Rows;
            float* tile = ws.Get(WorkspaceSlot.Columns, (long)t.CTile * kvol * width);
            float* packedB = null;
            if (cols > 1)
            {
                // dy's columns [j0, j1) packed once for every channel tile of the task.
                packedB = ws.Get(WorkspaceSlot.PackB, Sgemm.PackedBFloats(width, kg, tier));
                var source = new ViewSource(MatrixView.RowMajor(dy + j0, ctx.OutPlane));
                for (int b = 0, blocks = Sgemm.KBlocks(kg, tier); b < blocks; b++)
                    Sgemm.PackBBlock(source, width, kg, tier, b, packedB);
            }
            for (int c0 = cBegin; c0 < cEnd; c0 += t.CTile)
            {
                int cn = Math.Min(t.CTile, cEnd - c0), rows = cn * kvol;
                if (cols > 1)
                {
                    var a = MatrixView.RowMajor(wt + ((nint)g * ctx.Rows + (nint)c0 * kvol) * kg, kg);
                    Sgemm.MultiplyPacked(rows, width, kg, a, packedB, tile, width, false, tier, ws);
                }
                else SumRows(wGroup + (nint)c0 * kvol, ctx.Rows, dy, ctx.OutPlane, kg, rows, tile, tier);
                int cAbs = g * cg + c0;
                Shuffle(ctx.G, tile, width, cn, j0, j1, ctx.XPlane(n, cAbs), ctx.InPlane, ctx.Bias == null ? null : ctx.Bias + cAbs, j1 == cols);
            }
        }
    }

    /// <summary>
    /// col[i] = Σ_k W[k·ld + i] · dy[k·dyStride] for i &lt; <paramref name="rows"/>: the one-column GEMM as a sum of
    /// W's rows weighted by dy, 128 (64) outputs held in registers while W's rows stream past.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SumRows(float* w, nint ld, float* dy, nint dyStride, int kg, int rows, float* col, GemmTier tier)
    {
        int i = 0;
        if (tier == GemmTier.Vector512 && Vector512.IsHardwareAccelerated)
        {
            for (; i + 128 <= rows; i += 128)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                float* r = w + i;
                for (int k = 0; k < kg; k++, r += ld)
                {
                    var d = Vector512.Create(dy[k * dyStride]);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Load(r), d, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 16), d, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 32), d, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 48), d, a3);
                    a4 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 64), d, a4);
                    a5 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 80), d, a5);
                    a6 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 96), d, a6);
                    a7 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 112), d, a7);
                }
                a0.Store(col + i); a1.Store(col + i + 16); a2.Store(col + i + 32); a3.Store(col + i + 48);
                a4.Store(col + i + 64); a5.Store(col + i + 80); a6.Store(col + i + 96); a7.Store(col + i + 112);
            }
            for (; i + 16 <= rows; i += 16)
            {
                Vector512<float> acc = default;
                float* r = w + i;
                for (int k = 0; k < kg; k++, r += ld) acc = Vector512.FusedMultiplyAdd(Vector512.Load(r), Vector512.Create(dy[k * dyStride]), acc);
                acc.Store(col + i);
            }
        }
        else if (tier >= GemmTier.Vector256 && Vector256.IsHardwareAccelerated)
        {
            for (; i + 32 <= rows; i += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* r = w + i;
                for (int k = 0; k < kg; k++, r += ld)
                {
                    var d = Vector256.Create(dy[k * dyStride]);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(r), d, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 8), d, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 16), d, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 24), d, a3);
                }
                a0.Store(col + i); a1.Store(col + i + 8); a2.Store(col + i + 16); a3.Store(col + i + 24);
            }
        }
        for (; i < rows; i++)
        {
            float s = 0f;
            for (int k = 0; k < kg; k++) s = MathF.FusedMultiplyAdd(w[k * ld + i], dy[k * dyStride], s);
            col[i] = s;
        }
    }

    /// <summary>
    /// Writes a col tile (rows (c, td, th, tw) of <paramref name="cn"/> channels, dy's columns [j0, j1) at
    /// leading dimension <paramref name="ld"/>) into the dx planes at <paramref name="dx"/>: position
    /// q·r + t − pad, plus the channel's bias. A row segment that ends dy's row also fills the dx row's
    /// uncovered tail; <paramref name="last"/> (the block that ends dy) fills the dx rows no dy row reaches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Shuffle(ConvGeometry g, float* tile, int ld, int cn, int j0, int j1, float* dx, nint inPlane, float* bias, bool last)
    {
        int wo = g.OutW, covered = wo * g.KW - g.PW;
        for (int c = 0; c < cn; c++)
        {
            float b = bias == null ? 0f : bias[c];
            float* plane = dx + c * inPlane;
            for (int j = j0; j < j1;)
            {
                int r = j / wo, qw0 = j - r * wo, qw1 = Math.Min(wo, qw0 + (j1 - j));
                int qd = r / g.OutH, qh = r - qd * g.OutH;
                for (int td = 0; td < g.KD; td++)
                {
                    int id = qd * g.KD + td - g.PD;
                    if ((uint)id >= (uint)g.InD) continue;
                    for (int th = 0; th < g.KH; th++)
                    {
                        int ih = qh * g.KH + th - g.PH;
                        if ((uint)ih >= (uint)g.InH) continue;
                        float* row = plane + ((nint)id * g.InH + ih) * g.InW;
                        float* src = tile + (nint)((c * g.KD + td) * g.KH + th) * g.KW * ld + (j - j0);
                        Row(src, ld, g.KW, g.PW, qw0, qw1, row, g.InW, b);
                        if (qw1 == wo)
                            for (int x = Math.Max(0, covered); x < g.InW; x++) row[x] = b;
                    }
                }
                j += qw1 - qw0;
            }
            if (!last) continue;
            // dx rows past the last dy row (output padding along D or H): bias only.
            for (int id = 0; id < g.InD; id++)
            {
                bool dOut = (id + g.PD) / g.KD >= g.OutD;
                for (int ih = 0; ih < g.InH; ih++)
                    if (dOut || (ih + g.PH) / g.KH >= g.OutH)
                        new Span<float>(plane + ((nint)id * g.InH + ih) * g.InW, g.InW).Fill(b);
            }
        }
    }

    /// <summary>One dx row from its taps' col rows (tap tw at src + tw·ld): x = qw·kw + tw − pad for qw in [qw0, qw1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row(float* src, int ld, int kw, int pad, int qw0, int qw1, float* row, int inW, float b)
    {
        int count = qw1 - qw0;
        if (kw == 2 && pad == 0 && qw1 * 2 <= inW)
        {
            // The usual 2-wide kernel: two col rows interleaved, 32 outputs per step.
            float* s0 = src, s1 = src + ld, dst = row + 2 * qw0;
            int i = 0;
            if (Avx512F.IsSupported)
            {
                var bv = Vector512.Create(b);
                // Lanes 0..7 of the two vectors interleaved (a0 b0 a1 b1 …: index k/2 + 16·(k mod 2)), then lanes 8..15.
                var indices = Vector512<int>.Indices;
                var lowPairs = (indices >>> 1) + ((indices & Vector512<int>.One) << 4);
                var highPairs = lowPairs + Vector512.Create(8);
                for (; i + 16 <= count; i += 16)
                {
                    Vector512<float> even = Vector512.Load(s0 + i), odd = Vector512.Load(s1 + i);
                    (Avx512F.PermuteVar16x32x2(even, lowPairs, odd) + bv).Store(dst + 2 * i);
                    (Avx512F.PermuteVar16x32x2(even, highPairs, odd) + bv).Store(dst + 2 * i + 16);
                }
            }
            for (; i < count; i++)
            {
                dst[2 * i] = s0[i] + b;
                dst[2 * i + 1] = s1[i] + b;
            }
            return;
        }
        if (kw == 1 && qw1 - pad <= inW && qw0 >= pad)
        {
            float* dst = row + qw0 - pad;
            for (int i = 0; i < count; i++) dst[i] = src[i] + b;
            return;
        }
        for (int tw = 0; tw < kw; tw++)
        {
            float* s = src + (nint)tw * ld;
            for (int i = 0; i < count; i++)
            {
                int x = (qw0 + i) * kw + tw - pad;
                if ((uint)x < (uint)inW) row[x] = s[i] + b;
            }
        }
    }

}
