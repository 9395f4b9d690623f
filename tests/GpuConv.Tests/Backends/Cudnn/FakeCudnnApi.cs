using System.Collections.Concurrent;
using GpuConv.Backends.Ptx;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;
using GpuConv.Tests.Cuda;

namespace GpuConv.Tests.Backends.Cudnn;

/// <summary>
/// cuDNN as the backend sees it, on the CPU: descriptors are numbers with their dims, math type and
/// activation remembered; heuristic tables, workspace-size and execution statuses are what the test
/// says. It notices what real cuDNN forbids or does not promise: two calls inside it at once (one
/// handle shared by threads), a destroyed descriptor being used, and it reads z in the fused call
/// (alpha2 * z + …, so NaN in z shows). Memory is host memory, so fills and the fused result are real.
/// </summary>
sealed unsafe class FakeCudnnApi : ICudnnApi
{
    long _next = 0x100;
    int _inside;
    readonly ConcurrentDictionary<nint, int[]> _dims = new();
    readonly ConcurrentDictionary<nint, CudnnMathType> _math = new();
    readonly ConcurrentDictionary<nint, (CudnnActivationMode Mode, CudnnNanPropagation Nan)> _activation = new();
    readonly ConcurrentDictionary<nint, byte> _destroyed = new();

    /// <summary>The log, one entry per call ("Convolution Forward algo=1 math=Fma", …).</summary>
    public ConcurrentQueue<string> Calls { get; } = new();
    /// <summary>Problems the fake noticed (concurrent entry, use after destroy).</summary>
    public ConcurrentQueue<string> Violations { get; } = new();
    public int MaxConcurrentCalls { get; private set; }
    /// <summary>Spins inside every call, to widen the window a missing lock would leave.</summary>
    public int SpinsPerCall { get; set; }
    /// <summary>Sleeps inside every call (for the check that the fake itself sees overlap).</summary>
    public int SleepMsPerCall { get; set; }

    public int MaxCount { get; set; } = 10;
    public int LastRequestedCount { get; private set; }
    /// <summary>The v7 table for an op and the math type set on the descriptor when asked.</summary>
    public Func<ConvOp, CudnnMathType, CudnnConvolutionAlgoPerf[]> Heuristic { get; set; } = DefaultHeuristic;
    public Func<ConvOp, int, CudnnStatus> WorkspaceStatus { get; set; } = (_, _) => CudnnStatus.Success;
    public Func<ConvOp, int, CudnnStatus> ConvolutionStatus { get; set; } = (_, _) => CudnnStatus.Success;
    public CudnnStatus FusedStatus { get; set; } = CudnnStatus.Success;
    /// <summary>What cudnnTransformTensor answers (a refusal sends the backend to plan B).</summary>
    public CudnnStatus TransformStatus { get; set; } = CudnnStatus.Success;
    /// <summary>(algo, math type in effect) of every convolution call.</summary>
    public ConcurrentQueue<(int Algo, CudnnMathType Math)> Executions { get; } = new();

    public static CudnnConvolutionAlgoPerf Entry(int algo, CudnnMathType math, CudnnStatus status = CudnnStatus.Success) =>
        new() { Algo = algo, Status = status, Time = 0.1f * (algo + 1), Memory = (nuint)(algo * 1024), Determinism = CudnnDeterminism.Deterministic, MathType = math };

    /// <summary>Three algorithms; the TENSOR_OP query tags its FP32 entries DEFAULT_MATH, as seen by other cuDNN users.</summary>
    static CudnnConvolutionAlgoPerf[] DefaultHeuristic(ConvOp op, CudnnMathType queried) =>
        queried == CudnnMathType.TensorOp
            ? [Entry(1, CudnnMathType.Default), Entry(0, CudnnMathType.Default), Entry(2, CudnnMathType.TensorOp)]
            : [Entry(1, CudnnMathType.Fma), Entry(0, CudnnMathType.Default), Entry(2, CudnnMathType.Fma)];

    public int[] DimsOf(nint desc) => _dims[desc];

    void Enter(string call, params nint[] descriptors)
    {
        int now = Interlocked.Increment(ref _inside);
        if (now > 1) Violations.Enqueue($"{call}: {now} calls inside cuDNN at once on one handle");
        lock (_dims) MaxConcurrentCalls = Math.Max(MaxConcurrentCalls, now);
        foreach (var d in descriptors)
            if (_destroyed.ContainsKey(d)) Violations.Enqueue($"{call}: descriptor 0x{d:x} used after it was destroyed");
        Calls.Enqueue(call);
        Thread.SpinWait(SpinsPerCall);
        if (SleepMsPerCall > 0) Thread.Sleep(SleepMsPerCall);
    }

    CudnnStatus Exit(CudnnStatus status = CudnnStatus.Success)
    {
        Interlocked.Decrement(ref _inside);
        return status;
    }

