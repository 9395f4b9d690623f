using GpuConv.Backends;
using GpuConv.Planning;

namespace GpuConv.Tests.Support;

/// <summary>
/// An engine over exactly the given backends (e.g. a PtxConvBackend on the simulated GPU runtime, whose launches run the
/// kernels in the PTX interpreter), with a CPU identity and no plan file: the device paths of the engine without a GPU.
/// </summary>
static class EngineOnBackends
{
    public static ConvEngine Open(params IConvBackend[] backends) =>
        ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet(backends, DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));
}
