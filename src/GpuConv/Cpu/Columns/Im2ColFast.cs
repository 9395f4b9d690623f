using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Columns;

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ValidRange(int iw0, int stride, int inW, int run, out int qLo, out int qHi)
    {
        qLo = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
        int last = inW - 1 - iw0;
        qHi = last < 0 ? 0 : last / stride + 1;
        if (qHi > run) qHi = run;
        if (qLo > qHi) qLo = qHi;
    }

    /// <summary>
    /// Rows [rowLo, rowLo + rows) and columns [colLo, colLo + cols) of the column matrix (channels counted
    /// from <paramref name="x"/>), written as GEMM B micro-panels: for each panel of <paramref name="nr"/>
    /// columns, rows × nr values (zero-padded past the last column). nr is a power of two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackPanels(in Geometry g, float* x, int rowLo, int rows, int colLo, int cols, int nr, float* dst)
    {
        nint plane = (nint)g.InD * g.InH * g.InW;
        int kw = g.KW, khw = g.KH * g.KW, kvol = g.KD * khw;
        int shift = System.Numerics.BitOperations.Log2((uint)nr);
        nint panelStride = (nint)rows * nr;
        int outHW = g.OutH * g.OutW;
        int od0 = colLo / outHW, rest0 = colLo % outHW, oh0 = rest0 / g.OutW, ow0 = rest0 % g.OutW;
        for (int p = 0; p < rows; p++)
        {
            int r = rowLo + p;
            int ch = r / kvol, tap = r - ch * kvol;
            int td = tap / khw, tr = tap - td * khw, th = tr / kw, tw = tr - th * kw;
            float* xc = x + ch * plane;
            float* d = dst + (nint)p * nr;
            int offW = tw * g.DW - g.PW;
            int od = od0, oh = oh0, ow = ow0;
            for (int o = 0; o < cols;)
            {
                int run = Math.Min(g.OutW - ow, cols - o);
                int id = od * g.SD - g.PD + td * g.DD, ih = oh * g.SH - g.PH + th * g.DH;
                if ((uint)id >= (uint)g.InD || (uint)ih >= (uint)g.InH)
                {
                    Put(d, panelStride, shift, o, run, null, 0, null);
                }
                else
                {
                    float* xr = xc + ((nint)id * g.InH + ih) * g.InW;
                    int iw0 = ow * g.SW + offW;
                    ValidRange(iw0, g.SW, g.InW, run, out int qLo, out int qHi);
                    if (qLo > 0) Put(d, panelStride, shift, o, qLo, null, 0, null);
                    if (qHi > qLo) Put(d, panelStride, shift, o + qLo, qHi - qLo, xr + iw0 + qLo * g.SW, g.SW, xr + g.InW);
                    if (qHi < run) Put(d, panelStride, shift, o + qHi, run - qHi, null, 0, null);
                }
                o += run;
                ow = 0;
                if (++oh == g.OutH) { oh = 0; od++; }
            }
            // Zero the lanes past the last column of the last panel.
            int tail = cols & (nr - 1);
            if (tail != 0) new Span<float>(d + ((nint)(cols >> shift) * panelStride) + tail, nr - tail).Clear();
        }
    }

    /// <summary>Writes logical columns [o, o + count) of one packed row: from src (stride s, reading below limit) or zeros when src is null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* row, nint panelStride, int shift, int o, int count, float* src, int stride, float* limit)
    {
        int nr = 1 << shift;
        while (count > 0)
        {
            int lane = o & (nr - 1);
            int chunk = Math.Min(count, nr - lane);
            float* d = row + (nint)(o >> shift) * panelStride + lane;
            if (src == null)
                SmallZero(d, chunk);
            else if (stride == 1)
                SmallCopy(src, d, chunk);
            else if (stride == 2)
                VectorOps.GatherStride2(src, d, chunk, limit);
            else
            {
                for (int i = 0; i < chunk; i++) d[i] = src[i * stride];
            }
            if (src != null) src += chunk * stride;
            o += chunk;
            count -= chunk;
        }
    }

    /// <summary>Copies n ≤ 32 floats with (overlapping) vector moves: a call to a general memcpy costs more than the copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void SmallCopy(float* src, float* dst, int n)
    {
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512.Load(src).Store(dst);
            Vector512.Load(src + n - 16).Store(dst + n - 16);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            int i = 0;
            for (; i + 8 <= n; i += 8) Vector256.Load(src + i).Store(dst + i);
            if (i < n) Vector256.Load(src + n - 8).Store(dst + n - 8);
        }
        else if (Vector128.IsHardwareAccelerated && n >= 4)
        {
            int i = 0;
            for (; i + 4 <= n; i += 4) Vector128.Load(src + i).Store(dst + i);
            if (i < n) Vector128.Load(src + n - 4).Store(dst + n - 4);
        }
        else
        {
            for (int i = 0; i < n; i++) dst[i] = src[i];
        }
    }

    /// <summary>Zeroes n ≤ 32 floats with (overlapping) vector stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void SmallZero(float* dst, int n)
    {
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float>.Zero.Store(dst);
            Vector512<float>.Zero.Store(dst + n - 16);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            int i = 0;
            for (; i + 8 <= n; i += 8) Vector256<float>.Zero.Store(dst + i);
            if (i < n) Vector256<float>.Zero.Store(dst + n - 8);
        }
        else
        {
            for (int i = 0; i < n; i++) dst[i] = 0f;
        }
    }
}
