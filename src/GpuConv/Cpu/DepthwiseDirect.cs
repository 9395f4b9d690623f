using System.Runtime.Intrinsics;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// Direct depthwise forward convolution (groups == channels, any channel multiplier): each output
/// plane reads one input plane, so im2col + a GEMM with M = multiplier and K = taps would mostly move
/// memory. Per output row, the interior (where every tap is inside the input) is computed a vector of
/// outputs at a time with all taps accumulated in registers; the border columns take a scalar loop
/// with bounds checks. Horizontal stride s &gt; 1 first splits each input row into s phase rows
/// (x[q], x[q+s], …), which turns the strided reads into unit-stride vector loads.
/// </summary>
internal static unsafe class DepthwiseDirect
{
    /// <summary>Kernels with more taps than this are left to im2col-gemm (the tap tables live on the stack).</summary>
    public const int MaxTaps = 1024;

    /// <summary>Floats of per-thread scratch (phase-split input plane) for the geometry.</summary>
    public static long ScratchFloats(in Geometry g) =>
        g.SW == 1 ? 0 : (long)g.InD * g.InH * g.SW * ((g.InW + g.SW - 1) / g.SW);

    /// <summary>
    /// All output planes of input channel <paramref name="c"/> of image n: y planes k = c·mult … c·mult + mult − 1.
    /// <paramref name="x"/> is the input plane, <paramref name="w"/> the first of the mult filters,
    /// <paramref name="y"/> the first output plane, <paramref name="bias"/> the first bias (or null).
    /// </summary>
    public static void Channel(in Geometry g, float* x, float* w, float* y, float* bias, int mult, float* scratch)
    {
        int kvol = g.KD * g.KH * g.KW;
        nint outPlane = (nint)g.OutD * g.OutH * g.OutW;
        // Row source for each input row: the row itself (stride 1) or its phase rows.
        int phaseLen = (g.InW + g.SW - 1) / g.SW;
        if (g.SW > 1) SplitPhases(g, x, scratch, phaseLen);

        // Interior columns: ow·s − pw + tw·dw within [0, inW) for every tw.
        int owA = Math.Min(g.OutW, (g.PW + g.SW - 1) / g.SW);
        int lastNum = g.InW - 1 + g.PW - (g.KW - 1) * g.DW;
        int owB = lastNum < 0 ? 0 : Math.Min(g.OutW, lastNum / g.SW + 1);
        if (owB < owA) owB = owA;

        nint* bases = stackalloc nint[kvol];
        float* weights = stackalloc float[kvol];
        nint* rows = stackalloc nint[g.KD * g.KH];
        float** wrows = stackalloc float*[g.KD * g.KH];

        for (int m = 0; m < mult; m++)
        {
            float* wk = w + (nint)m * kvol;
            float* yk = y + m * outPlane;
            float b = bias == null ? 0f : bias[m];
            for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            {
                float* yRow = yk + ((nint)od * g.OutH + oh) * g.OutW;
                int taps = 0, nrows = 0;
                for (int td = 0; td < g.KD; td++)
                {
                    int id = od * g.SD - g.PD + td * g.DD;
                    if ((uint)id >= (uint)g.InD) continue;
                    for (int th = 0; th < g.KH; th++)
                    {
                        int ih = oh * g.SH - g.PH + th * g.DH;
                        if ((uint)ih >= (uint)g.InH) continue;
                        nint rowIndex = (nint)id * g.InH + ih;
                        float* wRow = wk + (td * g.KH + th) * g.KW;
                        rows[nrows] = (nint)(x + rowIndex * g.InW);
                        wrows[nrows++] = wRow;
                        for (int tw = 0; tw < g.KW; tw++)
                        {
                            int off = tw * g.DW - g.PW;
                            float* src;
                            if (g.SW == 1)
                                src = x + rowIndex * g.InW + off;
                            else
                            {
                                int q = ((off % g.SW) + g.SW) % g.SW, shift = (off - q) / g.SW;
                                src = scratch + (rowIndex * g.SW + q) * phaseLen + shift;
                            }
                            bases[taps] = (nint)src;
                            weights[taps++] = wRow[tw];
                        }
                    }
                }
                Border(g, yRow, 0, owA, rows, wrows, nrows, b);
                int ow = Interior(yRow, owA, owB, bases, weights, taps, b);
                Border(g, yRow, ow, g.OutW, rows, wrows, nrows, b);
            }
        }
    }

