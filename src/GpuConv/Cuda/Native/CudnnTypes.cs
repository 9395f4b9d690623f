using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// cudnnStatus_t as renumbered in cuDNN 9 (cudnn_graph.h): the category is code / 1000. cuDNN 7/8's
/// 0–13 codes are NOT valid here.
/// </summary>
public enum CudnnStatus
{
    /// <summary>CUDNN_STATUS_SUCCESS.</summary>
    Success = 0,
    /// <summary>CUDNN_STATUS_NOT_INITIALIZED.</summary>
    NotInitialized = 1001,
    /// <summary>CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH.</summary>
    SublibraryVersionMismatch = 1002,
    /// <summary>CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH.</summary>
    SerializationVersionMismatch = 1003,
    /// <summary>CUDNN_STATUS_DEPRECATED.</summary>
    Deprecated = 1004,
    /// <summary>CUDNN_STATUS_LICENSE_ERROR.</summary>
    LicenseError = 1005,
    /// <summary>CUDNN_STATUS_RUNTIME_IN_PROGRESS.</summary>
    RuntimeInProgress = 1006,
    /// <summary>CUDNN_STATUS_RUNTIME_FP_OVERFLOW.</summary>
    RuntimeFpOverflow = 1007,
    /// <summary>CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED.</summary>
    SublibraryLoadingFailed = 1008,
    /// <summary>CUDNN_STATUS_BAD_PARAM.</summary>
    BadParam = 2000,
    /// <summary>CUDNN_STATUS_BAD_PARAM_NULL_POINTER.</summary>
    BadParamNullPointer = 2002,
    /// <summary>CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER.</summary>
    BadParamMisalignedPointer = 2003,
    /// <summary>CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED.</summary>
    BadParamNotFinalized = 2004,
    /// <summary>CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND.</summary>
    BadParamOutOfBound = 2005,
    /// <summary>CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT.</summary>
    BadParamSizeInsufficient = 2006,
    /// <summary>CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH.</summary>
    BadParamStreamMismatch = 2007,
    /// <summary>CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH.</summary>
    BadParamShapeMismatch = 2008,
    /// <summary>CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES.</summary>
    BadParamDuplicatedEntries = 2009,
    /// <summary>CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE.</summary>
    BadParamAttributeType = 2010,
    /// <summary>CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH.</summary>
    BadParamCudaGraphMismatch = 2011,
    /// <summary>CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE.</summary>
    BadParamDescriptorType = 2012,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED.</summary>
    NotSupported = 3000,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN.</summary>
    NotSupportedGraphPattern = 3001,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_SHAPE.</summary>
    NotSupportedShape = 3002,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE.</summary>
    NotSupportedDataType = 3003,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_LAYOUT.</summary>
    NotSupportedLayout = 3004,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER.</summary>
    NotSupportedIncompatibleCudaDriver = 3005,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART.</summary>
    NotSupportedIncompatibleCudart = 3006,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH.</summary>
    NotSupportedArchMismatch = 3007,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING.</summary>
    NotSupportedRuntimePrerequisiteMissing = 3008,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE.</summary>
    NotSupportedSublibraryUnavailable = 3009,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT.</summary>
    NotSupportedSharedMemoryInsufficient = 3010,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_PADDING.</summary>
    NotSupportedPadding = 3011,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM.</summary>
    NotSupportedBadLaunchParam = 3012,
    /// <summary>CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API.</summary>
    NotSupportedCudaGraphNativeApi = 3013,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR.</summary>
    InternalError = 4000,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED.</summary>
    InternalErrorCompilationFailed = 4001,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE.</summary>
    InternalErrorUnexpectedValue = 4002,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED.</summary>
    InternalErrorHostAllocationFailed = 4003,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED.</summary>
    InternalErrorDeviceAllocationFailed = 4004,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM.</summary>
    InternalErrorBadLaunchParam = 4005,
    /// <summary>CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED.</summary>
    InternalErrorTextureCreationFailed = 4006,
    /// <summary>CUDNN_STATUS_EXECUTION_FAILED.</summary>
    ExecutionFailed = 5000,
    /// <summary>CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER.</summary>
    ExecutionFailedCudaDriver = 5001,
    /// <summary>CUDNN_STATUS_EXECUTION_FAILED_CUBLAS.</summary>
    ExecutionFailedCublas = 5002,
    /// <summary>CUDNN_STATUS_EXECUTION_FAILED_CUDART.</summary>
    ExecutionFailedCudart = 5003,
    /// <summary>CUDNN_STATUS_EXECUTION_FAILED_CURAND.</summary>
    ExecutionFailedCurand = 5004,
}

internal enum CudnnDataType
{
    Float = 0,
    Double = 1,
    Half = 2,
    Int8 = 3,
    Int32 = 4,
    Uint8 = 6,
    Bfloat16 = 9,
}

internal enum CudnnTensorFormat
{
    Nchw = 0,
    Nhwc = 1,
}

internal enum CudnnConvolutionMode
{
    Convolution = 0,
    /// <summary>PyTorch's and ONNX's "convolution".</summary>
    CrossCorrelation = 1,
}

internal enum CudnnMathType
{
    Default = 0,
    TensorOp = 1,
    TensorOpAllowConversion = 2,
    /// <summary>Plain FMA: no TF32, no tensor-op down-conversion.</summary>
    Fma = 3,
}

internal enum CudnnDeterminism
{
    NonDeterministic = 0,
    Deterministic = 1,
}

internal enum CudnnConvolutionFwdAlgo
{
    ImplicitGemm = 0,
    ImplicitPrecompGemm = 1,
    Gemm = 2,
    Direct = 3,
    Fft = 4,
    FftTiling = 5,
    Winograd = 6,
    WinogradNonfused = 7,
    Count = 8,
}

internal enum CudnnConvolutionBwdDataAlgo
{
    Algo0 = 0,
    Algo1 = 1,
    Fft = 2,
    FftTiling = 3,
    Winograd = 4,
    WinogradNonfused = 5,
    Count = 6,
}

internal enum CudnnConvolutionBwdFilterAlgo
{
    Algo0 = 0,
    Algo1 = 1,
    Fft = 2,
    Algo3 = 3,
    Winograd = 4,
    WinogradNonfused = 5,
    FftTiling = 6,
    Count = 7,
}

internal enum CudnnActivationMode
{
    Sigmoid = 0,
    Relu = 1,
    Tanh = 2,
    ClippedRelu = 3,
    Elu = 4,
    Identity = 5,
}

internal enum CudnnNanPropagation
{
    NotPropagateNan = 0,
    PropagateNan = 1,
}

/// <summary>
/// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: the three C structs share this layout
/// { int algo; int status; float time; size_t memory; int determinism; int mathType; int reserved[3]; }
/// — 48 bytes on LP64 with <see cref="Memory"/> at offset 16. <see cref="Algo"/> is the raw enum value
/// of the matching algorithm enum.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CudnnConvolutionAlgoPerf
{
    public int Algo;
    public CudnnStatus Status;
    public float Time;
    public nuint Memory;
    public CudnnDeterminism Determinism;
    public CudnnMathType MathType;
    public int Reserved0;
    public int Reserved1;
    public int Reserved2;

    public override readonly string ToString() =>
        $"algo {Algo} status {Status} time {Time} ms workspace {Memory} B {Determinism} {MathType}";
}