    CudnnStatus Create(string call, out nint desc)
    {
        Enter(call);
        desc = (nint)Interlocked.Increment(ref _next);
        return Exit();
    }

    CudnnStatus Destroy(string call, nint desc)
    {
        Enter(call, desc);
        _destroyed[desc] = 0;
        return Exit();
    }

    public nuint GetVersion() => 91200;
    public CudnnStatus CreateHandle(out nint handle) => Create("cudnnCreate", out handle);
    public CudnnStatus DestroyHandle(nint handle) => Destroy("cudnnDestroy", handle);
    public CudnnStatus SetStream(nint handle, nint stream) { Enter("cudnnSetStream"); return Exit(); }

    public CudnnStatus CreateTensorDescriptor(out nint desc) => Create("CreateTensor", out desc);
    public CudnnStatus DestroyTensorDescriptor(nint desc) => Destroy("DestroyTensor", desc);
    public CudnnStatus SetTensorNdDescriptor(nint desc, CudnnDataType dataType, int nbDims, int* dims, int* strides)
    {
        Enter("SetTensorNd", desc);
        _dims[desc] = new ReadOnlySpan<int>(dims, nbDims).ToArray();
        return Exit(nbDims < 4 ? CudnnStatus.BadParam : CudnnStatus.Success); // cuDNN wants at least 4 dims
    }

    public CudnnStatus CreateFilterDescriptor(out nint desc) => Create("CreateFilter", out desc);
    public CudnnStatus DestroyFilterDescriptor(nint desc) => Destroy("DestroyFilter", desc);
    public CudnnStatus SetFilterNdDescriptor(nint desc, CudnnDataType dataType, CudnnTensorFormat format, int nbDims, int* dims)
    {
        Enter("SetFilterNd", desc);
        _dims[desc] = new ReadOnlySpan<int>(dims, nbDims).ToArray();
        return Exit();
    }

    public CudnnStatus CreateConvolutionDescriptor(out nint desc) => Create("CreateConvolution", out desc);
    public CudnnStatus DestroyConvolutionDescriptor(nint desc) => Destroy("DestroyConvolution", desc);
    public CudnnStatus SetConvolutionNdDescriptor(nint desc, int arrayLength, int* pads, int* strides, int* dilations,
        CudnnConvolutionMode mode, CudnnDataType computeType) { Enter("SetConvolutionNd", desc); return Exit(); }
    public CudnnStatus SetConvolutionGroupCount(nint desc, int groups) { Enter("SetGroupCount", desc); return Exit(); }
    public CudnnStatus SetConvolutionMathType(nint desc, CudnnMathType mathType)
    {
        Enter("SetMathType " + mathType, desc);
        _math[desc] = mathType;
        return Exit();
    }

    public CudnnStatus CreateActivationDescriptor(out nint desc) => Create("CreateActivation", out desc);
    public CudnnStatus DestroyActivationDescriptor(nint desc) => Destroy("DestroyActivation", desc);
    public CudnnStatus SetActivationDescriptor(nint desc, CudnnActivationMode mode, CudnnNanPropagation nan, double coef)
    {
        Enter($"SetActivation {mode} {nan}", desc);
        _activation[desc] = (mode, nan);
        return Exit();
    }

    public CudnnStatus GetAlgorithmMaxCount(ConvOp op, nint handle, out int count)
    {
        Enter("MaxCount " + op);
        count = MaxCount;
        return Exit();
    }

    public CudnnStatus GetAlgorithm_v7(ConvOp op, nint handle, nint x, nint w, nint conv, nint y, int requested, out int returned,
        CudnnConvolutionAlgoPerf* perf)
    {
        Enter($"v7 {op} {_math.GetValueOrDefault(conv)}", x, w, conv, y);
        LastRequestedCount = requested;
        var table = Heuristic(op, _math.GetValueOrDefault(conv));
        returned = Math.Min(requested, table.Length);
        for (int i = 0; i < returned; i++) perf[i] = table[i];
        return Exit();
    }

    public CudnnStatus GetWorkspaceSize(ConvOp op, nint handle, nint x, nint w, nint conv, nint y, int algo, out nuint bytes)
    {
        Enter($"WorkspaceSize {op} algo={algo}", x, w, conv, y);
        bytes = (nuint)(algo * 1024);
        return Exit(WorkspaceStatus(op, algo));
    }

    public CudnnStatus Convolution(ConvOp op, nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, void* beta, nint yDesc, ulong y)
    {
        var math = _math.GetValueOrDefault(conv);
        Enter($"Convolution {op} algo={algo} math={math}", xDesc, wDesc, conv, yDesc);
        Executions.Enqueue((algo, math));
        return Exit(ConvolutionStatus(op, algo));
    }