    static void SplitPhases(in Geometry g, float* x, float* dst, int phaseLen)
    {
        int inRows = g.InD * g.InH;
        for (int r = 0; r < inRows; r++)
        {
            float* src = x + (nint)r * g.InW;
            for (int q = 0; q < g.SW; q++)
            {
                float* d = dst + ((nint)r * g.SW + q) * phaseLen;
                int i = 0;
                for (int iw = q; iw < g.InW; iw += g.SW) d[i++] = src[iw];
            }
        }
    }

    /// <summary>Output columns [from, to) of one row with bounds checks on every tap.</summary>
    static void Border(in Geometry g, float* yRow, int from, int to, nint* rows, float** wrows, int nrows, float bias)
    {
        for (int ow = from; ow < to; ow++)
        {
            float acc = bias;
            int iw0 = ow * g.SW - g.PW;
            for (int r = 0; r < nrows; r++)
            {
                float* xr = (float*)rows[r];
                float* wr = wrows[r];
                for (int tw = 0; tw < g.KW; tw++)
                {
                    int iw = iw0 + tw * g.DW;
                    if ((uint)iw < (uint)g.InW) acc += wr[tw] * xr[iw];
                }
            }
            yRow[ow] = acc;
        }
    }

    /// <summary>Interior columns from owA toward owB, widest vectors first; returns the first column not done.</summary>
    static int Interior(float* yRow, int owA, int owB, nint* bases, float* weights, int taps, float bias)
    {
        int ow = owA;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(bias);
            for (; ow + 64 <= owB; ow += 64)
            {
                Vector512<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                for (int t = 0; t < taps; t++)
                {
                    float* s = (float*)bases[t] + ow;
                    var wv = Vector512.Create(weights[t]);
                    a0 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(s), a0);
                    a1 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(s + 16), a1);
                    a2 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(s + 32), a2);
                    a3 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(s + 48), a3);
                }
                a0.Store(yRow + ow); a1.Store(yRow + ow + 16); a2.Store(yRow + ow + 32); a3.Store(yRow + ow + 48);
            }
            for (; ow + 16 <= owB; ow += 16)
            {
                var a0 = vb;
                for (int t = 0; t < taps; t++)
                    a0 = Vector512.MultiplyAddEstimate(Vector512.Create(weights[t]), Vector512.Load((float*)bases[t] + ow), a0);
                a0.Store(yRow + ow);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(bias);
            for (; ow + 32 <= owB; ow += 32)
            {
                Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                for (int t = 0; t < taps; t++)
                {
                    float* s = (float*)bases[t] + ow;
                    var wv = Vector256.Create(weights[t]);
                    a0 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(s), a0);
                    a1 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(s + 8), a1);
                    a2 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(s + 16), a2);
                    a3 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(s + 24), a3);
                }
                a0.Store(yRow + ow); a1.Store(yRow + ow + 8); a2.Store(yRow + ow + 16); a3.Store(yRow + ow + 24);
            }
            for (; ow + 8 <= owB; ow += 8)
            {
                var a0 = vb;
                for (int t = 0; t < taps; t++)
                    a0 = Vector256.MultiplyAddEstimate(Vector256.Create(weights[t]), Vector256.Load((float*)bases[t] + ow), a0);
                a0.Store(yRow + ow);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var vb = Vector128.Create(bias);
            for (; ow + 4 <= owB; ow += 4)
            {
                var a0 = vb;
                for (int t = 0; t < taps; t++)
                    a0 = Vector128.MultiplyAddEstimate(Vector128.Create(weights[t]), Vector128.Load((float*)bases[t] + ow), a0);
                a0.Store(yRow + ow);
            }
        }
        for (; ow < owB; ow++)
        {
            float acc = bias;
            for (int t = 0; t < taps; t++) acc += weights[t] * ((float*)bases[t])[ow];
            yRow[ow] = acc;
        }
        return ow;
    }
}
