using GpuConv.Backends.Cudnn;
using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// PixelShuffle, PixelUnshuffle and ChannelShuffle on a device: one strided_copy_f32 of kernels/strided_copy.ptx on the
/// runtime's stream (no wait), walking the <see cref="Rearrangement"/>. A copy: the same bits as the CPU loop.
/// </summary>
internal static class RearrangeKernels
{
    /// <summary>strided_copy_f32's arguments copying <paramref name="source"/> (the input) into <paramref name="destination"/> as the view says.</summary>
    public static KernelArgumentPack Pack(in Rearrangement view, ulong source, ulong destination)
    {
        Span<int> dims = stackalloc int[Rearrangement.Rank];
        Span<long> sourceStrides = stackalloc long[Rearrangement.Rank];
        Span<long> destinationStrides = stackalloc long[Rearrangement.Rank];
        view.Describe(dims, sourceStrides, destinationStrides);
        return StridedCopy.Pack(source, destination, dims, sourceStrides, destinationStrides);
    }

    /// <summary><see cref="Pack"/> boxed, for the interpreter tests.</summary>
    public static object[] Arguments(in Rearrangement view, ulong source, ulong destination) => Pack(view, source, destination).ToObjects();

    /// <summary>The copy, ordered on the runtime's stream.</summary>
    public static void Launch(IPtxRuntime runtime, in Rearrangement view, ulong source, ulong destination)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(view, source, destination);
        uint grid = (uint)Math.Clamp((view.Count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(StridedCopy.Module, StridedCopy.Entry, grid, PtxConvBackend.BlockSize, args);
    }
}
