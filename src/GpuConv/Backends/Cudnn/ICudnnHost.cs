using GpuConv.Backends.Ptx;
using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// What the cuDNN backend needs from the GPU runtime: device addresses of tensors, scratch memory,
/// the stream its handle is bound to, and event timing. Implemented by the CUDA layer's session.
/// </summary>
internal interface ICudnnHost
{
    IMemorySpace Memory { get; }

    /// <summary>The device address of a tensor of <see cref="Memory"/>.</summary>
    ulong PointerOf(Tensor tensor);

    /// <summary>Scratch device memory; throws <see cref="WorkspaceAllocationException"/> when it cannot.</summary>
    IDeviceScratch AllocateScratch(long bytes, string purpose);

    /// <summary>A cuDNN handle bound to the stream all work is issued on; its <see cref="CudnnHandle.Api"/> is the library every other call goes to.</summary>
    CudnnHandle CreateCudnnHandle();

    /// <summary>Makes the device's context current on the calling thread until the scope is disposed, which puts back the caller's.</summary>
    CurrentContextScope EnterContext();

    /// <summary>Milliseconds <paramref name="work"/> takes on the stream, measured with events.</summary>
    double TimeMs(Action work);

    void Synchronize();

    /// <summary>
    /// Plan B for the padded copies: dst[view] = src[view] with element strides per side, on the stream,
    /// through kernels/strided_copy.ptx (see <see cref="StridedCopy"/>). Used only when cuDNN refuses
    /// the copy.
    /// </summary>
    void StridedCopy(ulong source, ulong destination, int[] dims, long[] sourceStrides, long[] destinationStrides);
}
