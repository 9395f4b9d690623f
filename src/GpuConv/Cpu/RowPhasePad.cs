using System.Runtime.CompilerServices;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu;

/// <summary>
/// Writes the zero-padded, stride-phase-split input of a 2-d problem (the layout of
/// <see cref="StridePhaseLayout"/>, as <see cref="ShiftedGemm.PadInput"/> writes it) in tasks of one
/// (plane, row phase): the stems have 3 input planes for 2 threads, and a split by planes left one
/// thread idle for a third of the pass (it took as long on two threads as on one). A row phase's
/// column phases are contiguous, so each task clears one block and copies every SH-th input row into it.
/// </summary>
internal static unsafe class RowPhasePad
{
    /// <summary>2-d problems (ranks 1 and 2: a unit depth, nothing to pad in it).</summary>
    public static bool Applies(in Geometry g) => g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.SD == 1 && g.PD == 0;

    /// <summary>Pads every input plane into the run's shared Columns slot, in parallel; returns the first plane.</summary>
    public static float* Pad(CpuConvContext ctx, StridePhaseLayout l)
    {
        var g = ctx.G;
        long paddedFloats = l.PlaneFloats * ctx.N * ctx.C;
        float* padded = ctx.Shared.Get(WorkspaceSlot.Columns, paddedFloats + ShiftedGemm.ReadSlack);
        new Span<float>(padded + paddedFloats, ShiftedGemm.ReadSlack).Clear();
        int units = ctx.N * ctx.C * g.SH;
        int tasks = Math.Min(units, ctx.Threads * ConvTiling.TasksPerThread);
        nint dst = (nint)padded;
        ctx.Workers.For(tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t, _) =>
        {
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            for (int u = u0; u < u1; u++)
            {
                int plane = u / g.SH, ah = u - plane * g.SH;
                RowPhase(g, l, ah, ctx.X + plane * ctx.InPlane, (float*)dst + plane * l.PlaneFloats + (nint)ah * g.SW * l.PhaseFloats);
            }
        });
        return padded;
    }

    /// <summary>Row phase <paramref name="ah"/> of one plane: its SW column phases cleared, then input rows ih ≡ ah − PH (mod SH) copied in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowPhase(in Geometry g, in StridePhaseLayout l, int ah, float* x, float* dst)
    {
        new Span<float>(dst, checked((int)(g.SW * l.PhaseFloats))).Clear();
        int count = Math.Min(g.InW, l.Wp - g.PW);
        if (count <= 0) return;
        for (int h = 0; h < l.Hq; h++)
        {
            int ph = h * g.SH + ah, ih = ph - g.PH;
            if (ph >= l.Hp || ih < 0) continue;
            if (ih >= g.InH) break;
            float* src = x + (nint)ih * g.InW, row = dst + (nint)h * l.Lq;
            if (g.SW == 1)
            {
                Buffer.MemoryCopy(src, row + g.PW, count * sizeof(float), count * sizeof(float));
            }
            else if (g.SW == 2)
            {
                VectorOps.GatherStride2(src, row + (g.PW & 1) * l.PhaseFloats + g.PW / 2, (count + 1) / 2, src + count);
                VectorOps.GatherStride2(src + 1, row + ((g.PW + 1) & 1) * l.PhaseFloats + (g.PW + 1) / 2, count / 2, src + count);
            }
            else
            {
                for (int iw = 0; iw < count; iw++)
                {
                    int pw = iw + g.PW;
                    row[(pw % g.SW) * l.PhaseFloats + pw / g.SW] = src[iw];
                }
            }
        }
    }
}
