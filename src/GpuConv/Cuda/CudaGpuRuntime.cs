using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Backends.Ptx;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Cuda;

/// <summary>
/// One GPU as the GPU backends see it: the context, its stream, a cuBLAS handle on that stream,
/// scratch memory from the context's pool and event timing. Implements the narrow seams of the
/// cuDNN backend (<see cref="ICudnnHost"/>) and the PTX backend (<see cref="IPtxRuntime"/>), so both
/// order all their work on one stream. Host↔device copies go through that stream too (DeviceTensor's
/// copies default to the context's stream): a copy on the legacy stream is not ordered with a non-blocking stream.
/// </summary>
internal sealed unsafe class CudaGpuRuntime : ICudnnHost, IPtxRuntime, IMemorySpace, IDisposable
{
    readonly CudaContext _context;
    // Created on first GEMM: a GPU with cuDNN but no cuBLAS still serves the cudnn backend.
    readonly Lazy<CublasHandle> _cublas;
    readonly CudaEvent _start, _end;
    CublasMath _cublasMath = CublasMath.Default;
    readonly object _gemmGate = new();

    public CudaGpuRuntime(CudaContext context)
    {
        _context = context ?? throw new ArgumentNullException(nameof(context));
        _cublas = new Lazy<CublasHandle>(() => CublasHandle.Create(context, context.Stream));
        _start = context.CreateEvent();
        _end = context.CreateEvent();
    }

    public CudaContext Context => _context;
    public IMemorySpace Memory => this;
    public CudnnHandle CreateCudnnHandle() => CudnnHandle.Create(_context, _context.Stream);

    public CurrentContextScope EnterContext() => _context.Lifetime.Enter();
    public void Synchronize() => _context.Stream.Synchronize();

    public ulong PointerOf(Tensor tensor) => tensor is DeviceTensor d
        ? d.Pointer
        : throw new ArgumentException($"expected a device tensor, got {tensor?.GetType().Name ?? "null"} in {tensor?.Memory} memory.", nameof(tensor));

    public IDeviceScratch AllocateScratch(long bytes, string purpose)
    {
        ulong pointer;
        long size;
        try { pointer = _context.Pool.RentBlock(bytes, out size); }
        catch (Exception e) when (e is DeviceOutOfMemoryException or CudaException { Status: CuResult.ErrorOutOfMemory })
        {
            throw new WorkspaceAllocationException(purpose, bytes, e);
        }
        ScratchLease? lease;
        lock (_freeLeases) _freeLeases.TryPop(out lease);
        lease ??= new ScratchLease(this);
        lease.Take(pointer, bytes, size);
        return lease;
    }

    public double TimeMs(Action work)
    {
        _start.Record(_context.Stream);
        work();
        _end.Record(_context.Stream);
        return CudaEvent.ElapsedMilliseconds(_start, _end);
    }

    public void StridedCopy(ulong source, ulong destination, int[] dims, long[] sourceStrides, long[] destinationStrides)
    {
        const int Block = 256;
        Launch(Backends.Cudnn.StridedCopy.Module, Backends.Cudnn.StridedCopy.Entry,
            KernelLauncher.GridFor(Backends.Cudnn.StridedCopy.ElementCount(dims), Block), Block,
            Backends.Cudnn.StridedCopy.Pack(source, destination, dims, sourceStrides, destinationStrides));
    }

    /// <summary>Boxed arguments (kept for callers of the object[] seam): packed per launch, so this allocates; the library's launches take a <see cref="KernelArgumentPack"/>.</summary>
    public void Launch(string module, string entry, uint gridX, uint blockX, params object[] args)
    {
        using var kernelArgs = KernelArguments.From(args, $"{module}:{entry}");
        var fn = _context.Kernels.GetFunction(module, entry);
        KernelLauncher.Launch(_context, fn, new Dim3(gridX), new Dim3(blockX), kernelArgs, _context.Stream);
    }

