using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A cuBLAS call failed: names the call, the status name and cuBLAS's description.</summary>
public sealed class CublasException : Exception
{
    /// <summary>A failure of cuBLAS function <paramref name="call"/> with <paramref name="status"/>; the message adds cuBLAS's description.</summary>
    public CublasException(CublasStatus status, string call) : this(status, call, CuBlas.Describe(status)) { }

    CublasException(CublasStatus status, string call, (string Name, string Text) d)
        : base($"{call} failed: {d.Name} ({(int)status})" + (d.Text.Length > 0 ? $": {d.Text}" : ""))
    {
        Status = status;
        Call = call;
        StatusName = d.Name;
    }

    /// <summary>The status cuBLAS returned.</summary>
    public CublasStatus Status { get; }
    /// <summary>The cuBLAS function that failed, e.g. "cublasSgemm_v2".</summary>
    public string Call { get; }
    /// <summary>The status's cuBLAS name, e.g. "CUBLAS_STATUS_ALLOC_FAILED".</summary>
    public string StatusName { get; }
}
