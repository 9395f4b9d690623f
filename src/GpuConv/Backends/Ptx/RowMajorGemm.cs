namespace GpuConv.Backends.Ptx;

/// <summary>
/// Row-major GEMM on top of column-major cuBLAS. A row-major r×c matrix with leading dimension ld is,
/// byte for byte, the column-major c×r matrix (its transpose). So row-major C = op(A)·op(B) is computed
/// as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands and the m/n sizes, keep each operand's own
/// transpose flag.
/// </summary>
internal static class RowMajorGemm
{
    /// <summary>
    /// For each batch i: C_i (M×N) = op(A_i) (M×K) · op(B_i) (K×N) + beta·C_i, all row-major. A is stored
    /// M×K (or K×M when <paramref name="transA"/>) with leading dimension lda; B likewise K×N (or N×K).
    /// </summary>
    public static void Run(IPtxRuntime rt, bool transA, bool transB, int m, int n, int k,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta,
        ulong c, int ldc, long strideC, int batch, MathMode math) =>
        rt.SgemmStridedBatched(
            transB ? GemmOp.T : GemmOp.N, transA ? GemmOp.T : GemmOp.N, n, m, k, 1f,
            b, ldb, strideB, a, lda, strideA, beta, c, ldc, strideC, batch, math);
}
