using GpuConv.Conv;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>The loaded cuDNN library behind <see cref="ICudnnApi"/>: each method is one call into <see cref="CuDnn"/>.</summary>
internal sealed unsafe class NativeCudnnApi : ICudnnApi
{
    public static readonly NativeCudnnApi Instance = new();

    NativeCudnnApi() { }

    public nuint GetVersion() => CuDnn.cudnnGetVersion();

    public CudnnStatus CreateHandle(out nint handle) => CuDnn.cudnnCreate(out handle);
    public CudnnStatus DestroyHandle(nint handle) => CuDnn.cudnnDestroy(handle);
    public CudnnStatus SetStream(nint handle, nint stream) => CuDnn.cudnnSetStream(handle, stream);

    public CudnnStatus CreateTensorDescriptor(out nint desc) => CuDnn.cudnnCreateTensorDescriptor(out desc);
    public CudnnStatus DestroyTensorDescriptor(nint desc) => CuDnn.cudnnDestroyTensorDescriptor(desc);
    public CudnnStatus SetTensorNdDescriptor(nint desc, CudnnDataType dataType, int nbDims, int* dims, int* strides) =>
        CuDnn.cudnnSetTensorNdDescriptor(desc, dataType, nbDims, dims, strides);
    public CudnnStatus CreateFilterDescriptor(out nint desc) => CuDnn.cudnnCreateFilterDescriptor(out desc);
    public CudnnStatus DestroyFilterDescriptor(nint desc) => CuDnn.cudnnDestroyFilterDescriptor(desc);
    public CudnnStatus SetFilterNdDescriptor(nint desc, CudnnDataType dataType, CudnnTensorFormat format, int nbDims, int* dims) =>
        CuDnn.cudnnSetFilterNdDescriptor(desc, dataType, format, nbDims, dims);
    public CudnnStatus CreateConvolutionDescriptor(out nint desc) => CuDnn.cudnnCreateConvolutionDescriptor(out desc);
    public CudnnStatus DestroyConvolutionDescriptor(nint desc) => CuDnn.cudnnDestroyConvolutionDescriptor(desc);
    public CudnnStatus SetConvolutionNdDescriptor(nint desc, int arrayLength, int* pads, int* strides, int* dilations,
        CudnnConvolutionMode mode, CudnnDataType computeType) =>
        CuDnn.cudnnSetConvolutionNdDescriptor(desc, arrayLength, pads, strides, dilations, mode, computeType);
    public CudnnStatus SetConvolutionGroupCount(nint desc, int groups) => CuDnn.cudnnSetConvolutionGroupCount(desc, groups);
    public CudnnStatus SetConvolutionMathType(nint desc, CudnnMathType mathType) => CuDnn.cudnnSetConvolutionMathType(desc, mathType);
    public CudnnStatus CreateActivationDescriptor(out nint desc) => CuDnn.cudnnCreateActivationDescriptor(out desc);
    public CudnnStatus DestroyActivationDescriptor(nint desc) => CuDnn.cudnnDestroyActivationDescriptor(desc);
    public CudnnStatus SetActivationDescriptor(nint desc, CudnnActivationMode mode, CudnnNanPropagation nan, double coef) =>
        CuDnn.cudnnSetActivationDescriptor(desc, mode, nan, coef);

    public CudnnStatus GetAlgorithmMaxCount(ConvOp op, nint handle, out int count) => op switch
    {
        ConvOp.Forward => CuDnn.cudnnGetConvolutionForwardAlgorithmMaxCount(handle, out count),
        ConvOp.BackwardData => CuDnn.cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, out count),
        _ => CuDnn.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, out count),
    };

    public CudnnStatus GetAlgorithm_v7(ConvOp op, nint handle, nint x, nint w, nint conv, nint y,
        int requested, out int returned, CudnnConvolutionAlgoPerf* perf) => op switch
    {
        ConvOp.Forward => CuDnn.cudnnGetConvolutionForwardAlgorithm_v7(handle, x, w, conv, y, requested, out returned, perf),
        ConvOp.BackwardData => CuDnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, w, y, conv, x, requested, out returned, perf),
        _ => CuDnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, x, y, conv, w, requested, out returned, perf),
    };

    public CudnnStatus GetWorkspaceSize(ConvOp op, nint handle, nint x, nint w, nint conv, nint y, int algo, out nuint bytes) => op switch
    {
        ConvOp.Forward => CuDnn.cudnnGetConvolutionForwardWorkspaceSize(handle, x, w, conv, y, (CudnnConvolutionFwdAlgo)algo, out bytes),
        ConvOp.BackwardData => CuDnn.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, w, y, conv, x, (CudnnConvolutionBwdDataAlgo)algo, out bytes),
        _ => CuDnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x, y, conv, w, (CudnnConvolutionBwdFilterAlgo)algo, out bytes),
    };

    public CudnnStatus Convolution(ConvOp op, nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, void* beta, nint yDesc, ulong y) => op switch
    {
        ConvOp.Forward => CuDnn.cudnnConvolutionForward(handle, alpha, xDesc, x, wDesc, w, conv,
            (CudnnConvolutionFwdAlgo)algo, workspace, workspaceBytes, beta, yDesc, y),
        ConvOp.BackwardData => CuDnn.cudnnConvolutionBackwardData(handle, alpha, wDesc, w, yDesc, y, conv,
            (CudnnConvolutionBwdDataAlgo)algo, workspace, workspaceBytes, beta, xDesc, x),
        _ => CuDnn.cudnnConvolutionBackwardFilter(handle, alpha, xDesc, x, yDesc, y, conv,
            (CudnnConvolutionBwdFilterAlgo)algo, workspace, workspaceBytes, beta, wDesc, w),
    };

    public CudnnStatus ConvolutionBackwardBias(nint handle, void* alpha, nint dyDesc, ulong dy, void* beta, nint dbDesc, ulong db) =>
        CuDnn.cudnnConvolutionBackwardBias(handle, alpha, dyDesc, dy, beta, dbDesc, db);

    public CudnnStatus ConvolutionBiasActivationForward(nint handle, void* alpha1, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, void* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias,
        nint activation, nint yDesc, ulong y) =>
        CuDnn.cudnnConvolutionBiasActivationForward(handle, alpha1, xDesc, x, wDesc, w, conv, (CudnnConvolutionFwdAlgo)algo,
            workspace, workspaceBytes, alpha2, zDesc, z, biasDesc, bias, activation, yDesc, y);

    public CudnnStatus AddTensor(nint handle, void* alpha, nint aDesc, ulong a, void* beta, nint cDesc, ulong c) =>
        CuDnn.cudnnAddTensor(handle, alpha, aDesc, a, beta, cDesc, c);
    public CudnnStatus TransformTensor(nint handle, void* alpha, nint xDesc, ulong x, void* beta, nint yDesc, ulong y) =>
        CuDnn.cudnnTransformTensor(handle, alpha, xDesc, x, beta, yDesc, y);
    public CudnnStatus SetTensor(nint handle, nint yDesc, ulong y, void* value) => CuDnn.cudnnSetTensor(handle, yDesc, y, value);
}
