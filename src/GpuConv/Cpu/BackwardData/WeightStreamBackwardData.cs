using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.BackwardData;

/// <summary>
/// Backward-data for small dy planes, where the weights outweigh the pixels (DCGAN's 4 × 4 and 8 × 8
/// up-convolutions: 8 MB of weights for 16 dy pixels): one GEMM per image, group and block of dx's
/// channels with dy's pixels as the rows, colᵀ[q, (c, t)] = Σ_k dy[n, g·Kg + k, q] · W[g·Kg + k, c, t]
/// (A = dyᵀ, a few row panels; B = W as it is, so W is streamed once, and kept packed for constant
/// weights), then col2im of the block's channels straight from colᵀ (a tap row of the kernel is a
/// contiguous run of it). All in one fork-join; tasks own disjoint channels of dx (no races, deterministic).
/// </summary>
internal static unsafe class WeightStreamBackwardData
{
    /// <summary>Most dy pixels per image (GEMM rows): past this the pixels outweigh the weights and the phases' forwards win.</summary>
    public const int MaxPixels = 256;
    /// <summary>Most columns (channels × taps) per task: one packed B of the GEMM (NC).</summary>
    const int MaxColumns = 2048;
    /// <summary>Floats of a task's colᵀ tile, about (kept in L2 for the col2im).</summary>
    const int TileFloats = 64 * 1024;

    public static bool Applies(ConvProblem p) => p.Op == ConvOp.BackwardData && p.YShape.SpatialSize <= MaxPixels;

    /// <summary>dx channels per task (one block), the same for every group.</summary>
    internal static int BlockChannels(ConvProblem p, int threads)
    {
        int cg = p.CPerGroup, kvol = (int)p.KernelVolume, rows = (int)p.YShape.SpatialSize, outer = p.N * p.Groups;
        int cap = Math.Max(1, Math.Min(MaxColumns / kvol, TileFloats / (rows * kvol)));
        // Two tasks per thread: DCGAN's 4 × 4 and 8 × 8 layers, 2 threads, ran 0.175 ms with 4 tasks, 0.19 with 8, 0.20 with 32.
        int want = 2 * threads, blocks = Math.Max((cg + cap - 1) / cap, Math.Min(cg, (want + outer - 1) / outer));
        int block = (cg + blocks - 1) / blocks;
        // Whole 32-column panels of B where that stays within the cap.
        int unit = 32 / (int)Gcd(32, kvol), rounded = (block + unit - 1) / unit * unit;
        return rounded <= cap && rounded < cg ? rounded : block;
    }

    static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    static int Blocks(ConvProblem p, int block) => (p.CPerGroup + block - 1) / block;

    /// <summary>Floats of W packed for every (group, block): each block's columns as the GEMM's whole packed B.</summary>
    public static long PackedFloats(ConvProblem p, int threads, GemmTier tier)
    {
        int block = BlockChannels(p, threads), blocks = Blocks(p, block), kvol = (int)p.KernelVolume;
        long floats = 0;
        for (int b = 0; b < blocks; b++)
            floats += Sgemm.PackedBFloats(Math.Min(block, p.CPerGroup - b * block) * kvol, p.KPerGroup, tier);
        return floats * p.Groups;
    }

    /// <summary>Packs W for <see cref="Run"/> (constant weights: once, then cached), blocks in parallel.</summary>
    public static void PackWeights(CpuWorkers workers, ConvProblem p, float* w, float* packed, GemmTier tier)
    {
        int block = BlockChannels(p, workers.Threads), blocks = Blocks(p, block), kvol = (int)p.KernelVolume, kg = p.KPerGroup;
        int rows = p.CPerGroup * kvol, kBlocks = Sgemm.KBlocks(kg, tier);
        workers.For(p.Groups * blocks, new PackTasks(p, w, packed, tier, block, blocks, kvol, kg, rows, kBlocks));
    }

