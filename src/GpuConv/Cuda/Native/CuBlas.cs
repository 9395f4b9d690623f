using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// cuBLAS (libcublas.so.13/.12/.11). Column-major: a row-major C = A·B is computed as Cᵀ = Bᵀ·Aᵀ by
/// swapping the operands. Scalars (alpha/beta) are host pointers (the default pointer mode).
/// </summary>
internal static unsafe partial class CuBlas
{
    static CuBlas() => Discovery.CudaLibraryResolver.EnsureRegistered();

    const string Lib = NativeLibraryNames.Cublas;

    [LibraryImport(Lib)] public static partial CublasStatus cublasCreate_v2(out nint handle);
    [LibraryImport(Lib)] public static partial CublasStatus cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] public static partial CublasStatus cublasGetVersion_v2(nint handle, out int version);
    [LibraryImport(Lib)] public static partial CublasStatus cublasGetProperty(LibraryProperty type, out int value);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetStream_v2(nint handle, nint streamId);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetMathMode(nint handle, CublasMath mode);
    [LibraryImport(Lib)] public static partial CublasStatus cublasSetWorkspace_v2(nint handle, ulong workspace, nuint workspaceSizeInBytes);
    [LibraryImport(Lib)] public static partial byte* cublasGetStatusName(CublasStatus status);
    [LibraryImport(Lib)] public static partial byte* cublasGetStatusString(CublasStatus status);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasSgemm_v2(nint handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, float* alpha, ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasSgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, float* alpha,
        ulong a, int lda, long strideA,
        ulong b, int ldb, long strideB,
        float* beta, ulong c, int ldc, long strideC, int batchCount);

    [LibraryImport(Lib)]
    public static partial CublasStatus cublasGemmEx(nint handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, void* alpha,
        ulong a, CudaDataType aType, int lda,
        ulong b, CudaDataType bType, int ldb,
        void* beta, ulong c, CudaDataType cType, int ldc,
        CublasComputeType computeType, CublasGemmAlgo algo);

    /// <summary>Traces the call (GPUCONV_TRACE) and throws unless the status is success; <paramref name="started"/> comes from <see cref="NativeTrace.Start"/>, evaluated before the call.</summary>
    public static void Check(long started, CublasStatus status, string call)
    {
        NativeTrace.Record(started, call, NativeText.StatusLabel(status));
        Check(status, call);
    }

    /// <inheritdoc cref="Check(long, CublasStatus, string)"/>
    public static void Check(long started, CublasStatus status, string call, TraceArgs args)
    {
        NativeTrace.Record(started, call, NativeText.StatusLabel(status), args);
        Check(status, call);
    }

    /// <summary>Throws <see cref="CublasException"/> naming <paramref name="call"/> unless the status is success.</summary>
    public static void Check(CublasStatus status, string call)
    {
        if (status != CublasStatus.Success)
            throw new CublasException(status, call);
    }

    public static (string Name, string Text) Describe(CublasStatus status)
    {
        string name = "CUBLAS_STATUS_" + NativeText.UpperSnake(status.ToString());
        string text = "";
        try
        {
            var n = cublasGetStatusName(status);
            if (n != null) name = NativeText.FromUtf8(n);
            var s = cublasGetStatusString(status);
            if (s != null) text = NativeText.FromUtf8(s);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException) { }
        return (name, text);
    }
}
