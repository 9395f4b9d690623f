using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// CUDA driver API (libcuda.so.1 / nvcuda.dll). C names verbatim, `_v2` entry points where they
/// exist. CUdeviceptr is <c>ulong</c>; every other handle (CUcontext, CUmodule, CUfunction, CUstream,
/// CUevent) is an opaque pointer (<c>nint</c>); CUdevice is an <c>int</c> ordinal handle.
/// Only the stream-ordered (Async) copy and memset entry points are bound: the synchronous ones run on
/// the legacy NULL stream, which the project's non-blocking streams do not wait for.
/// </summary>
internal static unsafe partial class CudaDriver
{
    static CudaDriver() => Discovery.CudaLibraryResolver.EnsureRegistered();

    const string Lib = NativeLibraryNames.Driver;

    [LibraryImport(Lib)] public static partial CuResult cuInit(uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuDriverGetVersion(out int driverVersion);
    [LibraryImport(Lib)] public static partial CuResult cuGetErrorName(CuResult error, out byte* pStr);
    [LibraryImport(Lib)] public static partial CuResult cuGetErrorString(CuResult error, out byte* pStr);

    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetName(byte* name, int len, int dev);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetAttribute(out int pi, CuDeviceAttribute attrib, int dev);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceTotalMem_v2(out nuint bytes, int dev);

    [LibraryImport(Lib)] public static partial CuResult cuDevicePrimaryCtxRetain(out nint pctx, int dev);
    [LibraryImport(Lib)] public static partial CuResult cuDevicePrimaryCtxRelease_v2(int dev);
    [LibraryImport(Lib)] public static partial CuResult cuCtxSetCurrent(nint ctx);
    [LibraryImport(Lib)] public static partial CuResult cuCtxGetCurrent(out nint pctx);
    [LibraryImport(Lib)] public static partial CuResult cuCtxSynchronize();

    [LibraryImport(Lib)]
    public static partial CuResult cuModuleLoadDataEx(out nint module, void* image, uint numOptions, CuJitOption* options, void** optionValues);
    [LibraryImport(Lib)] public static partial CuResult cuModuleGetFunction(out nint hfunc, nint hmod, byte* name);
    [LibraryImport(Lib)] public static partial CuResult cuModuleUnload(nint hmod);

    [LibraryImport(Lib)]
    public static partial CuResult cuLaunchKernel(nint f,
        uint gridDimX, uint gridDimY, uint gridDimZ,
        uint blockDimX, uint blockDimY, uint blockDimZ,
        uint sharedMemBytes, nint hStream, void** kernelParams, void** extra);

    [LibraryImport(Lib)] public static partial CuResult cuMemAlloc_v2(out ulong dptr, nuint bytesize);
    [LibraryImport(Lib)] public static partial CuResult cuMemFree_v2(ulong dptr);
    [LibraryImport(Lib)] public static partial CuResult cuMemGetInfo_v2(out nuint free, out nuint total);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyHtoDAsync_v2(ulong dstDevice, void* srcHost, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyDtoHAsync_v2(void* dstHost, ulong srcDevice, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyDtoDAsync_v2(ulong dstDevice, ulong srcDevice, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD32Async(ulong dstDevice, uint ui, nuint n, nint hStream);
    [LibraryImport(Lib)] public static partial CuResult cuMemAllocHost_v2(out void* pp, nuint bytesize);
    [LibraryImport(Lib)] public static partial CuResult cuMemFreeHost(void* p);

    [LibraryImport(Lib)] public static partial CuResult cuStreamCreate(out nint phStream, uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuStreamSynchronize(nint hStream);
    [LibraryImport(Lib)] public static partial CuResult cuStreamDestroy_v2(nint hStream);

    [LibraryImport(Lib)] public static partial CuResult cuEventCreate(out nint phEvent, uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuEventRecord(nint hEvent, nint hStream);
    [LibraryImport(Lib)] public static partial CuResult cuStreamWaitEvent(nint hStream, nint hEvent, uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuEventSynchronize(nint hEvent);
    /// <summary>CUDA 13's name (its header declares only this one); older drivers export only <see cref="cuEventElapsedTime"/>.</summary>
    [LibraryImport(Lib)] public static partial CuResult cuEventElapsedTime_v2(out float pMilliseconds, nint hStart, nint hEnd);
    [LibraryImport(Lib)] public static partial CuResult cuEventElapsedTime(out float pMilliseconds, nint hStart, nint hEnd);
    [LibraryImport(Lib)] public static partial CuResult cuEventDestroy_v2(nint hEvent);

    /// <summary>Traces the call (GPUCONV_TRACE) and throws unless the status is success; <paramref name="started"/> comes from <see cref="NativeTrace.Start"/>, evaluated before the call.</summary>
    public static void Check(long started, CuResult status, string call)
    {
        NativeTrace.Record(started, call, NativeText.StatusLabel(status));
        Check(status, call);
    }

    /// <inheritdoc cref="Check(long, CuResult, string)"/>
    public static void Check(long started, CuResult status, string call, TraceArgs args)
    {
        NativeTrace.Record(started, call, NativeText.StatusLabel(status), args);
        Check(status, call);
    }

    /// <summary>Throws <see cref="CudaException"/> naming <paramref name="call"/> unless the status is success.</summary>
    public static void Check(CuResult status, string call)
    {
        if (status != CuResult.Success)
            throw new CudaException(status, call);
    }

    /// <summary>NVIDIA's name and text for a status; falls back to the enum name if the driver cannot say.</summary>
    public static (string Name, string Text) Describe(CuResult status)
    {
        string name = "CUDA_ERROR_" + NativeText.UpperSnake(status.ToString().Replace("Error", "", StringComparison.Ordinal));
        if (status == CuResult.Success) name = "CUDA_SUCCESS";
        string text = "";
        try
        {
            if (cuGetErrorName(status, out byte* n) == CuResult.Success && n != null) name = NativeText.FromUtf8(n);
            if (cuGetErrorString(status, out byte* s) == CuResult.Success && s != null) text = NativeText.FromUtf8(s);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException) { }
        return (name, text);
    }
}