    /// <summary>One block of one group's W, packed as the GEMM's B.</summary>
    readonly struct PackTasks(ConvProblem p, float* w, float* packed, GemmTier tier, int block, int blocks, int kvol, int kg, int rows, int kBlocks) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int g = t / blocks, b = t % blocks;
            var source = new ViewSource(MatrixView.RowMajor(w + (nint)g * kg * rows + (nint)b * block * kvol, rows));
            int cols = Math.Min(block, p.CPerGroup - b * block) * kvol;
            float* dst = packed + Offset(p, block, blocks, g, b, tier);
            for (int k = 0; k < kBlocks; k++) Sgemm.PackBBlock(source, cols, kg, tier, k, dst);
        }
    }

    /// <summary>Where block b of group g starts in the packed W (all blocks but the last are the same size).</summary>
    static long Offset(ConvProblem p, int block, int blocks, int g, int b, GemmTier tier)
    {
        int kvol = (int)p.KernelVolume;
        long whole = Sgemm.PackedBFloats(block * kvol, p.KPerGroup, tier);
        long perGroup = whole * (blocks - 1) + Sgemm.PackedBFloats((p.CPerGroup - (blocks - 1) * block) * kvol, p.KPerGroup, tier);
        return g * perGroup + b * whole;
    }

    /// <summary>Per-task scratch: the colᵀ tile and the GEMM's packing buffers.</summary>
    internal static long TaskFloats(ConvProblem p, int threads, GemmTier tier)
    {
        int block = BlockChannels(p, threads), kvol = (int)p.KernelVolume, rows = (int)p.YShape.SpatialSize;
        return (long)rows * block * kvol + Sgemm.PackFloats(rows, block * kvol, p.KPerGroup, tier);
    }

    /// <summary>Runs the problem of <paramref name="ctx"/>; <paramref name="packed"/> is W packed by <see cref="PackWeights"/>, or null (each task packs its block inside its GEMM).</summary>
    public static void Run(CpuConvContext ctx, float* packed)
    {
        var p = ctx.Problem;
        int block = BlockChannels(p, ctx.Threads), blocks = Blocks(p, block);
        int rows = ctx.Cols, kg = ctx.Kg, kvol = ctx.Kvol, cg = ctx.Cg;
        var tier = ctx.Tier;
        ctx.Workers.For(ctx.N * ctx.Groups * blocks, new BlockTasks(ctx, p, packed, tier, block, blocks, rows, kg, kvol, cg));
    }

    /// <summary>(image, group, block of dx channels): dy's pixels times the block's W, then col2im into dx.</summary>
    readonly struct BlockTasks(CpuConvContext ctx, ConvProblem p, float* packed, GemmTier tier, int block, int blocks, int rows, int kg, int kvol, int cg) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet ws)
        {
            int b = task % blocks, o = task / blocks, g = o % ctx.Groups, n = o / ctx.Groups;
            int c0 = b * block, cn = Math.Min(block, cg - c0), cols = cn * kvol;
            float* tile = ws.Get(WorkspaceSlot.Columns, (long)rows * cols);
            // A(q, k) = dy[n, g·Kg + k, q]: dy's pixels as rows.
            var a = MatrixView.Transposed(ctx.YPlane(n, g * kg), ctx.OutPlane);
            if (packed != null)
                Sgemm.MultiplyPacked(rows, cols, kg, a, packed + Offset(p, block, blocks, g, b, tier), tile, cols, false, tier, ws);
            else
                Sgemm.Multiply(rows, cols, kg, a, MatrixView.RowMajor(ctx.W + (nint)g * kg * ctx.Rows + (nint)c0 * kvol, ctx.Rows), tile, cols, false, tier, ws);
            int cAbs = g * cg + c0;
            Col2ImRows(ctx.G, tile, cols, cn, ctx.XPlane(n, cAbs), ctx.InPlane, ctx.Bias == null ? null : ctx.Bias + cAbs);
        }
    }

    /// <summary>
    /// dx planes of <paramref name="channels"/> channels = bias + the sum of colᵀ's entries into them: entry
    /// (q, c·taps + t) goes to the input position of output pixel q under tap t. Per pixel and tap row
    /// the kernel's width is a contiguous run of colᵀ (four floats added at once for the 4-wide kernels).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Col2ImRows(in ConvGeometry g, float* tile, int ld, int channels, float* dx, nint plane, float* bias)
    {
        int kvol = g.KD * g.KH * g.KW;
        for (int c = 0; c < channels; c++)
        {
            float* xc = dx + c * plane;
            new Span<float>(xc, checked((int)plane)).Fill(bias == null ? 0f : bias[c]);
            float* s = tile + c * kvol;
            for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            for (int ow = 0; ow < g.OutW; ow++, s += ld)
            {
                int x0 = ow * g.SW - g.PW;
                bool inside = g.DW == 1 && x0 >= 0 && x0 + g.KW <= g.InW;
                for (int td = 0; td < g.KD; td++)
                {
                    int id = od * g.SD - g.PD + td * g.DD;
                    if ((uint)id >= (uint)g.InD) continue;
                    for (int th = 0; th < g.KH; th++)
                    {
                        int ih = oh * g.SH - g.PH + th * g.DH;
                        if ((uint)ih >= (uint)g.InH) continue;
                        float* row = xc + ((nint)id * g.InH + ih) * g.InW;
                        float* st = s + (td * g.KH + th) * g.KW;
                        if (inside && g.KW == 4)
                        {
                            (Vector128.Load(row + x0) + Vector128.Load(st)).Store(row + x0);
                            continue;
                        }
                        for (int tw = 0; tw < g.KW; tw++)
                        {
                            int x = x0 + tw * g.DW;
                            if ((uint)x < (uint)g.InW) row[x] += st[tw];
                        }
                    }
                }
            }
        }
    }
}