    public CudnnStatus ConvolutionBackwardBias(nint handle, void* alpha, nint dyDesc, ulong dy, void* beta, nint dbDesc, ulong db)
    {
        Enter($"BackwardBias dy=[{string.Join(",", _dims[dyDesc])}] db=[{string.Join(",", _dims[dbDesc])}]", dyDesc, dbDesc);
        return Exit();
    }

    public CudnnStatus ConvolutionBiasActivationForward(nint handle, void* alpha1, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        int algo, ulong workspace, nuint workspaceBytes, void* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias,
        nint activation, nint yDesc, ulong y)
    {
        float a2 = *(float*)alpha2;
        Enter($"BiasActivationForward algo={algo} alpha2={a2} z={(z == y ? "y" : $"0x{z:x}")}", xDesc, wDesc, conv, zDesc, biasDesc, activation, yDesc);
        if (FusedStatus != CudnnStatus.Success) return Exit(FusedStatus);
        // y = act(1 + alpha2 * z): reads z, as cuDNN may; a NaN there survives alpha2 = 0.
        var (mode, nan) = _activation[activation];
        long n = _dims[yDesc].Aggregate(1L, (a, b) => a * b);
        float* zp = (float*)z, yp = (float*)y;
        for (long i = 0; i < n; i++)
        {
            float v = 1f + a2 * zp[i];
            yp[i] = mode == CudnnActivationMode.Relu && !(float.IsNaN(v) && nan == CudnnNanPropagation.PropagateNan) ? (v > 0 ? v : 0) : v;
        }
        return Exit();
    }

    public CudnnStatus AddTensor(nint handle, void* alpha, nint aDesc, ulong a, void* beta, nint cDesc, ulong c)
    {
        Enter("AddTensor", aDesc, cDesc);
        return Exit();
    }

    public CudnnStatus TransformTensor(nint handle, void* alpha, nint xDesc, ulong x, void* beta, nint yDesc, ulong y)
    {
        Enter($"TransformTensor 0x{x:x} -> 0x{y:x}", xDesc, yDesc);
        return Exit(TransformStatus);
    }

    public CudnnStatus SetTensor(nint handle, nint yDesc, ulong y, void* value)
    {
        Enter($"SetTensor 0x{y:x} = {*(float*)value}", yDesc);
        long n = _dims[yDesc].Aggregate(1L, (a, b) => a * b);
        new Span<float>((void*)y, checked((int)n)).Fill(*(float*)value);
        return Exit();
    }
}

/// <summary>The cuDNN backend's host on the CPU: host memory as device memory, the fake cuDNN, work run inline.</summary>
sealed class FakeCudnnHost : ICudnnHost, IDisposable
{
    readonly HostBackedRuntime _runtime = new();

    public FakeCudnnHost(FakeCudnnApi api) { Api = api; Memory = new CudaMemorySpace(_runtime); }

    public FakeCudnnApi Api { get; }
    public IMemorySpace Memory { get; }
    public int Synchronizations;

    public ulong PointerOf(Tensor tensor) => ((DeviceTensor)tensor).Pointer;
    public IDeviceScratch AllocateScratch(long bytes, string purpose) => new Scratch(_runtime.Pool.Rent(bytes));
    public CudnnHandle CreateCudnnHandle() => CudnnHandle.CreateDetached(Api);
    public CurrentContextScope EnterContext() => default;
    public double TimeMs(Action work) { work(); return 1; }
    public void Synchronize() => Interlocked.Increment(ref Synchronizations);

    /// <summary>Plan B's copies as (src, dst, dims, src strides, dst strides); done for real on host memory.</summary>
    public List<(ulong Src, ulong Dst, int[] Dims, long[] SrcStrides, long[] DstStrides)> StridedCopies { get; } = [];

    public unsafe void StridedCopy(ulong source, ulong destination, int[] dims, long[] sourceStrides, long[] destinationStrides)
    {
        StridedCopies.Add((source, destination, dims, sourceStrides, destinationStrides));
        long count = dims.Aggregate(1L, (a, d) => a * d);
        for (long i = 0; i < count; i++)
        {
            long rest = i, s = 0, d = 0;
            for (int k = dims.Length - 1; k >= 0; k--) { long ik = rest % dims[k]; rest /= dims[k]; s += ik * sourceStrides[k]; d += ik * destinationStrides[k]; }
            ((float*)destination)[d] = ((float*)source)[s];
        }
    }

    /// <summary>A device tensor filled with <paramref name="value"/>.</summary>
    public DeviceTensor Filled(TensorShape shape, float value)
    {
        var t = (DeviceTensor)Memory.Allocate(shape);
        t.CopyFrom(Enumerable.Repeat(value, (int)shape.ElementCount).ToArray());
        return t;
    }

    public void Dispose() => _runtime.Dispose();

    sealed class Scratch(DeviceBuffer buffer) : IDeviceScratch
    {
        public ulong Pointer => buffer.Pointer;
        public long Bytes => buffer.Bytes;
        public void Dispose() => buffer.Dispose();
    }
}
