using GpuConv.Backends.Cudnn;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Support;

/// <summary>
/// A cuDNN backend on device 0 for a fixture's tests (context, runtime and backend opened once, disposed in reverse
/// order); the fixture is skipped with discovery's reason when no GPU or no loadable cuDNN is there.
/// </summary>
public abstract class CudnnGpuFixture
{
    private protected CudaContext _context = null!;
    private protected CudaGpuRuntime _runtime = null!;
    private protected CudnnBackend _cudnn = null!;

    [OneTimeSetUp]
    public void OpenCudnn()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        if (status.CudnnVersion is null) Assert.Ignore($"skipped: cuDNN not loadable: {status.CudnnReason}");
        _context = CudaContext.Open(0);
        _runtime = new CudaGpuRuntime(_context);
        _cudnn = new CudnnBackend(_runtime);
    }

    [OneTimeTearDown]
    public void CloseCudnn()
    {
        _cudnn?.Dispose();
        _runtime?.Dispose();
        _context?.Dispose();
    }
}
