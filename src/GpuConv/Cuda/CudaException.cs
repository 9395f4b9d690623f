using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A CUDA driver call failed: names the call, the CUresult name and NVIDIA's text.</summary>
public class CudaException : Exception
{
    /// <summary>A failure of driver function <paramref name="call"/> with <paramref name="status"/>; the message adds the driver's description.</summary>
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

    /// <summary>The CUresult the driver returned.</summary>
    public CuResult Status { get; }
    /// <summary>The driver function that failed, e.g. "cuMemAlloc_v2".</summary>
    public string Call { get; }
    /// <summary>The CUresult's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY".</summary>
    public string StatusName { get; }
}
