namespace GpuConv.Backends;

/// <summary>The arithmetic a candidate uses. Strict is IEEE fp32 multiply-add throughout.</summary>
public enum MathMode
{
    /// <summary>FP32 FMA math, no TF32 (the default, as PyTorch with allow_tf32 off).</summary>
    Strict,
    /// <summary>TF32 tensor cores (10-bit mantissa inputs, fp32 accumulate): ~1e-3 relative error.</summary>
    TF32,
}

/// <summary>What the caller allows the planner to trade for speed.</summary>
public enum ConvPrecision
{
    /// <summary>Strict fp32 candidates only.</summary>
    Strict,
    /// <summary>TF32 candidates allowed too.</summary>
    AllowTF32,
}

/// <summary>
/// One way a backend can run a problem: the candidate the planner ranks, times, caches and explains.
/// <paramref name="Id"/> is the backend's own algorithm number (cuDNN's enum value, or an index).
/// </summary>
public sealed record ConvAlgorithm(
    string Backend,
    string Name,
    int Id,
    long WorkspaceBytes,
    bool Deterministic,
    MathMode Math = MathMode.Strict)
{
    /// <summary>A stable name such as <c>cudnn/IMPLICIT_PRECOMP_GEMM</c> or <c>cpu/im2col-gemm</c>.</summary>
    public string Key => Math == MathMode.Strict ? $"{Backend}/{Name}" : $"{Backend}/{Name}+{Math}";

    /// <summary>The candidate's <see cref="Key"/>.</summary>
    public override string ToString() => Key;
}
