using GpuConv.Backends.Cudnn;
using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/strided_copy.ptx for Concat, Narrow and Split: one strided_copy_f32 per slab on the runtime's
/// stream (no wait), between a dense part and its <see cref="DimSlab"/> of the whole tensor, the view usually 2-d
/// (rows of contiguous elements at two pitches). A copy: the same bits as the CPU's span copies.
/// </summary>
internal static class SlabCopyKernels
{
    /// <summary>strided_copy_f32's arguments copying the part at <paramref name="part"/> into the slab of the whole at <paramref name="whole"/> (or, with <paramref name="toWhole"/> false, the slab into the part).</summary>
    public static KernelArgumentPack Pack(in DimSlab slab, ulong part, ulong whole, bool toWhole)
    {
        Span<int> dims = stackalloc int[DimSlab.KernelRank];
        Span<long> partStrides = stackalloc long[DimSlab.KernelRank];
        Span<long> wholeStrides = stackalloc long[DimSlab.KernelRank];
        int rank = slab.KernelViewRank();
        if (rank > DimSlab.KernelRank)
            throw new InvalidOperationException($"slab {slab} needs {rank} strided dims and reached the launch unchecked (the engine refuses it first).");
        slab.KernelView(dims, partStrides, wholeStrides);
        ulong wholeStart = whole + (ulong)slab.WholeOffset * sizeof(float);
        return toWhole
            ? StridedCopy.Pack(part, wholeStart, dims[..rank], partStrides[..rank], wholeStrides[..rank])
            : StridedCopy.Pack(wholeStart, part, dims[..rank], wholeStrides[..rank], partStrides[..rank]);
    }

    /// <summary><see cref="Pack"/> boxed, for the interpreter tests.</summary>
    public static object[] Arguments(in DimSlab slab, ulong part, ulong whole, bool toWhole) => Pack(slab, part, whole, toWhole).ToObjects();

    /// <summary>The copy, ordered on the runtime's stream.</summary>
    public static void Launch(IPtxRuntime runtime, in DimSlab slab, ulong part, ulong whole, bool toWhole)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(slab, part, whole, toWhole);
        runtime.Launch(StridedCopy.Module, StridedCopy.Entry, Grid(slab.Count), PtxConvBackend.BlockSize, args);
    }

    /// <summary>One thread per element up to the backend's grid cap; the kernel's 64-bit grid-stride loop covers the rest.</summary>
    static uint Grid(long count) => (uint)Math.Clamp((count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
}
