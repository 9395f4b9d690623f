using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// cuDNN 9 (libcudnn.so.9/.8): the legacy convolution API (deprecated in 9 but exported) plus the
/// handle, descriptor, activation and tensor-add functions it needs. Handles and descriptors are
/// opaque pointers (<c>nint</c>); device data is passed as <c>ulong</c> CUdeviceptr values; alpha/beta
/// are host pointers to float (double for double data).
/// </summary>
internal static unsafe partial class CuDnn
{
    static CuDnn() => Discovery.CudaLibraryResolver.EnsureRegistered();

    const string Lib = NativeLibraryNames.Cudnn;

    // --- library ---
    [LibraryImport(Lib)] public static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] public static partial byte* cudnnGetErrorString(CudnnStatus status);
    [LibraryImport(Lib)] public static partial void cudnnGetLastErrorString(byte* message, nuint maxSize);
    /// <summary>cuDNN 9: each reports whether its sub-library (graph, ops, cnn) loaded and matches.</summary>
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGraphVersionCheck();
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnOpsVersionCheck();
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCnnVersionCheck();
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreate(out nint handle);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroy(nint handle);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetStream(nint handle, nint streamId);

    // --- tensor descriptors ---
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateTensorDescriptor(out nint tensorDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyTensorDescriptor(nint tensorDesc);
    /// <remarks>Format BEFORE data type (the filter variant is the other way round).</remarks>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetTensor4dDescriptor(nint tensorDesc, CudnnTensorFormat format, CudnnDataType dataType,
        int n, int c, int h, int w);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetTensorNdDescriptor(nint tensorDesc, CudnnDataType dataType, int nbDims, int* dimA, int* strideA);

    // --- filter descriptors ---
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateFilterDescriptor(out nint filterDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyFilterDescriptor(nint filterDesc);
    /// <remarks>Data type BEFORE format (the tensor variant is the other way round).</remarks>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetFilter4dDescriptor(nint filterDesc, CudnnDataType dataType, CudnnTensorFormat format,
        int k, int c, int h, int w);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetFilterNdDescriptor(nint filterDesc, CudnnDataType dataType, CudnnTensorFormat format,
        int nbDims, int* filterDimA);

    // --- convolution descriptors ---
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateConvolutionDescriptor(out nint convDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyConvolutionDescriptor(nint convDesc);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetConvolution2dDescriptor(nint convDesc, int padH, int padW, int u, int v,
        int dilationH, int dilationW, CudnnConvolutionMode mode, CudnnDataType computeType);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetConvolutionNdDescriptor(nint convDesc, int arrayLength, int* padA, int* filterStrideA,
        int* dilationA, CudnnConvolutionMode mode, CudnnDataType computeType);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetConvolutionGroupCount(nint convDesc, int groupCount);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnSetConvolutionMathType(nint convDesc, CudnnMathType mathType);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionNdForwardOutputDim(nint convDesc, nint inputTensorDesc, nint filterDesc,
        int nbDims, int* tensorOuputDimA);

    // --- algorithm counts, heuristics (_v7), measured search (FindEx), workspace sizes ---
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetConvolutionForwardAlgorithmMaxCount(nint handle, out int count);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetConvolutionBackwardDataAlgorithmMaxCount(nint handle, out int count);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(nint handle, out int count);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint srcDesc, nint filterDesc, nint convDesc,
        nint destDesc, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perfResults);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardDataAlgorithm_v7(nint handle, nint filterDesc, nint diffDesc, nint convDesc,
        nint gradDesc, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perfResults);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardFilterAlgorithm_v7(nint handle, nint srcDesc, nint diffDesc, nint convDesc,
        nint gradDesc, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perfResults);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, ulong x, nint wDesc, ulong w,
        nint convDesc, nint yDesc, ulong y, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perfResults,
        ulong workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnFindConvolutionBackwardDataAlgorithmEx(nint handle, nint wDesc, ulong w, nint dyDesc, ulong dy,
        nint convDesc, nint dxDesc, ulong dx, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perfResults,
        ulong workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnFindConvolutionBackwardFilterAlgorithmEx(nint handle, nint xDesc, ulong x, nint dyDesc, ulong y,
        nint convDesc, nint dwDesc, ulong dw, int requestedAlgoCount, out int returnedAlgoCount, CudnnConvolutionAlgoPerf* perfResults,
        ulong workSpace, nuint workSpaceSizeInBytes);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint xDesc, nint wDesc, nint convDesc,
        nint yDesc, CudnnConvolutionFwdAlgo algo, out nuint sizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint wDesc, nint dyDesc, nint convDesc,
        nint dxDesc, CudnnConvolutionBwdDataAlgo algo, out nuint sizeInBytes);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint xDesc, nint dyDesc, nint convDesc,
        nint gradDesc, CudnnConvolutionBwdFilterAlgo algo, out nuint sizeInBytes);

    // --- execution: output = alpha * op(inputs) + beta * output ---
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionForward(nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w,
        nint convDesc, CudnnConvolutionFwdAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes, void* beta, nint yDesc, ulong y);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBackwardData(nint handle, void* alpha, nint wDesc, ulong w, nint dyDesc, ulong dy,
        nint convDesc, CudnnConvolutionBwdDataAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes, void* beta, nint dxDesc, ulong dx);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBackwardFilter(nint handle, void* alpha, nint xDesc, ulong x, nint dyDesc, ulong dy,
        nint convDesc, CudnnConvolutionBwdFilterAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes, void* beta, nint dwDesc, ulong dw);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBackwardBias(nint handle, void* alpha, nint dyDesc, ulong dy, void* beta,
        nint dbDesc, ulong db);
    /// <summary>y = act(alpha1 * conv(x) + alpha2 * z + bias).</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnConvolutionBiasActivationForward(nint handle, void* alpha1, nint xDesc, ulong x,
        nint wDesc, ulong w, nint convDesc, CudnnConvolutionFwdAlgo algo, ulong workSpace, nuint workSpaceSizeInBytes,
        void* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias, nint activationDesc, nint yDesc, ulong y);

    // --- activation, tensor add ---
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnCreateActivationDescriptor(out nint activationDesc);
    [LibraryImport(Lib)] public static partial CudnnStatus cudnnDestroyActivationDescriptor(nint activationDesc);
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnSetActivationDescriptor(nint activationDesc, CudnnActivationMode mode,
        CudnnNanPropagation reluNanOpt, double coef);
    /// <summary>C = alpha * A + beta * C (A broadcast over C, e.g. a 1×K×1×1 bias).</summary>
    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnAddTensor(nint handle, void* alpha, nint aDesc, ulong a, void* beta, nint cDesc, ulong c);

    /// <summary>Traces the call (GPUCONV_TRACE) and throws unless the status is success; <paramref name="started"/> comes from <see cref="NativeTrace.Start"/>, evaluated before the call.</summary>
    public static void Check(long started, CudnnStatus status, string call)
    {
        NativeTrace.Record(started, call, NativeText.StatusLabel(status));
        Check(status, call);
    }

    /// <inheritdoc cref="Check(long, CudnnStatus, string)"/>
    public static void Check(long started, CudnnStatus status, string call, TraceArgs args)
    {
        NativeTrace.Record(started, call, NativeText.StatusLabel(status), args);
        Check(status, call);
    }

    /// <summary>Throws <see cref="CudnnException"/> naming <paramref name="call"/> unless the status is success.</summary>
    public static void Check(CudnnStatus status, string call)
    {
        if (status != CudnnStatus.Success)
            throw new CudnnException(status, call);
    }

    /// <summary>The status name (cudnnGetErrorString) and cuDNN's last detailed message, if any.</summary>
    public static (string Name, string Text) Describe(CudnnStatus status)
    {
        string name = "CUDNN_STATUS_" + NativeText.UpperSnake(status.ToString());
        string text = "";
        try
        {
            var n = cudnnGetErrorString(status);
            if (n != null) name = NativeText.FromUtf8(n);
            Span<byte> buffer = stackalloc byte[1024];
            fixed (byte* p = buffer)
                cudnnGetLastErrorString(p, (nuint)buffer.Length);
            text = NativeText.FromBuffer(buffer);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException) { }
        return (name, text);
    }
}
