using GpuConv.Backends.Ptx;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Ptx;

/// <summary>Opens the real GPU implementation of <see cref="IPtxRuntime"/> for the GPU-category tests, or says why not.</summary>
static class GpuPtxRuntime
{
    sealed class Owner(CudaContext context, CudaGpuRuntime runtime) : IDisposable
    {
        public void Dispose()
        {
            runtime.Dispose();
            context.Dispose();
        }
    }

    public static bool TryOpen(out IPtxRuntime? runtime, out IDisposable? owner, out string why)
    {
        runtime = null;
        owner = null;
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) { why = status.Reason; return false; }
        if (!status.CublasAvailable) { why = status.CublasReason ?? "cuBLAS unavailable"; return false; }
        var context = CudaContext.Open();
        var rt = new CudaGpuRuntime(context);
        runtime = rt;
        owner = new Owner(context, rt);
        why = "available";
        return true;
    }
}
