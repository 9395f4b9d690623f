using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu;

/// <summary>
/// How a convolution's GEMMs are cut into independent tasks: tiles of columns (output positions) and
/// rows (channels) per (image, group), sized so a task's column matrix stays in L2 and so there are
/// enough tasks — in a multiple of the thread count when few — to keep every thread busy to the end.
/// </summary>
internal readonly record struct ConvTiling(int ColTile, int ColTiles, int RowTile, int RowTiles)
{
    /// <summary>Floats of column matrix one task builds at most (1 MiB: the L2 of one core).</summary>
    public const int ColumnBudgetFloats = 256 * 1024;

    /// <summary>
    /// Tasks per thread to aim for: the runtime hands tasks out dynamically, so a thread that is
    /// descheduled costs a fraction of a task instead of half the run. Two, not more: every task
    /// claimed moves the job's cache line between cores and every split adds packing and edge work
    /// (ResNet-50 batch 1 on two threads: 4 per thread 0.77x ORT, 2 per thread 0.81x, 1 per thread 0.79x).
    /// </summary>
    public const int TasksPerThread = 2;

    /// <summary>Narrowest column tile and fewest rows a split may produce (keeps microkernel tiles full).</summary>
    const int MinColumns = 128, MinRows = 24;

    public int Tasks(int outer) => outer * ColTiles * RowTiles;

    /// <summary>
    /// Task <paramref name="t"/>'s tile: image n and group g (tasks are image-, then group-, then column-,
    /// then row-major), columns [J0, J1) of <paramref name="cols"/> and rows [I0, I1) of <paramref name="rows"/>.
    /// </summary>
    public Tile TileOf(int t, int groups, int rows, int cols)
    {
        int rt = t % RowTiles; t /= RowTiles;
        int ct = t % ColTiles; t /= ColTiles;
        int j0 = ct * ColTile, i0 = rt * RowTile;
        return new Tile(t / groups, t % groups, j0, Math.Min(cols, j0 + ColTile), i0, Math.Min(rows, i0 + RowTile));
    }

    /// <summary>One task's tile of an (image, group) GEMM: rows [I0, I1) and columns [J0, J1).</summary>
    public readonly record struct Tile(int N, int G, int J0, int J1, int I0, int I1);

    /// <summary>
    /// Tiles for <paramref name="outer"/> independent (image, group) GEMMs of <paramref name="rows"/> × <paramref name="cols"/>
    /// outputs whose B operand has <paramref name="depth"/> rows per column (the column matrix height).
    /// </summary>
    public static ConvTiling For(int outer, int rows, int cols, long depth, int threads, GemmTier tier)
    {
        var blk = GemmBlocking.For(tier);
        int colTile = cols;
        long limit = Math.Max(blk.NR, ColumnBudgetFloats / Math.Max(depth, 1));
        if (colTile > limit) colTile = (int)Math.Max(blk.NR, limit / blk.NR * blk.NR);
        int colTiles = Ceil(cols, colTile);
        // Equal tiles rather than full ones and a short last one, which would leave a thread idle at the end.
        colTile = (int)RoundUp(Ceil(cols, colTiles), blk.NR);
        colTiles = Ceil(cols, colTile);
        long want = (long)TasksPerThread * threads;
        if (threads > 1 && (long)outer * colTiles < want)
        {
            // Too few tasks to balance dynamically: cut columns finer, down to MinColumns per tile.
            int wanted = (int)Math.Min(Ceil(want, outer), Math.Max(1, cols / MinColumns));
            if (wanted > colTiles)
            {
                colTile = (int)RoundUp(Ceil(cols, wanted), blk.NR);
                colTiles = Ceil(cols, colTile);
            }
        }
        int rowTile = rows, rowTiles = 1;
        long tasks = (long)outer * colTiles;
        if (threads > 1 && tasks < want && rows >= 2 * MinRows)
        {
            // Still too few (small outputs, many channels): split the output channels too.
            int split = (int)Math.Min(Ceil(want, tasks), rows / MinRows);
            rowTile = (int)RoundUp(Ceil(rows, split), blk.MR);
            rowTiles = Ceil(rows, rowTile);
        }
        return new ConvTiling(colTile, colTiles, rowTile, rowTiles);
    }

    /// <summary>
    /// Channel tiles for ops whose tasks own whole column matrices of a channel range (col2im, backward
    /// filter): channels per tile so that tile × rowsPerChannel × cols fits the budget, at least one.
    /// </summary>
    public static (int Tile, int Tiles) Channels(int outer, int channels, long floatsPerChannel, int threads)
    {
        int tile = (int)Math.Clamp(ColumnBudgetFloats / Math.Max(floatsPerChannel, 1), 1, channels);
        int tiles = Ceil(channels, tile);
        long want = (long)TasksPerThread * threads;
        if (threads > 1 && (long)outer * tiles < want)
        {
            int wanted = (int)Math.Min(channels, Ceil(want, outer));
            int t = Ceil(channels, wanted);
            if (Ceil(channels, t) > tiles) { tile = t; tiles = Ceil(channels, t); }
        }
        return (tile, tiles);
    }

    static int Ceil(int a, int b) => (a + b - 1) / b;
    static int Ceil(long a, long b) => (int)((a + b - 1) / b);
    static long RoundUp(long a, long to) => (a + to - 1) / to * to;
}
