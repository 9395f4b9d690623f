using GpuConv.Conv;

namespace GpuConv.Cpu.Columns;

/// <summary>
/// The column layout shared by every im2col + GEMM path (CPU and the PTX kernels), Caffe's scheme:
/// for one image n and one group g, the column matrix is row-major [rows, cols] with
///   rows = (C/groups) × kD × kH × kW   (channel-major, then kernel taps in d, h, w order)
///   cols = outD × outH × outW
/// so forward is Y[n, g] (K/g × cols) = W[g] (K/g × rows) · col (rows × cols).
/// Padding taps are zero. This scalar version is the readable definition the fast paths and the
/// PTX kernels are tested against.
/// </summary>
internal static class Im2Col
{
    public static long Rows(ConvProblem p) => p.CPerGroup * p.KernelVolume;
    public static long Cols(ConvProblem p) => p.YShape.SpatialSize;

    /// <summary>Fills <paramref name="col"/> (Rows × Cols) from image n, group g of x.</summary>
    public static void Forward(ConvProblem p, ReadOnlySpan<float> x, int n, int group, Span<float> col)
    {
        var g = ConvGeometry.Of(p);
        long cols = Cols(p);
        int cpg = p.CPerGroup;
        for (int cl = 0; cl < cpg; cl++)
        {
            long xBase = ((long)n * p.C + group * cpg + cl) * g.InD * g.InH * g.InW;
            for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
            for (int tw = 0; tw < g.KW; tw++)
            {
                long row = ((long)cl * g.KD + td) * g.KH * g.KW + (long)th * g.KW + tw;
                long o = 0;
                for (int od = 0; od < g.OutD; od++)
                for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++, o++)
                {
                    int id = od * g.SD - g.PD + td * g.DD, ih = oh * g.SH - g.PH + th * g.DH, iw = ow * g.SW - g.PW + tw * g.DW;
                    bool inside = (uint)id < (uint)g.InD && (uint)ih < (uint)g.InH && (uint)iw < (uint)g.InW;
                    col[(int)(row * cols + o)] = inside ? x[(int)(xBase + ((long)id * g.InH + ih) * g.InW + iw)] : 0f;
                }
            }
        }
    }

    /// <summary>
    /// The adjoint: writes dx for image n, group g (overwriting its channels) as the sum of every column
    /// entry that was read from each input element. Deterministic (a fixed summation order).
    /// </summary>
    public static void Backward(ConvProblem p, ReadOnlySpan<float> col, int n, int group, Span<float> dx)
    {
        var g = ConvGeometry.Of(p);
        long cols = Cols(p);
        int cpg = p.CPerGroup;
        long plane = (long)g.InD * g.InH * g.InW;
        long xBase0 = ((long)n * p.C + group * cpg) * plane;
        dx.Slice((int)xBase0, (int)(cpg * plane)).Clear();
        for (int cl = 0; cl < cpg; cl++)
        {
            long xBase = xBase0 + cl * plane;
            for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
            for (int tw = 0; tw < g.KW; tw++)
            {
                long row = ((long)cl * g.KD + td) * g.KH * g.KW + (long)th * g.KW + tw;
                long o = 0;
                for (int od = 0; od < g.OutD; od++)
                for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++, o++)
                {
                    int id = od * g.SD - g.PD + td * g.DD, ih = oh * g.SH - g.PH + th * g.DH, iw = ow * g.SW - g.PW + tw * g.DW;
                    if ((uint)id < (uint)g.InD && (uint)ih < (uint)g.InH && (uint)iw < (uint)g.InW)
                        dx[(int)(xBase + ((long)id * g.InH + ih) * g.InW + iw)] += col[(int)(row * cols + o)];
                }
            }
        }
    }
}
