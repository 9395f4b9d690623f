using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Backends.Ptx;

/// <summary>cuBLAS operation on an operand (values as cublasOperation_t).</summary>
internal enum GemmOp
{
    N = 0,
    T = 1,
}

/// <summary>Scratch device memory owned by the caller; freed on dispose.</summary>
internal interface IDeviceScratch : IDisposable
{
    ulong Pointer { get; }
    long Bytes { get; }
}

/// <summary>
/// The narrow seam between the PTX backend and a GPU: device addresses of tensors, scratch memory,
/// kernel launches by (module file, entry name), and cuBLAS's strided-batched SGEMM. The CUDA layer
/// implements it over the driver API and cuBLAS; the tests implement it over the PTX interpreter and a
/// plain column-major GEMM, so the backend's orchestration (operand order, leading dimensions,
/// strides, batch chunking, accumulation) is proven on CPU too.
/// All work is ordered on one stream; <see cref="Synchronize"/> waits for it.
/// </summary>
internal interface IPtxRuntime
{
    /// <summary>Where the backend's tensors live.</summary>
    IMemorySpace Memory { get; }

    /// <summary>The device address of a tensor of <see cref="Memory"/>; throws ArgumentException for any other tensor.</summary>
    ulong PointerOf(Tensor tensor);

    /// <summary>Allocates scratch memory; throws <see cref="WorkspaceAllocationException"/> when it cannot.</summary>
    IDeviceScratch AllocateScratch(long bytes, string purpose);

    /// <summary>
    /// Launches entry <paramref name="entry"/> of kernels/<paramref name="module"/> on a 1-d grid.
    /// Arguments are ulong (.u64 params, device pointers) or uint (.u32 params), in .param order.
    /// </summary>
    void Launch(string module, string entry, uint gridX, uint blockX, params object[] args);

    /// <summary>
    /// <see cref="Launch(string, string, uint, uint, object[])"/> with the arguments packed on the stack, in .param order:
    /// the library's own launches use this one, which the GPU runtime issues without allocating. A runtime that only
    /// takes boxed arguments (the PTX interpreter in tests) gets them boxed by default.
    /// </summary>
    void Launch(string module, string entry, uint gridX, uint blockX, scoped in KernelArgumentPack args) =>
        Launch(module, entry, gridX, blockX, args.ToObjects());

    /// <summary>
    /// cublasSgemmStridedBatched, column-major: for i in [0, batch):
    /// C_i = alpha · op(A_i) · op(B_i) + beta · C_i with op(A_i) m×k, op(B_i) k×n, C_i m×n, X_i = X + i·strideX
    /// (strides in elements). With beta == 0, C is not read. <paramref name="math"/> picks strict FP32 or TF32.
    /// </summary>
    void SgemmStridedBatched(GemmOp transA, GemmOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta,
        ulong c, int ldc, long strideC, int batchCount, MathMode math);

    /// <summary>Waits until all work issued so far has finished.</summary>
    void Synchronize();

    /// <summary>
    /// Milliseconds the device spent on the work <paramref name="work"/> issues, by events recorded on the
    /// stream before and after it (as the cudnn backend and PyTorch time): no host wake-up latency counted.
    /// </summary>
    double TimeMs(Action work);
}
