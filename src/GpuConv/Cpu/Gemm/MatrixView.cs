using System.Runtime.CompilerServices;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// A read-only strided view of a float matrix: element (i, j) is at <c>Pointer[i * RowStride + j * ColStride]</c>.
/// A row-major matrix has ColStride 1; its transpose is the same memory with the strides swapped,
/// which is how the convolution passes Wᵀ and colᵀ to the GEMM without copying.
/// </summary>
internal readonly unsafe struct MatrixView(float* pointer, nint rowStride, nint colStride)
{
    public float* Pointer { get; } = pointer;
    public nint RowStride { get; } = rowStride;
    public nint ColStride { get; } = colStride;

    public static MatrixView RowMajor(float* p, nint ld) => new(p, ld, 1);
    public static MatrixView Transposed(float* p, nint ld) => new(p, 1, ld);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* At(nint i, nint j) => Pointer + i * RowStride + j * ColStride;

    /// <summary>The view starting at (i, j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MatrixView Offset(nint i, nint j) => new(At(i, j), RowStride, ColStride);
}
