using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// Depthwise forward for small planes (one filter per channel): 16 channels at a time in a
/// channel-interleaved scratch layout ([padded position][16 channels]), so each output position is
/// one Vector512 accumulator fed by one aligned load and one FMA per tap, with no per-plane setup
/// (on the smallest planes the per-plane kernel spends most of its time on setup). Input and output
/// are transposed into and out of the layout (one vector built from 16 channels per position on the
/// way in); pads are zero. AVX-512 only; other tiers and leftover channels use <see cref="DepthwiseDirect"/>.
/// </summary>
internal static unsafe class DepthwiseBlocked
{
    public const int Lanes = 16;

    /// <summary>
    /// Small planes with one filter per channel, on hardware with Vector512. The transposes in and out
    /// cost about as much as the per-plane kernel's setup, so this wins only where that setup is large
    /// relative to the work: outputs of at most 64 positions, or strided layers on small inputs
    /// (measured on MobileNetV2: 7×7 outputs and 28×28 → 14×14 faster, 14×14 stride 1 slower).
    /// </summary>
    public static bool Applies(in Geometry g, int multiplier, int channels) =>
        Vector512.IsHardwareAccelerated && multiplier == 1 && channels >= Lanes &&
        (long)g.InD * g.InH * g.InW <= 1024 &&
        ((long)g.OutD * g.OutH * g.OutW <= 64 || g.SD > 1 || g.SH > 1 || g.SW > 1);

    /// <summary>Padded extents covering every read of every output.</summary>
    static (int Dp, int Hp, int Wp) Extents(in Geometry g) => (
        (g.OutD - 1) * g.SD + (g.KD - 1) * g.DD + 1,
        (g.OutH - 1) * g.SH + (g.KH - 1) * g.DH + 1,
        (g.OutW - 1) * g.SW + (g.KW - 1) * g.DW + 1);

    /// <summary>Floats of per-worker scratch: interleaved input, interleaved output and the tap weights.</summary>
    public static long ScratchFloats(in Geometry g)
    {
        var (dp, hp, wp) = Extents(g);
        return ((long)dp * hp * wp + (long)g.OutD * g.OutH * g.OutW + (long)g.KD * g.KH * g.KW) * Lanes;
    }

    /// <summary>Channels c0 … c0+15 of one image: x, w, y point at channel c0's plane / filter / plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(in Geometry g, float* x, float* w, float* y, float* bias, float* scratch)
    {
        var (dp, hp, wp) = Extents(g);
        int kvol = g.KD * g.KH * g.KW;
        nint inPlane = (nint)g.InD * g.InH * g.InW, outPlane = (nint)g.OutD * g.OutH * g.OutW;
        float* xb = scratch;
        float* yb = xb + (nint)dp * hp * wp * Lanes;
        float* wb = yb + outPlane * Lanes;

        // Interleave: pads zero, then each input position's 16 channel values as one vector.
        new Span<float>(xb, dp * hp * wp * Lanes).Clear();
        int count = Math.Min(g.InW, wp - g.PW);
        for (int id = 0; id < g.InD; id++)
        {
            int pd = id + g.PD;
            if (pd >= dp) break;
            for (int ih = 0; ih < g.InH; ih++)
            {
                int ph = ih + g.PH;
                if (ph >= hp) break;
                float* src = x + ((nint)id * g.InH + ih) * g.InW;
                float* dst = xb + (((nint)pd * hp + ph) * wp + g.PW) * Lanes;
                for (int iw = 0; iw < count; iw++, dst += Lanes)
                {
                    float* s0 = src + iw;
                    Vector512.Create(
                        s0[0], s0[inPlane], s0[2 * inPlane], s0[3 * inPlane], s0[4 * inPlane], s0[5 * inPlane], s0[6 * inPlane], s0[7 * inPlane],
                        s0[8 * inPlane], s0[9 * inPlane], s0[10 * inPlane], s0[11 * inPlane], s0[12 * inPlane], s0[13 * inPlane], s0[14 * inPlane], s0[15 * inPlane]).Store(dst);
                }
            }
        }
        for (int c = 0; c < Lanes; c++)
            for (int t = 0; t < kvol; t++) wb[t * Lanes + c] = w[(nint)c * kvol + t];

        // Tap offsets in interleaved floats.
        int* offsets = stackalloc int[kvol];
        int tap = 0;
        for (int td = 0; td < g.KD; td++)
        for (int th = 0; th < g.KH; th++)
        for (int tw = 0; tw < g.KW; tw++)
            offsets[tap++] = (int)((((long)td * g.DD * hp + (long)th * g.DH) * wp + (long)tw * g.DW) * Lanes);

        var vb = bias == null ? Vector512<float>.Zero : Vector512.Load(bias);
        float* o = yb;
        for (int od = 0; od < g.OutD; od++)
        for (int oh = 0; oh < g.OutH; oh++)
        {
            float* row = xb + (((nint)od * g.SD * hp + (nint)oh * g.SH) * wp) * Lanes;
            nint step = (nint)g.SW * Lanes;
            for (int ow = 0; ow < g.OutW; ow++, o += Lanes, row += step)
            {
                Vector512<float> a0 = vb, a1 = Vector512<float>.Zero;
                int t = 0;
                for (; t + 1 < kvol; t += 2)
                {
                    a0 = Vector512.MultiplyAddEstimate(Vector512.Load(wb + t * Lanes), Vector512.Load(row + offsets[t]), a0);
                    a1 = Vector512.MultiplyAddEstimate(Vector512.Load(wb + (t + 1) * Lanes), Vector512.Load(row + offsets[t + 1]), a1);
                }
                if (t < kvol) a0 = Vector512.MultiplyAddEstimate(Vector512.Load(wb + t * Lanes), Vector512.Load(row + offsets[t]), a0);
                (a0 + a1).Store(o);
            }
        }

        // De-interleave into the 16 output planes.
        for (nint i = 0; i < outPlane; i++)
        {
            var v = Vector512.Load(yb + i * Lanes);
            float* d = y + i;
            d[0] = v.GetElement(0); d[outPlane] = v.GetElement(1); d[2 * outPlane] = v.GetElement(2); d[3 * outPlane] = v.GetElement(3);
            d[4 * outPlane] = v.GetElement(4); d[5 * outPlane] = v.GetElement(5); d[6 * outPlane] = v.GetElement(6); d[7 * outPlane] = v.GetElement(7);
            d[8 * outPlane] = v.GetElement(8); d[9 * outPlane] = v.GetElement(9); d[10 * outPlane] = v.GetElement(10); d[11 * outPlane] = v.GetElement(11);
            d[12 * outPlane] = v.GetElement(12); d[13 * outPlane] = v.GetElement(13); d[14 * outPlane] = v.GetElement(14); d[15 * outPlane] = v.GetElement(15);
        }
    }
}
