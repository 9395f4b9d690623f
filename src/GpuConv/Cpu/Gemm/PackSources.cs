using System.Runtime.CompilerServices;
using GpuConv.Cpu.Columns;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// Where the GEMM's B operand comes from: packing writes a kc × nc block starting at (pc, jc) as
/// ceil(nc/NR) micro-panels of kc × NR (zero-padded). A struct implementation lets the JIT
/// specialize the driver for each source.
/// </summary>
internal unsafe interface IPackSource
{
    void PackB(int pc, int jc, int kc, int nc, int nr, float* dst);
}

/// <summary>B is a matrix in memory (plain or transposed).</summary>
internal readonly unsafe struct ViewSource(MatrixView b) : IPackSource
{
    public void PackB(int pc, int jc, int kc, int nc, int nr, float* dst) => GemmPacking.PackB(b.Offset(pc, jc), kc, nc, nr, dst);
}

/// <summary>
/// B is the im2col column matrix of one image and group, never stored: packing builds each block of
/// it straight from the input into the micro-panel layout (the column matrix would otherwise be
/// written once by im2col and copied again by packing). Columns are offset by <paramref name="colBase"/>.
/// </summary>
internal readonly unsafe struct Im2ColSource(Geometry g, float* x, int colBase) : IPackSource
{
    public void PackB(int pc, int jc, int kc, int nc, int nr, float* dst) =>
        Im2ColFast.PackPanels(g, x, pc, kc, colBase + jc, nc, nr, dst);
}

/// <summary>
/// B for a unit-stride convolution over zero-padded input planes: row (channel c, tap t) of the
/// column matrix is the padded plane of c read from a constant tap offset, so every packed row is a
/// plain contiguous copy (no bounds logic). Columns are positions in the padded-width output space.
/// </summary>
internal readonly unsafe struct ShiftedSource(float* padded, nint plane, int* tapOffsets, int taps, int colBase) : IPackSource
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PackB(int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        nint panelStride = (nint)kc * nr;
        int c = pc / taps, t = pc - c * taps;     // row pc + p is (channel c, tap t), stepped without a division per row
        for (int p = 0; p < kc; p++)
        {
            GemmPacking.PackRow(padded + c * plane + tapOffsets[t] + colBase + jc, nc, nr, panelStride, dst + (nint)p * nr);
            if (++t == taps) { t = 0; c++; }
        }
    }
}
