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
        for (int ah = 0; ah < g.SH; ah++)
        {
            float* phase = dst + (nint)ah * g.SW * window.PhaseFloats;
            for (int hl = 0; hl < rows; hl++)
            {
                int ph = (h0 + hl) * g.SH + ah, ih = ph - g.PH;
                if (ph >= window.Hp || ih < 0) continue;
                if (ih >= g.InH) break;
                CopyRow(g, window.PhaseFloats, x + (nint)ih * g.InW, phase + (nint)hl * window.Lq, count);
            }
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
