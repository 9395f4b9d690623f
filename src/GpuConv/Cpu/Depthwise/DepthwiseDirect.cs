using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Phases;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Direct depthwise forward convolution (groups == channels, any channel multiplier): each output
/// plane reads one input plane, so im2col + a GEMM with M = multiplier and K = taps would mostly move
/// memory. Each input plane is first copied into a zero-padded scratch plane split into stride phases
/// (the padded element (d, h, w) goes to phase (d mod sd, h mod sh, w mod sw) at (d div sd, h div sh,
/// w div sw)). In that layout every tap is a constant offset from the output position for any stride,
/// so an output row is one vector loop with all taps accumulated in registers; narrow planes run as
/// one long row over the phase width (the few extra columns per row computed into scratch, dropped).
/// The padding zeros are written once per worker task: every plane overwrites only the interior.
/// </summary>
internal static unsafe class DepthwiseDirect
{
    /// <summary>Kernels with more taps than this are left to im2col-gemm (the tap tables live on the stack).</summary>
    public const int MaxTaps = 1024;

    /// <summary>Slack after scratch areas: vector loops may run up to 63 floats past the end of the long row.</summary>
    const int Slack = 64;

    /// <summary>Floats of per-worker scratch: the padded phase planes and the long output row.</summary>
    public static long ScratchFloats(in Geometry g)
    {
        var l = StridePhaseLayout.Of(g);
        return l.PlaneFloats + Slack + l.RunLength + Slack;
    }

    /// <summary>
    /// Whether planes on <paramref name="tier"/> take the AVX2 paths: the stride-2 row split of
    /// <see cref="PhaseSplitAvx2.Stride2"/> and the eight-chain <see cref="Row256"/>. On Vector256 only, so a
    /// backend forced to Vector256 runs them on an AVX-512 machine as an AVX2 machine would.
    /// </summary>
    internal static bool UsesAvx2(GemmTier tier) => tier == GemmTier.Vector256 && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Ints of the per-worker tables <see cref="Prepare"/> fills: tap offsets and padded row bases.</summary>
    public static long TableInts(in Geometry g) => (long)g.KD * g.KH * g.KW + (long)g.InD * g.InH;

    /// <summary>
    /// Once per worker task, before <see cref="Channel"/>: zeroes the scratch plane (Channel only ever
    /// overwrites the interior, so pads stay zero) and fills the tables every plane shares — each
    /// tap's offset in the phase layout, and where each input row lands (-1: cut off) — so the
    /// per-plane work has no integer division in it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Prepare(in Geometry g, float* scratch, int* tables)
    {
        var l = StridePhaseLayout.Of(g);
        new Span<float>(scratch, checked((int)(l.PlaneFloats + Slack))).Clear();
        int t = l.WriteTapOffsets(g, tables);
        int* rows = tables + t;
        for (int id = 0; id < g.InD; id++)
        for (int ih = 0; ih < g.InH; ih++)
        {
            int pd = id + g.PD, ph = ih + g.PH;
            rows[id * g.InH + ih] = pd >= l.Dp || ph >= l.Hp ? -1
                : checked((int)(((long)(pd % g.SD) * g.SH + ph % g.SH) * g.SW * l.PhaseFloats + ((long)(pd / g.SD) * l.Hq + ph / g.SH) * l.Lq));
        }
    }

