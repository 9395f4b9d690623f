using System.Runtime.InteropServices;
using GpuConv.Cuda.Native;

namespace GpuConv.Backends.Cudnn;

/// <summary>A cuDNN library handle bound to one stream (cudnnCreate / cudnnDestroy).</summary>
internal sealed class CudnnHandle : SafeHandle
{
    CudnnHandle(nint h) : base(0, true) => SetHandle(h);

    public static CudnnHandle Create(nint stream)
    {
        CuDnn.Check(CuDnn.cudnnCreate(out var h), "cudnnCreate");
        var handle = new CudnnHandle(h);
        CuDnn.Check(CuDnn.cudnnSetStream(h, stream), "cudnnSetStream");
        return handle;
    }

    public override bool IsInvalid => handle == 0;
    public nint Value => handle;

    protected override bool ReleaseHandle() => CuDnn.cudnnDestroy(handle) == CudnnStatus.Success;

    /// <summary>cudnnGetVersion as major.minor.patch (9.x encodes 90600 as 9.6.0).</summary>
    public static string Version()
    {
        ulong v = CuDnn.cudnnGetVersion();
        return v >= 90000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";
    }
}
