using System.Runtime.CompilerServices;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu;

/// <summary>
/// The adjoint of <see cref="Im2ColFast"/> for whole images: sums every column entry back into the
/// input element it was read from. Works on a range of channels with all columns, so tasks that own
/// disjoint channels never write the same element (no atomics, a fixed summation order, deterministic).
/// </summary>
internal static unsafe class Col2Im
{
    /// <summary>
    /// Overwrites the planes of <paramref name="channels"/> channels starting at <paramref name="dx"/> with
    /// the column matrix rows at <paramref name="col"/> (row r at col + r·ld, columns 0..outD·outH·outW).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(in Geometry g, float* col, nint ld, int channels, float* dx)
    {
        nint plane = (nint)g.InD * g.InH * g.InW;
        new Span<float>(dx, checked((int)(plane * channels))).Clear();
        int row = 0;
        for (int ch = 0; ch < channels; ch++)
        {
            float* xc = dx + ch * plane;
            for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
            for (int tw = 0; tw < g.KW; tw++, row++)
                AddRow(g, xc, td, th, tw, col + row * ld);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AddRow(in Geometry g, float* xc, int td, int th, int tw, float* s)
    {
        int offW = tw * g.DW - g.PW;
        Im2ColFast.ValidRange(offW, g.SW, g.InW, g.OutW, out int qLo, out int qHi);
        if (qHi <= qLo) return;
        for (int od = 0; od < g.OutD; od++)
        {
            int id = od * g.SD - g.PD + td * g.DD;
            for (int oh = 0; oh < g.OutH; oh++, s += g.OutW)
            {
                int ih = oh * g.SH - g.PH + th * g.DH;
                if ((uint)id >= (uint)g.InD || (uint)ih >= (uint)g.InH) continue;
                float* xr = xc + ((nint)id * g.InH + ih) * g.InW + offW;
                if (g.SW == 1)
                    VectorOps.Add(xr + qLo, s + qLo, qHi - qLo);
                else
                    for (int q = qLo; q < qHi; q++) xr[q * g.SW] += s[q];
            }
        }
    }
}
