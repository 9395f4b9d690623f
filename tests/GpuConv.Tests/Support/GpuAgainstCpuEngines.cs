using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Support;

/// <summary>
/// A device engine beside a CPU engine, for tests that hold each GPU call to the CPU engine's bits (the element-wise
/// ops, the pools): opened once per fixture, skipped with discovery's reason when no GPU is usable.
/// </summary>
public abstract class GpuAgainstCpuEngines
{
    protected ConvEngine gpu = null!;
    protected ConvEngine cpu = null!;

    [OneTimeSetUp]
    public void OpenEngines()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        gpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, PersistPlans = false });
        cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
    }

    [OneTimeTearDown]
    public void CloseEngines()
    {
        gpu?.Dispose();
        cpu?.Dispose();
    }

    /// <summary>Bits, with every NaN as one value: a GPU's arithmetic returns the canonical NaN where x86 keeps the payload.</summary>
    protected static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];
}
