namespace GpuConv.Cuda.Native;

/// <summary>CUresult from cuda.h (values checked against CUDA 12.6 headers).</summary>
public enum CuResult
{
    /// <summary>CUDA_SUCCESS.</summary>
    Success = 0,
    /// <summary>CUDA_ERROR_INVALID_VALUE.</summary>
    ErrorInvalidValue = 1,
    /// <summary>CUDA_ERROR_OUT_OF_MEMORY.</summary>
    ErrorOutOfMemory = 2,
    /// <summary>CUDA_ERROR_NOT_INITIALIZED.</summary>
    ErrorNotInitialized = 3,
    /// <summary>CUDA_ERROR_DEINITIALIZED.</summary>
    ErrorDeinitialized = 4,
    /// <summary>CUDA_ERROR_NO_DEVICE.</summary>
    ErrorNoDevice = 100,
    /// <summary>CUDA_ERROR_INVALID_DEVICE.</summary>
    ErrorInvalidDevice = 101,
    /// <summary>CUDA_ERROR_DEVICE_NOT_LICENSED.</summary>
    ErrorDeviceNotLicensed = 102,
    /// <summary>CUDA_ERROR_INVALID_IMAGE.</summary>
    ErrorInvalidImage = 200,
    /// <summary>CUDA_ERROR_INVALID_CONTEXT.</summary>
    ErrorInvalidContext = 201,
    /// <summary>CUDA_ERROR_NO_BINARY_FOR_GPU.</summary>
    ErrorNoBinaryForGpu = 209,
    /// <summary>CUDA_ERROR_INVALID_PTX.</summary>
    ErrorInvalidPtx = 218,
    /// <summary>CUDA_ERROR_JIT_COMPILER_NOT_FOUND.</summary>
    ErrorJitCompilerNotFound = 221,
    /// <summary>CUDA_ERROR_UNSUPPORTED_PTX_VERSION.</summary>
    ErrorUnsupportedPtxVersion = 222,
    /// <summary>CUDA_ERROR_INVALID_SOURCE.</summary>
    ErrorInvalidSource = 300,
    /// <summary>CUDA_ERROR_FILE_NOT_FOUND.</summary>
    ErrorFileNotFound = 301,
    /// <summary>CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND.</summary>
    ErrorSharedObjectSymbolNotFound = 302,
    /// <summary>CUDA_ERROR_SHARED_OBJECT_INIT_FAILED.</summary>
    ErrorSharedObjectInitFailed = 303,
    /// <summary>CUDA_ERROR_OPERATING_SYSTEM.</summary>
    ErrorOperatingSystem = 304,
    /// <summary>CUDA_ERROR_INVALID_HANDLE.</summary>
    ErrorInvalidHandle = 400,
    /// <summary>CUDA_ERROR_ILLEGAL_STATE.</summary>
    ErrorIllegalState = 401,
    /// <summary>CUDA_ERROR_NOT_FOUND.</summary>
    ErrorNotFound = 500,
    /// <summary>CUDA_ERROR_NOT_READY.</summary>
    ErrorNotReady = 600,
    /// <summary>CUDA_ERROR_ILLEGAL_ADDRESS.</summary>
    ErrorIllegalAddress = 700,
    /// <summary>CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES.</summary>
    ErrorLaunchOutOfResources = 701,
    /// <summary>CUDA_ERROR_LAUNCH_TIMEOUT.</summary>
    ErrorLaunchTimeout = 702,
    /// <summary>CUDA_ERROR_MISALIGNED_ADDRESS.</summary>
    ErrorMisalignedAddress = 716,
    /// <summary>CUDA_ERROR_LAUNCH_FAILED.</summary>
    ErrorLaunchFailed = 719,
    /// <summary>CUDA_ERROR_NOT_PERMITTED.</summary>
    ErrorNotPermitted = 800,
    /// <summary>CUDA_ERROR_NOT_SUPPORTED.</summary>
    ErrorNotSupported = 801,
    /// <summary>CUDA_ERROR_SYSTEM_NOT_READY.</summary>
    ErrorSystemNotReady = 802,
    /// <summary>CUDA_ERROR_SYSTEM_DRIVER_MISMATCH.</summary>
    ErrorSystemDriverMismatch = 803,
    /// <summary>CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE.</summary>
    ErrorCompatNotSupportedOnDevice = 804,
    /// <summary>CUDA_ERROR_UNKNOWN.</summary>
    ErrorUnknown = 999,
}

/// <summary>CUdevice_attribute values this project reads.</summary>
internal enum CuDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MultiprocessorCount = 16,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
}

/// <summary>CUjit_option values used when loading PTX.</summary>
internal enum CuJitOption
{
    InfoLogBuffer = 3,
    InfoLogBufferSizeBytes = 4,
    ErrorLogBuffer = 5,
    ErrorLogBufferSizeBytes = 6,
}

/// <summary>Flags for cuStreamCreate and cuEventCreate.</summary>
internal static class CuFlags
{
    public const uint StreamDefault = 0;
    public const uint StreamNonBlocking = 1;
    public const uint EventDefault = 0;
    public const uint EventBlockingSync = 1;
    public const uint EventDisableTiming = 2;
}
