using System.Runtime.CompilerServices;

namespace GpuConv.Cpu.Phases;

/// <summary>
/// The zero-padded, stride-phase-split copy of an input plane shared by shifted-gemm and the direct
/// depthwise kernel: the plane is padded to cover every read of every output, then split into
/// stride_d × stride_h × stride_w phases so that every kernel tap becomes one constant offset and
/// consecutive outputs read consecutive floats ("a long row" of <see cref="RunLength"/> floats).
/// Padded extents are (Dp, Hp, Wp); per-phase extents (Dq, Hq, Lq).
/// </summary>
internal readonly record struct StridePhaseLayout(int Dp, int Hp, int Wp, int Dq, int Hq, int Lq, long PhaseFloats, long PlaneFloats, long RunLength)
{
    /// <summary>The long row's length as a GEMM column count.</summary>
    public int Cols => checked((int)RunLength);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static StridePhaseLayout Of(in ConvGeometry g)
    {
        // Extents that cover every read of every output (zeros beyond the input).
        int dp = (g.OutD - 1) * g.SD + (g.KD - 1) * g.DD + 1;
        int hp = (g.OutH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
        int wp = (g.OutW - 1) * g.SW + (g.KW - 1) * g.DW + 1;
        int dq = (dp + g.SD - 1) / g.SD, hq = (hp + g.SH - 1) / g.SH, lq = (wp + g.SW - 1) / g.SW;
        long phase = (long)dq * hq * lq;
        long run = ((long)(g.OutD - 1) * hq + g.OutH - 1) * lq + g.OutW;
        return new StridePhaseLayout(dp, hp, wp, dq, hq, lq, phase, phase * g.SD * g.SH * g.SW, run);
    }

    /// <summary>Writes each kernel tap's offset into the split plane (taps in d, h, w order); returns the tap count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe int WriteTapOffsets(in ConvGeometry g, int* taps)
    {
        int t = 0;
        for (int td = 0; td < g.KD; td++)
        for (int th = 0; th < g.KH; th++)
        for (int tw = 0; tw < g.KW; tw++)
        {
            int a = td * g.DD, b = th * g.DH, c = tw * g.DW;
            long phase = ((long)(a % g.SD) * g.SH + b % g.SH) * g.SW + c % g.SW;
            taps[t++] = checked((int)(phase * PhaseFloats + ((long)(a / g.SD) * Hq + b / g.SH) * Lq + c / g.SW));
        }
        return t;
    }
}
