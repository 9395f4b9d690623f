using System.Runtime.CompilerServices;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Columns;

/// <summary>
/// The adjoint of <see cref="Im2ColFast"/>: sums every column entry back into the input element it was
/// read from. Works on a range of channels and one <see cref="Slab"/> of the image (the whole image, or the
/// positions [Lo, Hi) along one dimension), so tasks that own disjoint channels or slabs never write the same
/// element (no atomics, a fixed summation order, deterministic).
/// </summary>
internal static unsafe class Col2Im
{
    /// <summary>
    /// Overwrites the slab of the planes of <paramref name="channels"/> channels starting at <paramref name="dx"/>
    /// with bias[ch] (0 where <paramref name="bias"/> is null) plus the column matrix rows at <paramref name="col"/>
    /// (row r at col + r·ld; column j is dy position slab.FirstColumn + j).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(in Geometry g, in Slab slab, float* col, nint ld, int channels, float* dx, float* bias)
    {
        nint plane = (nint)g.InD * g.InH * g.InW;
        int row = 0;
        for (int ch = 0; ch < channels; ch++)
        {
            float* xc = dx + ch * plane;
            Fill(g, slab, xc, bias == null ? 0f : bias[ch]);
            for (int td = 0; td < g.KD; td++)
            for (int th = 0; th < g.KH; th++)
            for (int tw = 0; tw < g.KW; tw++, row++)
                AddRow(g, slab, xc, td, th, tw, col + row * ld);
        }
    }

    /// <summary>Sets the slab's elements of one plane to <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Fill(in Geometry g, in Slab slab, float* xc, float value)
    {
        int dLo = slab.Dim == 0 ? slab.Lo : 0, dHi = slab.Dim == 0 ? slab.Hi : g.InD;
        if (slab.Dim == 0)
        {
            nint dPlane = (nint)g.InH * g.InW;
            new Span<float>(xc + dLo * dPlane, checked((int)((dHi - dLo) * dPlane))).Fill(value);
            return;
        }
        int hLo = slab.Dim == 1 ? slab.Lo : 0, hHi = slab.Dim == 1 ? slab.Hi : g.InH;
        int wLo = slab.Dim == 2 ? slab.Lo : 0, wHi = slab.Dim == 2 ? slab.Hi : g.InW;
        for (int id = dLo; id < dHi; id++)
            for (int ih = hLo; ih < hHi; ih++)
                new Span<float>(xc + ((nint)id * g.InH + ih) * g.InW + wLo, wHi - wLo).Fill(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AddRow(in Geometry g, in Slab slab, float* xc, int td, int th, int tw, float* s)
    {
        int offW = tw * g.DW - g.PW;
        Im2ColFast.ValidRange(offW, g.SW, g.InW, g.OutW, out int qLo, out int qHi);
        // The slab's dy positions along each dimension ([first, first + count)) and its dx positions.
        int d0 = slab.Dim == 0 ? slab.O0 : 0, dCount = slab.Dim == 0 ? slab.O1 - slab.O0 : g.OutD;
        int h0 = slab.Dim == 1 ? slab.O0 : 0, hCount = slab.Dim == 1 ? slab.O1 - slab.O0 : g.OutH;
        int w0 = slab.Dim == 2 ? slab.O0 : 0, wCount = slab.Dim == 2 ? slab.O1 - slab.O0 : g.OutW;
        int dLo = slab.Dim == 0 ? slab.Lo : 0, dHi = slab.Dim == 0 ? slab.Hi : g.InD;
        int hLo = slab.Dim == 1 ? slab.Lo : 0, hHi = slab.Dim == 1 ? slab.Hi : g.InH;
        if (slab.Dim == 2)
        {
            // Only the dy positions of the slab whose dx lands in [Lo, Hi): offW + q·SW ∈ [Lo, Hi).
            qLo = Math.Max(qLo, Math.Max(slab.O0, CeilDiv(slab.Lo - offW, g.SW)));
            qHi = Math.Min(qHi, Math.Min(slab.O1, CeilDiv(slab.Hi - offW, g.SW)));
        }
        if (qHi <= qLo) return;
        s -= w0;   // s[q] is dy position q of the slab's row
        for (int od = d0; od < d0 + dCount; od++)
        {
            int id = od * g.SD - g.PD + td * g.DD;
            for (int oh = h0; oh < h0 + hCount; oh++, s += wCount)
            {
                int ih = oh * g.SH - g.PH + th * g.DH;
                if (id < dLo || id >= dHi || ih < hLo || ih >= hHi) continue;
                float* xr = xc + ((nint)id * g.InH + ih) * g.InW + offW;
                if (g.SW == 1)
                    VectorOps.Add(xr + qLo, s + qLo, qHi - qLo);
                else
                    for (int q = qLo; q < qHi; q++) xr[q * g.SW] += s[q];
            }
        }
    }

    static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -(-a / b);
}
