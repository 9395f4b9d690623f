using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.ChannelTiled;

/// <summary>
/// Writes rows of a convolution's channel panels (<see cref="ChannelPanels"/>' layout) on demand, from weights kept in
/// another layout: channel-tiled packs per-call weights through it, a K chunk at a time inside its tasks, instead of
/// reading panels written beforehand (forward-phases' sub-kernels are W transposed and flipped, written this way
/// straight from W).
/// </summary>
internal unsafe interface IPanelRows
{
    /// <summary>
    /// Rows [<paramref name="row0"/>, <paramref name="row0"/> + <paramref name="rows"/>) of the panel of output-channel block
    /// <paramref name="block"/> of group <paramref name="group"/> into <paramref name="panel"/> (64 floats a row; lanes from
    /// <paramref name="count"/> on zero). The rows start and end at whole input channels (row0 and rows are multiples of
    /// the kernel volume). Scratch from the worker's Tables slot.
    /// </summary>
    void Write(int group, int block, int count, int row0, int rows, float* panel, WorkspaceSet ws);
}
