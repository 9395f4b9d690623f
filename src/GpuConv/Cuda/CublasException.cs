using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A cuBLAS call failed: names the call, the status name and cuBLAS's description.</summary>
public sealed class CublasException : Exception
{
    public CublasException(CublasStatus status, string call) : this(status, call, CuBlas.Describe(status)) { }

    CublasException(CublasStatus status, string call, (string Name, string Text) d)
        : base($"{call} failed: {d.Name} ({(int)status})" + (d.Text.Length > 0 ? $": {d.Text}" : ""))
    {
        Status = status;
        Call = call;
        StatusName = d.Name;
    }

    public CublasStatus Status { get; }
    public string Call { get; }
    public string StatusName { get; }
}
