using GpuConv.Conv;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>
/// The cuDNN calls the cuDNN backend and its descriptors make, behind an interface so the backend's own
/// logic (candidate lists, refusals, locking, padding, the fused path) is tested on CPU against a fake.
/// Signatures follow cuDNN's C functions; the three convolution variants are one method each with the
/// op deciding which tensor is the output (descriptors always in x, w, conv, y order here —
/// <see cref="NativeCudnnApi"/> puts them in each C function's own order).
/// </summary>
internal unsafe interface ICudnnApi
{
    nuint GetVersion();

    CudnnStatus CreateHandle(out nint handle);
    CudnnStatus DestroyHandle(nint handle);
    CudnnStatus SetStream(nint handle, nint stream);

    CudnnStatus CreateTensorDescriptor(out nint desc);
    CudnnStatus DestroyTensorDescriptor(nint desc);
    CudnnStatus SetTensorNdDescriptor(nint desc, CudnnDataType dataType, int nbDims, int* dims, int* strides);
    CudnnStatus CreateFilterDescriptor(out nint desc);
    CudnnStatus DestroyFilterDescriptor(nint desc);
    CudnnStatus SetFilterNdDescriptor(nint desc, CudnnDataType dataType, CudnnTensorFormat format, int nbDims, int* dims);
    CudnnStatus CreateConvolutionDescriptor(out nint desc);
    CudnnStatus DestroyConvolutionDescriptor(nint desc);
    CudnnStatus SetConvolutionNdDescriptor(nint desc, int arrayLength, int* pads, int* strides, int* dilations,
        CudnnConvolutionMode mode, CudnnDataType computeType);
    CudnnStatus SetConvolutionGroupCount(nint desc, int groups);
    CudnnStatus SetConvolutionMathType(nint desc, CudnnMathType mathType);
    CudnnStatus CreateActivationDescriptor(out nint desc);
    CudnnStatus DestroyActivationDescriptor(nint desc);
    CudnnStatus SetActivationDescriptor(nint desc, CudnnActivationMode mode, CudnnNanPropagation nan, double coef);

    /// <summary>cudnnGet{Forward,BackwardData,BackwardFilter}AlgorithmMaxCount.</summary>
    CudnnStatus GetAlgorithmMaxCount(ConvOp op, nint handle, out int count);

    /// <summary>cudnnGetConvolution*Algorithm_v7: cuDNN's heuristic ranking.</summary>
    CudnnStatus GetAlgorithm_v7(ConvOp op, nint handle, nint x, nint w, nint conv, nint y,
        int requested, out int returned, CudnnConvolutionAlgoPerf* perf);

    /// <summary>cudnnGetConvolution*WorkspaceSize.</summary>
    CudnnStatus GetWorkspaceSize(ConvOp op, nint handle, nint x, nint w, nint conv, nint y, int algo, out nuint bytes);

    /// <summary>cudnnConvolution{Forward,BackwardData,BackwardFilter}: the op's output = alpha * op(inputs) + beta * output.</summary>
    CudnnStatus Convolution(ConvOp op, nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, void* beta, nint yDesc, ulong y);

    CudnnStatus ConvolutionBackwardBias(nint handle, void* alpha, nint dyDesc, ulong dy, void* beta, nint dbDesc, ulong db);

    CudnnStatus ConvolutionBiasActivationForward(nint handle, void* alpha1, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, void* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias,
        nint activation, nint yDesc, ulong y);

    CudnnStatus AddTensor(nint handle, void* alpha, nint aDesc, ulong a, void* beta, nint cDesc, ulong c);
    CudnnStatus TransformTensor(nint handle, void* alpha, nint xDesc, ulong x, void* beta, nint yDesc, ulong y);
    CudnnStatus SetTensor(nint handle, nint yDesc, ulong y, void* value);
}
