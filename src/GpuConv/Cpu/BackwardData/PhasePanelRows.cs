using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.BackwardData;

/// <summary>
/// A forward-phases sub-kernel's channel panels written straight from W, a K chunk at a time inside the sub-run's
/// channel-tiled tasks (<see cref="IPanelRows"/>): panel row k · taps + m of a block of 64 dx channels is tap index[m]
/// of W[k, those channels] — what <see cref="TransposedByPhases.TransformWeights"/> writes for the whole kernel, here
/// read from L2 as it is written. Used for one-phase (unit-stride) plans with per-call weights, where the transform
/// would write every panel to memory and the forward read them back (ResNet-50's 7 × 7 × 512 3x3: 9.4 MB).
/// </summary>
internal sealed unsafe class PhasePanelRows(TransposedByPhases plan, TransposedByPhases.Phase phase) : IPanelRows
{
    const int Block = ChannelTileKernels.Channels;

    /// <summary>This call's W (the backward-data problem's layout), set under the backend's run lock before the sub-run.</summary>
    public float* W;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(int group, int block, int count, int row0, int rows, float* panel, WorkspaceSet ws)
    {
        var p = plan.Problem;
        int cg = p.CPerGroup, kg = p.KPerGroup, kvol = (int)p.KernelVolume, taps = phase.TapIndex.Length;
        int padded = Vector512.IsHardwareAccelerated ? (kvol + 15) / 16 * 16 : kvol;
        float* wEnd = W + p.WShape.ElementCount;
        float* tapMajor = ws.Get(WorkspaceSlot.Tables, 2L * Block * padded), rowsPadded = tapMajor + (nint)Block * padded;
        int k0 = row0 / taps, k1 = (row0 + rows) / taps;
        fixed (int* index = phase.TapIndex)
            for (int k = k0; k < k1; k++)
            {
                float* src = W + ((nint)(group * kg + k) * cg + block * Block) * kvol;     // [count][kvol]
                if (kvol > 1) TransposedByPhases.TapMajor(src, count, kvol, padded, wEnd, tapMajor, rowsPadded);
                TransposedByPhases.PanelRows(kvol == 1 ? src : tapMajor, index, taps, count, panel + (nint)(k - k0) * taps * Block);
            }
    }
}
