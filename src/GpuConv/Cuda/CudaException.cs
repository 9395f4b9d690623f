using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A CUDA driver call failed: names the call, the CUresult name and NVIDIA's text.</summary>
public class CudaException : Exception
{
    public CudaException(CuResult status, string call) : this(status, call, CudaDriver.Describe(status)) { }

    CudaException(CuResult status, string call, (string Name, string Text) d)
        : base($"{call} failed: {d.Name} ({(int)status})" + (d.Text.Length > 0 ? $": {d.Text}" : ""))
    {
        Status = status;
        Call = call;
        StatusName = d.Name;
    }

    /// <summary>For failures with extra detail (e.g. the PTX JIT error log).</summary>
    public CudaException(CuResult status, string call, string detail)
        : base($"{call} failed: {CudaDriver.Describe(status).Name} ({(int)status}): {detail}")
    {
        Status = status;
        Call = call;
        StatusName = CudaDriver.Describe(status).Name;
    }

    public CuResult Status { get; }
    public string Call { get; }
    public string StatusName { get; }
}
