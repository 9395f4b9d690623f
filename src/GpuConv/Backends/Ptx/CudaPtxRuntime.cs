using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// <see cref="IPtxRuntime"/> on a real GPU: the context's pool for scratch, its PTX module cache and
/// launcher for kernels, one cuBLAS handle bound to the same stream for SGEMM. Strict FP32 uses cuBLAS's
/// pedantic math (no TF32); a TF32 candidate switches the handle to CUBLAS_TF32_TENSOR_OP_MATH for its
/// GEMMs. All work goes to one stream, so kernels and GEMMs are ordered.
/// </summary>
internal sealed unsafe class CudaPtxRuntime : IPtxRuntime, IDisposable
{
    readonly CudaContext _context;
    readonly CudaStream _stream;
    readonly CublasHandle _blas;
    CublasMath _math = CublasMath.Pedantic;

    public CudaPtxRuntime(CudaContext context, CudaStream? stream = null)
    {
        _context = context ?? throw new ArgumentNullException(nameof(context));
        _stream = stream ?? context.Stream;
        _blas = CublasHandle.Create(context, _stream); // starts in pedantic math
        Memory = new CudaMemorySpace(context);
    }

    public IMemorySpace Memory { get; }

    public ulong PointerOf(Tensor tensor) => tensor switch
    {
        DeviceTensor d => d.Pointer,
        null => throw new ArgumentNullException(nameof(tensor)),
        _ => throw new ArgumentException($"the ptx backend needs device tensors, got {tensor.GetType().Name} in {tensor.Memory} memory.", nameof(tensor)),
    };

    sealed class Scratch(DeviceBuffer buffer) : IDeviceScratch
    {
        public ulong Pointer => buffer.Pointer;
        public long Bytes => buffer.Bytes;
        public void Dispose() => buffer.Dispose();
    }

    public IDeviceScratch AllocateScratch(long bytes, string purpose)
    {
        try { return new Scratch(_context.Pool.Rent(bytes)); }
        catch (DeviceOutOfMemoryException e) { throw new WorkspaceAllocationException(purpose, bytes, e); }
    }

    public void Launch(string module, string entry, uint gridX, uint blockX, params object[] args)
    {
        var function = _context.Kernels.GetFunction(module, entry);
        using var arguments = new KernelArguments();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case ulong u: arguments.Add(u); break;
                case uint u: arguments.Add(u); break;
                case float f: arguments.Add(f); break;
                default: throw new ArgumentException($"kernel {module}:{entry} argument {i} has unsupported type {args[i]?.GetType().Name ?? "null"} (use ulong, uint or float).", nameof(args));
            }
        }
        KernelLauncher.Launch(_context, function, new Dim3(gridX), new Dim3(blockX), arguments, _stream);
    }

    public void SgemmStridedBatched(GemmOp transA, GemmOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta,
        ulong c, int ldc, long strideC, int batchCount, MathMode math)
    {
        var wanted = math == MathMode.TF32 ? CublasMath.Tf32TensorOp : CublasMath.Pedantic;
        if (wanted != _math)
        {
            _blas.SetMathMode(wanted);
            _math = wanted;
        }
        _context.MakeCurrent();
        CuBlas.Check(CuBlas.cublasSgemmStridedBatched(_blas.Raw, (CublasOperation)transA, (CublasOperation)transB,
            m, n, k, &alpha, a, lda, strideA, b, ldb, strideB, &beta, c, ldc, strideC, batchCount), "cublasSgemmStridedBatched");
    }

    /// <summary>Waits for the whole context (this stream and copies issued on the legacy stream alike).</summary>
    public void Synchronize() => _context.Synchronize();

    public void Dispose() => _blas.Dispose();
}