    /// <summary>Arguments on the stack, the function from the context's cache: a warm launch allocates nothing.</summary>
    public void Launch(string module, string entry, uint gridX, uint blockX, scoped in KernelArgumentPack args)
    {
        var fn = _context.Kernels.GetFunction(module, entry);
        KernelLauncher.Launch(_context, fn, new Dim3(gridX), new Dim3(blockX), in args, _context.Stream);
    }

    public void SgemmStridedBatched(GemmOp transA, GemmOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta,
        ulong c, int ldc, long strideC, int batchCount, MathMode math)
    {
        // Strict is CUBLAS_DEFAULT_MATH, as PyTorch with allow_tf32 off: for FP32 it keeps at least FP32's mantissa and
        // exponent bits (no TF32). PEDANTIC_MATH is for numerical studies and may pick slower kernels.
        var wanted = math == MathMode.TF32 ? CublasMath.Tf32TensorOp : CublasMath.Default;
        var cublas = _cublas.Value;
        // The math mode lives on the shared handle: setting it and issuing the GEMM must be one step, or a
        // strict GEMM on one thread could run under another thread's TF32 mode.
        lock (_gemmGate)
        {
            if (wanted != _cublasMath)
            {
                cublas.SetMathMode(wanted);
                _cublasMath = wanted;
            }
            using var current = _context.Lifetime.Enter();
            CuBlas.Check(NativeTrace.Start(), CuBlas.cublasSgemmStridedBatched(cublas.Raw, (CublasOperation)transA, (CublasOperation)transB,
                m, n, k, &alpha, a, lda, strideA, b, ldb, strideB, &beta, c, ldc, strideC, batchCount), "cublasSgemmStridedBatched",
                $"{transA}{transB} m={m} n={n} k={k} batch={batchCount} math={wanted}");
        }
    }

    // --- IMemorySpace, ordered on the runtime's stream ---

    public MemoryKind Kind => MemoryKind.Device;

    public Tensor Allocate(TensorShape shape) => _context.Allocate(shape);

    public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination)
    {
        AsDevice(destination).CopyFrom(source); // on the context's stream, landed on return
    }

    public void CopyToHost(Tensor source, Span<float> destination)
    {
        AsDevice(source).CopyTo(destination); // on the context's stream, finished on return
    }

    static DeviceTensor AsDevice(Tensor t) => t as DeviceTensor
        ?? throw new ArgumentException($"expected a device tensor, got {t?.GetType().Name ?? "null"} in {t?.Memory} memory.", nameof(t));

    public void Dispose()
    {
        if (_cublas.IsValueCreated) _cublas.Value.Dispose();
        _start.Dispose();
        _end.Dispose();
    }

    /// <summary>
    /// Scratch is rented on every call of a plan with a workspace: a lease object per rent (and a DeviceBuffer, a SafeHandle,
    /// behind it) was ~130 B of garbage per call. Leases are reused instead: one comes back here when disposed, after its
    /// block went back to the pool. A handful covers the calls in flight at once (one per thread inside a backend).
    /// </summary>
    readonly Stack<ScratchLease> _freeLeases = new();
    const int KeptLeases = 16;

    /// <summary>
    /// A pool block lent for one scope (the backends' <c>using var scratch = …</c>). Disposing it twice is harmless while it
    /// is not lent again; holding it past its dispose is not (the object may serve another rent): every use is a using.
    /// </summary>
    sealed class ScratchLease(CudaGpuRuntime owner) : IDeviceScratch
    {
        ulong _pointer;
        long _bytes, _size;
        bool _lent;

        public void Take(ulong pointer, long bytes, long size) => (_pointer, _bytes, _size, _lent) = (pointer, bytes, size, true);

        public ulong Pointer => _lent ? _pointer : throw new ObjectDisposedException(nameof(IDeviceScratch));
        public long Bytes => _bytes;

        public void Dispose()
        {
            if (!_lent) return;
            _lent = false;
            owner._context.Pool.Return(_pointer, _size);
            lock (owner._freeLeases)
                if (owner._freeLeases.Count < KeptLeases) owner._freeLeases.Push(this);
        }
    }
}
