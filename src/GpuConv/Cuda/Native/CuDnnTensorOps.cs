using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// cuDNN tensor utilities the cuDNN backend uses to pad and crop through strided views
/// (asymmetric padding is not expressible in a legacy convolution descriptor).
/// </summary>
internal static unsafe partial class CuDnn
{
    /// <summary>y = alpha * x + beta * y, element by element, between two descriptors of the same dims (any strides).</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnTransformTensor(nint handle, void* alpha, nint xDesc, ulong x, void* beta, nint yDesc, ulong y);

    /// <summary>Sets every element of y (as its descriptor sees it) to *valuePtr.</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetTensor(nint handle, nint yDesc, ulong y, void* valuePtr);
}
