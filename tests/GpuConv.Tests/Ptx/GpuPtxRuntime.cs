using GpuConv.Backends.Ptx;

namespace GpuConv.Tests.Ptx;

/// <summary>Opens the real GPU implementation of <see cref="IPtxRuntime"/> for the GPU-category tests, or says why not.</summary>
static class GpuPtxRuntime
{
    public static bool TryOpen(out IPtxRuntime? runtime, out IDisposable? owner, out string why)
    {
        runtime = null;
        owner = null;
        why = "no GPU implementation of IPtxRuntime in this build yet (the CUDA layer, branch cuda, is not merged)";
        return false;
    }
}
