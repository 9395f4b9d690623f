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
    // Key is formatted when its parts are set — by the constructor (the initializers below) and by each part's init
    // accessor, which a `with` calls after copying — so reading it allocates nothing (backends read it on every run),
    // and a copy made with `with { Name = … }` never keeps the old key. As a function of the other fields it leaves
    // the record's equality as it was.
    /// <summary>The cuDNN or kernel family, e.g. <c>cudnn</c>.</summary>
    public string Backend { get; init { field = value; key = KeyOf(value, Name, Math); } } = Backend;
    /// <summary>The algorithm's name within its backend.</summary>
    public string Name { get; init { field = value; key = KeyOf(Backend, value, Math); } } = Name;
    /// <summary>The arithmetic it uses.</summary>
    public MathMode Math { get; init { field = value; key = KeyOf(Backend, Name, value); } } = Math;

    readonly string key = KeyOf(Backend, Name, Math);

    /// <summary>A stable name such as <c>cudnn/IMPLICIT_PRECOMP_GEMM</c> or <c>cpu/im2col-gemm</c>.</summary>
    public string Key => key;

    static string KeyOf(string backend, string name, MathMode math) =>
        math == MathMode.Strict ? $"{backend}/{name}" : $"{backend}/{name}+{math}";

    /// <summary>The candidate's <see cref="Key"/>.</summary>
    public override string ToString() => Key;
}
