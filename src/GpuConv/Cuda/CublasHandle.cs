using System.Runtime.InteropServices;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>
/// A cuBLAS handle bound to one context and stream. Defaults to CUBLAS_DEFAULT_MATH, which for FP32 GEMMs is strict
/// FP32 (no TF32: that needs CUBLAS_TF32_TENSOR_OP_MATH), as PyTorch with allow_tf32 off; opt into TF32 with <see cref="SetMathMode"/>.
/// </summary>
internal sealed unsafe class CublasHandle : SafeHandle
{
    readonly ContextLifetime _owner;

    CublasHandle(ContextLifetime owner, nint h) : base(0, true) { _owner = owner; SetHandle(h); }

    public static CublasHandle Create(CudaContext context, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var current = context.Lifetime.Enter();
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasCreate_v2(out var h), "cublasCreate_v2");
        var handle = new CublasHandle(context.Lifetime, h);
        try
        {
            handle.SetStream(stream ?? context.Stream);
            handle.SetMathMode(CublasMath.Default);
        }
        catch
        {
            handle.Dispose(); // not left to the finalizer
            throw;
        }
        return handle;
    }

    public override bool IsInvalid => handle == 0;
    internal nint Raw => IsClosed ? throw new ObjectDisposedException(nameof(CublasHandle)) : handle;

    public void SetStream(CudaStream stream)
    {
        using var current = _owner.Enter();
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasSetStream_v2(Raw, stream.Handle), "cublasSetStream_v2");
    }

    public void SetMathMode(CublasMath mode)
    {
        using var current = _owner.Enter();
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasSetMathMode(Raw, mode), "cublasSetMathMode");
    }

    /// <summary>
    /// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n, all dense row-major.
    /// cuBLAS is column-major, so this computes Cᵀ = op(B)ᵀ·op(A)ᵀ by swapping the operands.
    /// </summary>
    public void GemmRowMajor(int m, int n, int k, ulong a, ulong b, ulong c, float alpha = 1f, float beta = 0f,
        bool transposeA = false, bool transposeB = false)
    {
        if (m <= 0 || n <= 0 || k <= 0)
            throw new ArgumentException($"GEMM sizes must be >= 1, got m={m} n={n} k={k}.");
        using var current = _owner.Enter();
        int lda = transposeA ? m : k;   // row length of A as stored
        int ldb = transposeB ? k : n;
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasSgemm_v2(Raw,
            transposeB ? CublasOperation.T : CublasOperation.N,
            transposeA ? CublasOperation.T : CublasOperation.N,
            n, m, k, &alpha, b, ldb, a, lda, &beta, c, n), "cublasSgemm_v2");
    }

    protected override bool ReleaseHandle()
    {
        try
        {
            if (!_owner.TryEnter(out var current)) return true; // the context is gone, and the handle's state with it
            using (current) return CuBlas.cublasDestroy_v2(handle) == CublasStatus.Success;
        }
        catch (Exception) { return false; }
    }
}
