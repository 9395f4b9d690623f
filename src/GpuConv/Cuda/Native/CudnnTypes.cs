using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// cudnnStatus_t as renumbered in cuDNN 9 (cudnn_graph.h): the category is code / 1000. cuDNN 7/8's
/// 0–13 codes are NOT valid here.
/// </summary>
public enum CudnnStatus
{
    Success = 0,
    NotInitialized = 1001,
    SublibraryVersionMismatch = 1002,
    SerializationVersionMismatch = 1003,
    Deprecated = 1004,
    LicenseError = 1005,
    RuntimeInProgress = 1006,
    RuntimeFpOverflow = 1007,
    SublibraryLoadingFailed = 1008,
    BadParam = 2000,
    BadParamNullPointer = 2002,
    BadParamMisalignedPointer = 2003,
    BadParamNotFinalized = 2004,
    BadParamOutOfBound = 2005,
    BadParamSizeInsufficient = 2006,
    BadParamStreamMismatch = 2007,
    BadParamShapeMismatch = 2008,
    BadParamDuplicatedEntries = 2009,
    BadParamAttributeType = 2010,
    BadParamCudaGraphMismatch = 2011,
    BadParamDescriptorType = 2012,
    NotSupported = 3000,
    NotSupportedGraphPattern = 3001,
    NotSupportedShape = 3002,
    NotSupportedDataType = 3003,
    NotSupportedLayout = 3004,
    NotSupportedIncompatibleCudaDriver = 3005,
    NotSupportedIncompatibleCudart = 3006,
    NotSupportedArchMismatch = 3007,
    NotSupportedRuntimePrerequisiteMissing = 3008,
    NotSupportedSublibraryUnavailable = 3009,
    NotSupportedSharedMemoryInsufficient = 3010,
    NotSupportedPadding = 3011,
    NotSupportedBadLaunchParam = 3012,
    NotSupportedCudaGraphNativeApi = 3013,
    InternalError = 4000,
    InternalErrorCompilationFailed = 4001,
    InternalErrorUnexpectedValue = 4002,
    InternalErrorHostAllocationFailed = 4003,
    InternalErrorDeviceAllocationFailed = 4004,
    InternalErrorBadLaunchParam = 4005,
    InternalErrorTextureCreationFailed = 4006,
    ExecutionFailed = 5000,
    ExecutionFailedCudaDriver = 5001,
    ExecutionFailedCublas = 5002,
    ExecutionFailedCudart = 5003,
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
