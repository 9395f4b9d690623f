using System.Runtime.CompilerServices;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// The fast im2col: the layout of <see cref="Im2Col"/> (rows = channel, then taps d, h, w; columns =
/// output positions d, h, w), restricted to a range of channels and a range of columns so a task
/// builds just the tile it multiplies. Each (row, output line) is one run: zeros where the tap falls
/// into padding, and in between a plain memory copy when the stride is 1 (a strided gather otherwise).
/// </summary>
internal static unsafe class Im2ColFast
{
    /// <summary>
    /// Writes rows for <paramref name="channels"/> channels starting at <paramref name="x"/> (the first
    /// channel's plane) and columns [colLo, colHi) to <paramref name="dst"/>: row r at dst + r·ld.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fill(in Geometry g, float* x, int channels, int colLo, int colHi, float* dst, nint ld)
    {
        nint plane = (nint)g.InD * g.InH * g.InW;
        int row = 0;
        for (int ch = 0; ch < channels; ch++)
        {
            float* xc = x + ch * plane;
            for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
            for (int tw = 0; tw < g.KW; tw++, row++)
                FillRow(g, xc, td, th, tw, colLo, colHi, dst + row * ld);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FillRow(in Geometry g, float* xc, int td, int th, int tw, int colLo, int colHi, float* d)
    {
        int outHW = g.OutH * g.OutW;
        int od = colLo / outHW, rest = colLo % outHW, oh = rest / g.OutW, ow = rest % g.OutW;
        int offW = tw * g.DW - g.PW;
        for (int o = colLo; o < colHi;)
        {
            int run = Math.Min(g.OutW - ow, colHi - o);
            int id = od * g.SD - g.PD + td * g.DD, ih = oh * g.SH - g.PH + th * g.DH;
            if ((uint)id >= (uint)g.InD || (uint)ih >= (uint)g.InH)
            {
                new Span<float>(d, run).Clear();
            }
            else
            {
                float* xr = xc + ((nint)id * g.InH + ih) * g.InW;
                int iw0 = ow * g.SW + offW;
                ValidRange(iw0, g.SW, g.InW, run, out int qLo, out int qHi);
                if (qLo > 0) new Span<float>(d, qLo).Clear();
                if (qHi > qLo)
                {
                    if (g.SW == 1)
                        Buffer.MemoryCopy(xr + iw0 + qLo, d + qLo, (qHi - qLo) * sizeof(float), (qHi - qLo) * sizeof(float));
                    else
                        for (int q = qLo, iw = iw0 + qLo * g.SW; q < qHi; q++, iw += g.SW) d[q] = xr[iw];
                }
                if (qHi < run) new Span<float>(d + qHi, run - qHi).Clear();
            }
            d += run;
            o += run;
            ow = 0;
            if (++oh == g.OutH) { oh = 0; od++; }
        }
    }

    /// <summary>
    /// For positions q in [0, run) reading iw = iw0 + q·stride, the sub-range [qLo, qHi) with 0 ≤ iw &lt; inW
    /// (empty when qLo == qHi).
    /// </summary>
    internal static void ValidRange(int iw0, int stride, int inW, int run, out int qLo, out int qHi)
    {
        qLo = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
        int last = inW - 1 - iw0;
        qHi = last < 0 ? 0 : last / stride + 1;
        if (qHi > run) qHi = run;
        if (qLo > qHi) qLo = qHi;
    }
}