    /// <summary>
    /// All output planes of input channel c of image n: y planes k = c·mult … c·mult + mult − 1.
    /// <paramref name="x"/> is the input plane, <paramref name="w"/> the first of the mult filters,
    /// <paramref name="y"/> the first output plane, <paramref name="bias"/> the first bias (or null).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Channel(in Geometry g, float* x, float* w, float* y, float* bias, int mult, float* scratch, int* tables, GemmTier tier)
    {
        bool avx2 = UsesAvx2(tier);
        var l = StridePhaseLayout.Of(g);
        float* plane = scratch;
        float* run = scratch + l.PlaneFloats + Slack;
        int kvol = g.KD * g.KH * g.KW;
        int* offsets = tables;
        Scatter(g, l, x, plane, tables + kvol, avx2);
        nint outPlane = (nint)g.OutD * g.OutH * g.OutW;
        int rowsOut = g.OutD * g.OutH;
        for (int m = 0; m < mult; m++)
        {
            float* yk = y + m * outPlane;
            float* wk = w + (nint)m * kvol;
            float b = bias == null ? 0f : bias[m];
            if (g.OutW < 16)
            {
                // Narrow rows: one long row over the phase layout, then keep the OutW valid columns of each row.
                if (avx2) Row256(run, plane, (int)l.RunLength, offsets, wk, kvol, b, spill: Slack);
                else Row(run, plane, (int)l.RunLength, offsets, wk, kvol, b, overrun: true);
                for (int od = 0; od < g.OutD; od++)
                for (int oh = 0; oh < g.OutH; oh++)
                    Copy(run + ((nint)od * l.Hq + oh) * l.Lq, yk + ((nint)od * g.OutH + oh) * g.OutW, g.OutW);
                continue;
            }
            // Wide rows straight into y; a row's last vector may spill into the next row, which is
            // computed afterwards and overwrites it — except after the plane's last row.
            int r = 0;
            for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++, r++)
            {
                float* dst = yk + (nint)r * g.OutW, src = plane + ((nint)od * l.Hq + oh) * l.Lq;
                if (avx2) Row256(dst, src, g.OutW, offsets, wk, kvol, b, spill: (int)Math.Min((long)(rowsOut - 1 - r) * g.OutW, Slack));
                else Row(dst, src, g.OutW, offsets, wk, kvol, b, overrun: r < rowsOut - 1);
            }
        }
    }

    /// <summary>Copies the input plane into the interior of the padded phase planes (pads stay zero).</summary>
    internal static void Scatter(in Geometry g, in StridePhaseLayout l, float* x, float* dst, int* rowBases) =>
        Scatter(g, l, x, dst, rowBases, avx2: false);

    /// <summary><see cref="Scatter(in Geometry, in StridePhaseLayout, float*, float*, int*)"/>; with <paramref name="avx2"/> stride-2 rows split 16 columns a step in ymm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Scatter(in Geometry g, in StridePhaseLayout l, float* x, float* dst, int* rowBases, bool avx2)
    {
        int count = Math.Min(g.InW, l.Wp - g.PW);
        int rows = g.InD * g.InH;
        for (int r = 0; r < rows; r++)
        {
            int rowBase = rowBases[r];
            if (rowBase < 0) continue;
            float* src = x + (nint)r * g.InW;
            if (g.SW == 1)
            {
                Copy(src, dst + rowBase + g.PW, count);
                continue;
            }
            if (g.SW == 2)
            {
                // Even input columns land in phase pw mod 2 from index pw / 2, odd ones in the other phase.
                int evenPhase = g.PW & 1, oddPhase = (g.PW + 1) & 1;
                if (avx2)
                {
                    PhaseSplitAvx2.Stride2(src, count, dst + rowBase + (nint)evenPhase * l.PhaseFloats + g.PW / 2,
                        dst + rowBase + (nint)oddPhase * l.PhaseFloats + (g.PW + 1) / 2);
                    continue;
                }
                VectorOps.GatherStride2(src, dst + rowBase + (nint)evenPhase * l.PhaseFloats + g.PW / 2, (count + 1) / 2, src + count);
                VectorOps.GatherStride2(src + 1, dst + rowBase + (nint)oddPhase * l.PhaseFloats + (g.PW + 1) / 2, count / 2, src + count);
                continue;
            }
            // Phase q holds padded columns q, q + s, …; input column iw is padded column iw + pw.
            for (int q = 0; q < g.SW; q++)
            {
                int iw = ((q - g.PW) % g.SW + g.SW) % g.SW;
                float* d = dst + rowBase + (nint)q * l.PhaseFloats + (iw + g.PW) / g.SW;
                for (; iw < count; iw += g.SW) *d++ = src[iw];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Copy(float* src, float* dst, int count)
    {
        if (count >= 32)
        {
            Buffer.MemoryCopy(src, dst, count * sizeof(float), count * sizeof(float));
            return;
        }
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= count; i += 4) Vector128.Load(src + i).Store(dst + i);
        for (; i < count; i++) dst[i] = src[i];
    }

    /// <summary>
    /// dst[i] = bias + Σₜ w[t]·src[i + offsets[t]] for i in [0, length), widest vectors first; with
    /// <paramref name="overrun"/> the last vector may write (and read) past the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row(float* dst, float* src, int length, int* offsets, float* w, int taps, float bias, bool overrun)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(bias);
            for (; i + 64 <= length; i += 64)
            {
                // Two accumulator sets (even and odd taps): eight independent FMA chains hide the FMA latency.
                Vector512<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                float* s = src + i;
                int t = 0;
                for (; t + 1 < taps; t += 2)
                {
                    float* p = s + offsets[t];
                    float* q = s + offsets[t + 1];
                    var wv = Vector512.Create(w[t]);
                    var wu = Vector512.Create(w[t + 1]);
                    a0 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p), a0);
                    a1 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p + 16), a1);
                    a2 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p + 32), a2);
                    a3 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p + 48), a3);
                    b0 = Vector512.MultiplyAddEstimate(wu, Vector512.Load(q), b0);
                    b1 = Vector512.MultiplyAddEstimate(wu, Vector512.Load(q + 16), b1);
                    b2 = Vector512.MultiplyAddEstimate(wu, Vector512.Load(q + 32), b2);
                    b3 = Vector512.MultiplyAddEstimate(wu, Vector512.Load(q + 48), b3);
                }
                if (t < taps)
                {
                    float* p = s + offsets[t];
                    var wv = Vector512.Create(w[t]);
                    a0 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p), a0);
                    a1 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p + 16), a1);
                    a2 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p + 32), a2);
                    a3 = Vector512.MultiplyAddEstimate(wv, Vector512.Load(p + 48), a3);
                }
                (a0 + b0).Store(dst + i); (a1 + b1).Store(dst + i + 16); (a2 + b2).Store(dst + i + 32); (a3 + b3).Store(dst + i + 48);
            }
            for (; overrun ? i < length : i + 16 <= length; i += 16)
            {
                Vector512<float> a0 = vb, b0 = default;
                int t = 0;
                for (; t + 1 < taps; t += 2)
                {
                    a0 = Vector512.MultiplyAddEstimate(Vector512.Create(w[t]), Vector512.Load(src + i + offsets[t]), a0);
                    b0 = Vector512.MultiplyAddEstimate(Vector512.Create(w[t + 1]), Vector512.Load(src + i + offsets[t + 1]), b0);
                }
                if (t < taps) a0 = Vector512.MultiplyAddEstimate(Vector512.Create(w[t]), Vector512.Load(src + i + offsets[t]), a0);
                (a0 + b0).Store(dst + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(bias);
            for (; i + 32 <= length; i += 32)
            {
                Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                float* s = src + i;
                for (int t = 0; t < taps; t++)
                {
                    float* p = s + offsets[t];
                    var wv = Vector256.Create(w[t]);
                    a0 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p), a0);
                    a1 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p + 8), a1);
                    a2 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p + 16), a2);
                    a3 = Vector256.MultiplyAddEstimate(wv, Vector256.Load(p + 24), a3);
                }
                a0.Store(dst + i); a1.Store(dst + i + 8); a2.Store(dst + i + 16); a3.Store(dst + i + 24);
            }
            for (; overrun ? i < length : i + 8 <= length; i += 8)
            {
                var a0 = vb;
                for (int t = 0; t < taps; t++)
                    a0 = Vector256.MultiplyAddEstimate(Vector256.Create(w[t]), Vector256.Load(src + i + offsets[t]), a0);
                a0.Store(dst + i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var vb = Vector128.Create(bias);
            for (; overrun ? i < length : i + 4 <= length; i += 4)
            {
                var a0 = vb;
                for (int t = 0; t < taps; t++)
                    a0 = Vector128.MultiplyAddEstimate(Vector128.Create(w[t]), Vector128.Load(src + i + offsets[t]), a0);
                a0.Store(dst + i);
            }
        }
        for (; i < length; i++)
        {
            float acc = bias;
            for (int t = 0; t < taps; t++) acc += w[t] * src[i + offsets[t]];
            dst[i] = acc;
        }
    }

    /// <summary>
    /// <see cref="Row"/> in ymm registers for AVX2 + FMA: 32 outputs a step in two accumulator sets (even
    /// and odd taps), eight independent FMA chains, enough to keep both FMA pipes busy (one set of four, as
    /// a plain 8-lane loop has, waits on the FMA latency half the time: MobileNetV2's 112 × 112 stride-2
    /// layer ran ~1.4× slower so). A row's last part runs as one more 32-wide step where up to
    /// <paramref name="spill"/> floats past the end may be written (and read), else 8 at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row256(float* dst, float* src, int length, int* offsets, float* w, int taps, float bias, int spill)
    {
        var vb = Vector256.Create(bias);
        int i = 0;
        for (; i + 32 <= length || (i < length && i + 32 <= length + spill); i += 32)
        {
            Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            float* s = src + i;
            int t = 0;
            for (; t + 1 < taps; t += 2)
            {
                float* p = s + offsets[t];
                float* q = s + offsets[t + 1];
                var wv = Vector256.Create(w[t]);
                var wu = Vector256.Create(w[t + 1]);
                a0 = Fma.MultiplyAdd(wv, Vector256.Load(p), a0);
                a1 = Fma.MultiplyAdd(wv, Vector256.Load(p + 8), a1);
                a2 = Fma.MultiplyAdd(wv, Vector256.Load(p + 16), a2);
                a3 = Fma.MultiplyAdd(wv, Vector256.Load(p + 24), a3);
                b0 = Fma.MultiplyAdd(wu, Vector256.Load(q), b0);
                b1 = Fma.MultiplyAdd(wu, Vector256.Load(q + 8), b1);
                b2 = Fma.MultiplyAdd(wu, Vector256.Load(q + 16), b2);
                b3 = Fma.MultiplyAdd(wu, Vector256.Load(q + 24), b3);
            }
            if (t < taps)
            {
                float* p = s + offsets[t];
                var wv = Vector256.Create(w[t]);
                a0 = Fma.MultiplyAdd(wv, Vector256.Load(p), a0);
                a1 = Fma.MultiplyAdd(wv, Vector256.Load(p + 8), a1);
                a2 = Fma.MultiplyAdd(wv, Vector256.Load(p + 16), a2);
                a3 = Fma.MultiplyAdd(wv, Vector256.Load(p + 24), a3);
            }
            (a0 + b0).Store(dst + i); (a1 + b1).Store(dst + i + 8); (a2 + b2).Store(dst + i + 16); (a3 + b3).Store(dst + i + 24);
        }
        for (; i + 8 <= length || (i < length && i + 8 <= length + spill); i += 8)
        {
            Vector256<float> a0 = vb, b0 = default;
            int t = 0;
            for (; t + 1 < taps; t += 2)
            {
                a0 = Fma.MultiplyAdd(Vector256.Create(w[t]), Vector256.Load(src + i + offsets[t]), a0);
                b0 = Fma.MultiplyAdd(Vector256.Create(w[t + 1]), Vector256.Load(src + i + offsets[t + 1]), b0);
            }
            if (t < taps) a0 = Fma.MultiplyAdd(Vector256.Create(w[t]), Vector256.Load(src + i + offsets[t]), a0);
            (a0 + b0).Store(dst + i);
        }
        for (; i < length; i++)
        {
            float acc = bias;
            for (int t = 0; t < taps; t++) acc = MathF.FusedMultiplyAdd(w[t], src[i + offsets[t]], acc);
            dst[i] = acc;
        }
    }
}
