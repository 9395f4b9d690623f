namespace GpuConv.Cuda.Native;

/// <summary>cublasStatus_t.</summary>
public enum CublasStatus
{
    Success = 0,
    NotInitialized = 1,
    AllocFailed = 3,
    InvalidValue = 7,
    ArchMismatch = 8,
    MappingError = 11,
    ExecutionFailed = 13,
    InternalError = 14,
    NotSupported = 15,
    LicenseError = 16,
}

/// <summary>cublasOperation_t.</summary>
internal enum CublasOperation
{
    N = 0,
    T = 1,
    C = 2,
}

/// <summary>cublasMath_t. Pedantic = strict IEEE FP32 (no TF32, no reduced-precision reductions).</summary>
internal enum CublasMath
{
    Default = 0,
    TensorOp = 1,
    Pedantic = 2,
    Tf32TensorOp = 3,
    DisallowReducedPrecisionReduction = 16,
}

/// <summary>cublasComputeType_t.</summary>
internal enum CublasComputeType
{
    Compute16F = 64,
    Compute32F = 68,
    Compute32FPedantic = 69,
    Compute32FFast16F = 74,
    Compute32FFast16BF = 75,
    Compute32FFastTf32 = 77,
}

/// <summary>cudaDataType_t (library_types.h).</summary>
internal enum CudaDataType
{
    R32F = 0,
    R64F = 1,
    R16F = 2,
    R16BF = 14,
}

/// <summary>cublasGemmAlgo_t: only the heuristic choice is used.</summary>
internal enum CublasGemmAlgo
{
    Default = -1,
}

/// <summary>libraryPropertyType_t for cublasGetProperty.</summary>
internal enum LibraryProperty
{
    MajorVersion = 0,
    MinorVersion = 1,
    PatchLevel = 2,
}
