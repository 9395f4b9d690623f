using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A CUDA driver call failed: names the call, the CUresult name and NVIDIA's text.</summary>
public class CudaException : Exception
{
    /// <summary>A failure of driver function <paramref name="call"/> with <paramref name="status"/>; the message adds the driver's description.</summary>
    public CudaException(CuResult status, string call) : this(status, call, CudaDriver.Describe(status)) { }

    CudaException(CuResult status, string call, (string Name, string Text) d)
        : base($"{call} failed: {d.Name} ({(int)status})" + (d.Text.Length > 0 ? $": {d.Text}" : "") + Consequence(status))
    {
        Status = status;
        Call = call;
        StatusName = d.Name;
    }

    /// <summary>For failures with extra detail (e.g. the PTX JIT error log).</summary>
    public CudaException(CuResult status, string call, string detail)
        : base($"{call} failed: {CudaDriver.Describe(status).Name} ({(int)status}): {detail}" + Consequence(status))
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

    /// <summary>
    /// True for the "sticky" statuses after which the driver documents the context as unusable (an illegal address,
    /// a faulting or timed-out kernel, an uncorrectable ECC error): every later call in it fails, and only a new
    /// process gets a working GPU. GpuConv then fails every call clearly; it never falls back to another candidate.
    /// </summary>
    public bool ContextUnusable => IsSticky(Status);

    /// <summary>Whether <paramref name="status"/> leaves the context unusable (see <see cref="ContextUnusable"/>).</summary>
    public static bool IsSticky(CuResult status) => (int)status is 214 or 700 or 702 or (>= 714 and <= 719);

    /// <summary>What a sticky status means for the caller, appended to the message.</summary>
    static string Consequence(CuResult status) => IsSticky(status)
        ? "; the CUDA context is now unusable: every later GPU call of this process fails (dispose the engine; only a new process gets the GPU back)"
        : "";
}
