using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// Forward convolution with unit strides as GEMM over zero-padded input planes ("shifted-gemm").
/// Once every input plane is padded, output position (d, h, w) read by tap (td, th, tw) sits at a
/// constant offset from position (d, h, w) of the padded plane, so each column-matrix row is the
/// padded plane itself, shifted: B is packed with plain contiguous copies, no im2col bounds logic.
/// The GEMM computes outputs over the padded width (a few extra columns per row), and the copy into
/// y keeps the valid ones and adds the bias on the way.
/// </summary>
internal static unsafe class ShiftedGemm
{
    /// <summary>Padded extents and the GEMM's column count (positions in padded-width output space).</summary>
    internal readonly record struct Layout(int Dp, int Hp, int Wp, long Plane, int Cols)
    {
        public static Layout Of(in Geometry g)
        {
            int dp = g.OutD + (g.KD - 1) * g.DD, hp = g.OutH + (g.KH - 1) * g.DH, wp = g.OutW + (g.KW - 1) * g.DW;
            long cols = ((long)(g.OutD - 1) * hp + g.OutH - 1) * wp + g.OutW;
            return new Layout(dp, hp, wp, (long)dp * hp * wp, checked((int)cols));
        }
    }

    /// <summary>True for the problems this path takes: forward, unit strides in every dimension.</summary>
    public static bool Applies(Geometry g) => g.SD == 1 && g.SH == 1 && g.SW == 1;

    /// <summary>Floats of the shared padded input (every image and channel).</summary>
    public static long SharedFloats(in Geometry g, int n, int c) => Layout.Of(g).Plane * n * c;

    public static ConvTiling Tiling(CpuConvContext ctx) =>
        ConvTiling.For(ctx.N * ctx.Groups, ctx.Kg, Layout.Of(ctx.G).Cols, ctx.Rows, ctx.Threads, ctx.Tier);

    public static void Forward(CpuConvContext ctx)
    {
        var g = ctx.G;
        var l = Layout.Of(g);
        int kvol = ctx.Kvol;
        float* padded = ctx.Shared.Get(WorkspaceSlot.Columns, l.Plane * ctx.N * ctx.C);
        int* taps = (int*)ctx.Shared.Get(WorkspaceSlot.Tables, kvol);
        int t0 = 0;
        for (int td = 0; td < g.KD; td++)
        for (int th = 0; th < g.KH; th++)
        for (int tw = 0; tw < g.KW; tw++)
            taps[t0++] = checked((int)(((long)td * g.DD * l.Hp + (long)th * g.DH) * l.Wp + tw * g.DW));

        int planes = ctx.N * ctx.C;
        int padTasks = Math.Min(planes, ctx.Threads * ConvTiling.TasksPerThread);
        ctx.Workers.For(padTasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, _) =>
        {
            int p0 = (int)((long)planes * t / padTasks), p1 = (int)((long)planes * (t + 1) / padTasks);
            for (int p = p0; p < p1; p++)
                Pad(ctx.G, l, ctx.X + p * ctx.InPlane, padded + p * l.Plane);
        });

        int outer = ctx.N * ctx.Groups;
        var tiling = Tiling(ctx);
        ctx.Workers.For(tiling.Tasks(outer), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, ws) =>
        {
            int rt = t % tiling.RowTiles; t /= tiling.RowTiles;
            int ct = t % tiling.ColTiles; t /= tiling.ColTiles;
            int grp = t % ctx.Groups, n = t / ctx.Groups;
            int j0 = ct * tiling.ColTile, j1 = Math.Min(l.Cols, j0 + tiling.ColTile);
            int i0 = rt * tiling.RowTile, i1 = Math.Min(ctx.Kg, i0 + tiling.RowTile);
            int k0 = grp * ctx.Kg + i0, rows = i1 - i0, cols = j1 - j0;
            float* tmp = ws.Get(WorkspaceSlot.Columns, (long)rows * cols);
            var a = MatrixView.RowMajor(ctx.W + (nint)k0 * ctx.Rows, ctx.Rows);
            var b = new ShiftedSource(padded + ((nint)n * ctx.C + grp * ctx.Cg) * l.Plane, (nint)l.Plane, taps, kvol, j0);
            Sgemm.Multiply(rows, cols, ctx.Rows, a, b, tmp, cols, false, ctx.Tier, ws);
            for (int i = 0; i < rows; i++)
                Keep(ctx.G, l, tmp + (nint)i * cols, j0, j1, ctx.YPlane(n, k0 + i), ctx.Bias == null ? 0f : ctx.Bias[k0 + i]);
        });
    }

    /// <summary>Writes one input plane into its zero-padded plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Pad(in Geometry g, in Layout l, float* x, float* dst)
    {
        new Span<float>(dst, checked((int)l.Plane)).Clear();
        int count = Math.Min(g.InW, l.Wp - g.PW);
        if (count <= 0) return;
        for (int id = 0; id < g.InD && id + g.PD < l.Dp; id++)
        for (int ih = 0; ih < g.InH && ih + g.PH < l.Hp; ih++)
            Buffer.MemoryCopy(x + ((nint)id * g.InH + ih) * g.InW, dst + (((nint)(id + g.PD) * l.Hp + ih + g.PH) * l.Wp + g.PW),
                count * sizeof(float), count * sizeof(float));
    }

    /// <summary>Copies the valid outputs among padded-space columns [j0, j1) of one output channel into its y plane, adding the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Keep(in Geometry g, in Layout l, float* src, int j0, int j1, float* y, float bias)
    {
        int slice = l.Hp * l.Wp;
        int od = j0 / slice, rest = j0 - od * slice, oh = rest / l.Wp, ow = rest - oh * l.Wp;
        for (int o = j0; o < j1;)
        {
            int run = Math.Min(l.Wp - ow, j1 - o);
            if (oh < g.OutH && ow < g.OutW)
            {
                int valid = Math.Min(run, g.OutW - ow);
                VectorOps.CopyAddScalar(src + (o - j0), y + ((nint)od * g.OutH + oh) * g.OutW + ow, bias, valid);
            }
            o += run;
            ow = 0;
            if (++oh == l.Hp) { oh = 0; od++; }
        }
    }
}
