using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise forward for small planes (one filter per channel): 16 channels at a time in a
/// channel-interleaved scratch layout ([padded position][16 channels]), so each output position is
/// one Vector512 accumulator fed by one aligned load and one FMA per tap, eight positions in flight,
/// with no per-plane setup (on the smallest planes the per-plane kernel spends most of its time on
/// setup). Input and output are transposed into and out of the layout in 16 × 16 register tiles
/// (<see cref="BlockTranspose"/>); pads are zero. MobileNet-style 7 × 7 × 960 5x5 on one thread:
/// 0.090 ms with scalar (de)interleaving and one position at a time, 0.060 ms so (ONNX Runtime 0.030).
/// AVX-512 only; other tiers and leftover channels use <see cref="DepthwiseDirect"/>.
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
    /// <summary>The zero-padded input extent the outputs read (D, H, W), as laid out channel-last by <see cref="InterleavePadded"/>.</summary>
    internal static (int Dp, int Hp, int Wp) Extents(in Geometry g) => (
        (g.OutD - 1) * g.SD + (g.KD - 1) * g.DD + 1,
        (g.OutH - 1) * g.SH + (g.KH - 1) * g.DH + 1,
        (g.OutW - 1) * g.SW + (g.KW - 1) * g.DW + 1);

    /// <summary>
    /// The 16 planes of x (channel stride: one plane) channel-last into <paramref name="padded"/> with the
    /// zero padding of <see cref="Extents"/>: transposed whole into <paramref name="dense"/> (16 × 16
    /// register tiles), then each input row copied into place. (Built one position at a time from 16 scalar
    /// loads, the interleave cost more than the convolution on 7 × 7 planes.) Reads past the input (right
    /// or bottom) then hit pad zeros, never another row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void InterleavePadded(in Geometry g, float* x, float* dense, float* padded)
    {
        var (dp, hp, wp) = Extents(g);
        nint inPlane = (nint)g.InD * g.InH * g.InW;
        BlockTranspose.ToPlanes(x, inPlane, Lanes, (int)inPlane, dense, Lanes, null);
        new Span<float>(padded, dp * hp * wp * Lanes).Clear();
        int count = Math.Min(g.InW, wp - g.PW);
        for (int id = 0; id < g.InD; id++)
        {
            int pd = id + g.PD;
            if (pd >= dp) break;
            for (int ih = 0; ih < g.InH; ih++)
            {
                int ph = ih + g.PH;
                if (ph >= hp) break;
                float* src = dense + ((nint)id * g.InH + ih) * g.InW * Lanes;
                float* dst = padded + (((nint)pd * hp + ph) * wp + g.PW) * Lanes;
                for (int iw = 0; iw < count; iw++) Vector512.Load(src + iw * Lanes).Store(dst + iw * Lanes);
            }
        }
    }

    /// <summary>Each tap's offset (row-major over the kernel) in the channel-last padded layout, in floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TapOffsets(in Geometry g, int hp, int wp, int* offsets)
    {
        int tap = 0;
        for (int td = 0; td < g.KD; td++)
        for (int th = 0; th < g.KH; th++)
        for (int tw = 0; tw < g.KW; tw++)
            offsets[tap++] = (int)((((long)td * g.DD * hp + (long)th * g.DH) * wp + (long)tw * g.DW) * Lanes);
    }

    /// <summary>Floats of per-worker scratch: padded interleaved input, interleaved output, the tap weights and the dense interleaved input.</summary>
    public static long ScratchFloats(in Geometry g)
    {
        var (dp, hp, wp) = Extents(g);
        return ((long)dp * hp * wp + (long)g.OutD * g.OutH * g.OutW + (long)g.KD * g.KH * g.KW + (long)g.InD * g.InH * g.InW) * Lanes;
    }

    /// <summary>Channels c0 … c0+15 of one image: x, w, y point at channel c0's plane / filter / plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(in Geometry g, float* x, float* w, float* y, float* bias, float* scratch)
    {
        var (dp, hp, wp) = Extents(g);
        int kvol = g.KD * g.KH * g.KW;
        nint outPlane = (nint)g.OutD * g.OutH * g.OutW;
        float* xb = scratch;
        float* yb = xb + (nint)dp * hp * wp * Lanes;
        float* wb = yb + outPlane * Lanes;

        float* dense = wb + kvol * Lanes;
        InterleavePadded(g, x, dense, xb);
        for (int c = 0; c < Lanes; c++)
            for (int t = 0; t < kvol; t++) wb[t * Lanes + c] = w[(nint)c * kvol + t];

        // Tap offsets in interleaved floats.
        int* offsets = stackalloc int[kvol];
        TapOffsets(g, hp, wp, offsets);

        // Eight output positions at a time, each with its own accumulator: with one position at a time
        // the FMAs waited on each other's latency. Positions past the last repeat it and are not stored.
        nint* bases = stackalloc nint[8];
        int od = 0, oh = 0, ow = 0;
        for (nint i0 = 0; i0 < outPlane; i0 += 8)
        {
            int valid = (int)Math.Min(8, outPlane - i0);
            for (int r = 0; r < 8; r++)
            {
                bases[r] = (nint)(xb + ((((nint)od * g.SD * hp + (nint)oh * g.SH) * wp) + (nint)ow * g.SW) * Lanes);
                if (r + 1 >= valid) continue;
                if (++ow == g.OutW) { ow = 0; if (++oh == g.OutH) { oh = 0; od++; } }
            }
            if (++ow == g.OutW) { ow = 0; if (++oh == g.OutH) { oh = 0; od++; } }
            EightPositions(bases, offsets, kvol, wb, yb + i0 * Lanes, valid);
        }

        // De-interleave into the 16 output planes, adding the bias (16 × 16 register tiles).
        BlockTranspose.ToPlanes(yb, Lanes, (int)outPlane, Lanes, y, outPlane, bias);
    }

    /// <summary>out[r] = Σ_t w[t] · in[bases[r] + offsets[t]] for eight positions r (interleaved vectors); stores the first <paramref name="valid"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EightPositions(nint* bases, int* offsets, int kvol, float* wb, float* o, int valid)
    {
        float* p0 = (float*)bases[0], p1 = (float*)bases[1], p2 = (float*)bases[2], p3 = (float*)bases[3];
        float* p4 = (float*)bases[4], p5 = (float*)bases[5], p6 = (float*)bases[6], p7 = (float*)bases[7];
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < kvol; t++)
        {
            var wv = Vector512.Load(wb + t * Lanes);
            nint off = offsets[t];
            a0 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p0 + off), a0);
            a1 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p1 + off), a1);
            a2 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p2 + off), a2);
            a3 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p3 + off), a3);
            a4 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p4 + off), a4);
            a5 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p5 + off), a5);
            a6 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p6 + off), a6);
            a7 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p7 + off), a7);
        }
        a0.Store(o);
        if (valid > 1) a1.Store(o + 1 * Lanes);
        if (valid > 2) a2.Store(o + 2 * Lanes);
        if (valid > 3) a3.Store(o + 3 * Lanes);
        if (valid > 4) a4.Store(o + 4 * Lanes);
        if (valid > 5) a5.Store(o + 5 * Lanes);
        if (valid > 6) a6.Store(o + 6 * Lanes);
        if (valid > 7) a7.Store(o + 7 * Lanes);
    }
}
