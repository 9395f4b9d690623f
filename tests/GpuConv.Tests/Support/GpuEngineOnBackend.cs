using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Support;

/// <summary>
/// A GPU engine on one named backend ("cudnn" or "ptx"), for fixtures run once per backend
/// (<c>[TestFixture("cudnn"), TestFixture("ptx")]</c>): opened once per fixture, skipped with discovery's reason when no
/// GPU is usable. Under the native fakes (CI) the convolutions run in the fakes and the kernels in the PTX interpreter.
/// </summary>
public abstract class GpuEngineOnBackend(string backend)
{
    protected ConvEngine engine = null!;

    /// <summary>The backend every planned convolution of <see cref="engine"/> runs on, for messages.</summary>
    protected string Backend => backend;

    [OneTimeSetUp]
    public void OpenEngine()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false, Warning = _ => { } });
    }

    [OneTimeTearDown]
    public void CloseEngine() => engine?.Dispose();
}
