using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>
/// A cuDNN call failed: names the call, the status name (cudnnGetErrorString) and cuDNN's last
/// detailed message (cudnnGetLastErrorString), which usually says which parameter was wrong.
/// </summary>
public sealed class CudnnException : Exception
{
    /// <summary>A failure of cuDNN function <paramref name="call"/> with <paramref name="status"/>; the message adds cuDNN's status text and last error message.</summary>
    public CudnnException(CudnnStatus status, string call) : this(status, call, CuDnn.Describe(status)) { }

    CudnnException(CudnnStatus status, string call, (string Name, string Text) d)
        : base($"{call} failed: {d.Name} ({(int)status})" + (d.Text.Length > 0 ? $": {d.Text}" : ""))
    {
        Status = status;
        Call = call;
        StatusName = d.Name;
    }

    /// <summary>The status cuDNN returned.</summary>
    public CudnnStatus Status { get; }
    /// <summary>The cuDNN function that failed, e.g. "cudnnConvolutionForward".</summary>
    public string Call { get; }
    /// <summary>The status's cuDNN name, e.g. "CUDNN_STATUS_BAD_PARAM".</summary>
    public string StatusName { get; }

    /// <summary>The cuDNN 9 category: 1 = init/version, 2 = bad parameter, 3 = not supported, 4 = internal, 5 = execution.</summary>
    public int Category => (int)Status / 1000;

    /// <summary>Whether this means "this configuration is not supported" rather than a bug or a broken device.</summary>
    public bool IsNotSupported => Category == 3;
}
