namespace GpuConv.Cuda.Native;

/// <summary>CUresult from cuda.h (values checked against CUDA 12.6 headers).</summary>
public enum CuResult
{
    Success = 0,
    ErrorInvalidValue = 1,
    ErrorOutOfMemory = 2,
    ErrorNotInitialized = 3,
    ErrorDeinitialized = 4,
    ErrorNoDevice = 100,
    ErrorInvalidDevice = 101,
    ErrorDeviceNotLicensed = 102,
    ErrorInvalidImage = 200,
    ErrorInvalidContext = 201,
    ErrorNoBinaryForGpu = 209,
    ErrorInvalidPtx = 218,
    ErrorJitCompilerNotFound = 221,
    ErrorUnsupportedPtxVersion = 222,
    ErrorInvalidSource = 300,
    ErrorFileNotFound = 301,
    ErrorSharedObjectSymbolNotFound = 302,
    ErrorSharedObjectInitFailed = 303,
    ErrorOperatingSystem = 304,
    ErrorInvalidHandle = 400,
    ErrorIllegalState = 401,
    ErrorNotFound = 500,
    ErrorNotReady = 600,
    ErrorIllegalAddress = 700,
    ErrorLaunchOutOfResources = 701,
    ErrorLaunchTimeout = 702,
    ErrorMisalignedAddress = 716,
    ErrorLaunchFailed = 719,
    ErrorNotPermitted = 800,
    ErrorNotSupported = 801,
    ErrorSystemNotReady = 802,
    ErrorSystemDriverMismatch = 803,
    ErrorCompatNotSupportedOnDevice = 804,
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
