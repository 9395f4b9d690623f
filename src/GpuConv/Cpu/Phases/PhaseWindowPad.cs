using System.Runtime.CompilerServices;
using GpuConv.Cpu.Shifted;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Phases;

/// <summary>
/// A window of the zero-padded, stride-phase-split input of a 2-d problem (the layout of
/// <see cref="StridePhaseLayout"/> that <see cref="ShiftedGemm.PadInput"/> writes for whole planes),
/// cut to the phase rows that a run of output rows reads: <see cref="ShiftedDirect"/>'s tasks each pad
/// their own window, so the padded rows are in cache when the kernel reads them and there is no
/// separate pass over the input (whose 3 planes did not split evenly over 2 threads either).
/// </summary>
internal static unsafe class PhaseWindowPad
{
    /// <summary>2-d problems (ranks 1 and 2: a unit depth, nothing to pad in it).</summary>
    public static bool Applies(in Geometry g) => g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.SD == 1 && g.PD == 0;

    /// <summary>
    /// Phase rows [h0, h0 + rows) of one plane into a window plane laid out as <paramref name="window"/>
    /// (the full layout's row length and phases, <c>Hq</c> rows per phase): every phase cleared, then the input rows copied in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Window(in Geometry g, in StridePhaseLayout window, int h0, int rows, float* x, float* dst)
    {
        new Span<float>(dst, checked((int)window.PlaneFloats)).Clear();
        int count = Math.Min(g.InW, window.Wp - g.PW);
        if (count <= 0) return;
        // Padded rows h0·SH … (h0 + rows)·SH - 1 in input order, each to its row phase (ah) and phase row (hl): the input
        // is read front to back, so the hardware prefetcher streams it from memory. Phase by phase it went every SH-th row
        // and back, and a cold stem input (3 × 224², from memory in a network) came at half the prefetched rate or less.
        int end = Math.Min((h0 + rows) * g.SH, Math.Min(window.Hp, g.InH + g.PH));
        for (int ph = Math.Max(h0 * g.SH, g.PH); ph < end; ph++)
        {
            int q = ph / g.SH, hl = q - h0, ah = ph - q * g.SH;
            float* phase = dst + (nint)ah * g.SW * window.PhaseFloats;
            CopyRow(g, window.PhaseFloats, x + (nint)(ph - g.PH) * g.InW, phase + (nint)hl * window.Lq, count);
        }
    }

    /// <summary>One input row's <paramref name="count"/> floats into its column phases (PhaseFloats apart), after PW zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyRow(in Geometry g, long phaseFloats, float* src, float* row, int count)
    {
        if (g.SW == 1)
        {
            Buffer.MemoryCopy(src, row + g.PW, count * sizeof(float), count * sizeof(float));
        }
        else if (g.SW == 2)
        {
            VectorOps.GatherStride2(src, row + (g.PW & 1) * phaseFloats + g.PW / 2, (count + 1) / 2, src + count);
            VectorOps.GatherStride2(src + 1, row + ((g.PW + 1) & 1) * phaseFloats + (g.PW + 1) / 2, count / 2, src + count);
        }
        else
        {
            for (int iw = 0; iw < count; iw++)
            {
                int pw = iw + g.PW;
                row[(pw % g.SW) * phaseFloats + pw / g.SW] = src[iw];
            }
        }
    }
}
