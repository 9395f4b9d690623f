using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// The AVX2 form of <see cref="DepthwiseBlocked"/> (one filter per channel, small planes): 8 channels at a time
/// in a channel-interleaved scratch layout ([padded position][8 channels]), each output position one Vector256
/// accumulator fed by one load and one FMA per tap, eight positions in flight. Input and output are transposed
/// into and out of the layout in 8 × 8 register tiles (<see cref="BlockTranspose"/>); pads are zero. A file of
/// its own so the AVX-512 kernel stays as it was verified. Leftover channels use <see cref="DepthwiseDirect"/>.
/// </summary>
internal static unsafe class DepthwiseBlockedAvx2
{
    public const int Lanes = 8;

    /// <summary>
    /// On the Vector256 tier (AVX2 + FMA), one filter per channel, where it beat the padded-copy kernel (one
    /// thread, AMD Zen 3; docs/benchmarks.md, 2026-12-05 22:56–23:14 UTC): 5x5 on inputs of at most 14 × 14
    /// (EfficientNet-B0's 7 × 7 and 14 × 14 layers, stride 1 and 2: 1.07–1.47×; on 28 × 28 even), 7x7 on inputs
    /// up to 32 × 32 (1.25–1.52×). With 3x3 the transposes in and out cost as much as the taps and it lost to
    /// <see cref="Depthwise3x3Avx2"/> (0.52–0.94×) and the padded copy (0.88–0.96×), so it takes no 3x3.
    /// </summary>
    public static bool Applies(in Geometry g, int multiplier, int channels, GemmTier tier)
    {
        if (tier != GemmTier.Vector256 || !Avx2.IsSupported || !Fma.IsSupported || multiplier != 1 || channels < Lanes)
            return false;
        long inPlane = (long)g.InD * g.InH * g.InW, taps = (long)g.KD * g.KH * g.KW;
        return taps >= 49 ? inPlane <= 1024 : taps >= 25 && inPlane <= 196;
    }

    /// <summary>Floats of per-worker scratch: padded interleaved input, interleaved output, the tap weights and the dense interleaved input.</summary>
    public static long ScratchFloats(in Geometry g)
    {
        var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
        return ((long)dp * hp * wp + (long)g.OutD * g.OutH * g.OutW + (long)g.KD * g.KH * g.KW + (long)g.InD * g.InH * g.InW) * Lanes;
    }

    /// <summary>
    /// The 8 planes of x (channel stride: one plane) channel-last into <paramref name="padded"/> with the zero
    /// padding of <see cref="DepthwiseBlocked.Extents"/>: transposed whole into <paramref name="dense"/> (8 × 8
    /// register tiles), then each input row copied into place. Reads past the input (right or bottom) then hit
    /// pad zeros, never another row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void InterleavePadded(in Geometry g, float* x, float* dense, float* padded)
    {
        var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
        nint inPlane = (nint)g.InD * g.InH * g.InW;
        BlockTranspose.ToPlanes(x, inPlane, Lanes, (int)inPlane, dense, Lanes, null, Lanes);
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
                for (int iw = 0; iw < count; iw++) Vector256.Load(src + iw * Lanes).Store(dst + iw * Lanes);
            }
        }
    }

    /// <summary>Channels c0 … c0+7 of one image: x, w, y point at channel c0's plane / filter / plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(in Geometry g, float* x, float* w, float* y, float* bias, float* scratch)
    {
        var (dp, hp, wp) = DepthwiseBlocked.Extents(g);
        int kvol = g.KD * g.KH * g.KW;
        nint outPlane = (nint)g.OutD * g.OutH * g.OutW;
        float* xb = scratch;
        float* yb = xb + (nint)dp * hp * wp * Lanes;
        float* wb = yb + outPlane * Lanes;
        float* dense = wb + kvol * Lanes;

        InterleavePadded(g, x, dense, xb);
        for (int c = 0; c < Lanes; c++)
            for (int t = 0; t < kvol; t++) wb[t * Lanes + c] = w[(nint)c * kvol + t];

        // Each tap's offset (row-major over the kernel) in interleaved floats.
        int* offsets = stackalloc int[kvol];
        int tap = 0;
        for (int td = 0; td < g.KD; td++)
        for (int th = 0; th < g.KH; th++)
        for (int tw = 0; tw < g.KW; tw++)
            offsets[tap++] = (int)((((long)td * g.DD * hp + (long)th * g.DH) * wp + (long)tw * g.DW) * Lanes);

        // Eight output positions at a time, each with its own accumulator (FMA latency); positions past the
        // last repeat it and are not stored.
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

        // De-interleave into the 8 output planes, adding the bias (8 × 8 register tiles).
        BlockTranspose.ToPlanes(yb, Lanes, (int)outPlane, Lanes, y, outPlane, bias, Lanes);
    }

    /// <summary>out[r] = Σ_t w[t] · in[bases[r] + offsets[t]] for eight positions r (interleaved vectors); stores the first <paramref name="valid"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EightPositions(nint* bases, int* offsets, int kvol, float* wb, float* o, int valid)
    {
        float* p0 = (float*)bases[0], p1 = (float*)bases[1], p2 = (float*)bases[2], p3 = (float*)bases[3];
        float* p4 = (float*)bases[4], p5 = (float*)bases[5], p6 = (float*)bases[6], p7 = (float*)bases[7];
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < kvol; t++)
        {
            var wv = Vector256.Load(wb + t * Lanes);
            nint off = offsets[t];
            a0 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p0 + off), a0);
            a1 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p1 + off), a1);
            a2 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p2 + off), a2);
            a3 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p3 + off), a3);
            a4 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p4 + off), a4);
            a5 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p5 + off), a5);
            a6 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p6 + off), a6);
            a7 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p7 + off), a7);
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
