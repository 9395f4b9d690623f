using GpuConv.Backends;
using GpuConv.Planning;

namespace GpuConv;

/// <summary>
/// The backends an engine will plan over, the device they run on, and why the GPU path is off (if it is).
/// <paramref name="AvailableWorkspace"/> reports the bytes a backend can still allocate (the GPU layer
/// passes free device memory); null means no limit beyond the configured one.
/// </summary>
public sealed record BackendSet(
    IReadOnlyList<IConvBackend> Backends,
    DeviceIdentity Device,
    DeviceIdentity Host,
    string? GpuUnavailableReason,
    Func<IConvBackend, long?>? AvailableWorkspace = null);

/// <summary>
/// The one place that decides which backends exist for a set of options. Everything else (engine,
/// planner, CLI) takes the list from here, so adding a backend is one line in <see cref="Create"/>.
/// </summary>
public static class BackendCatalog
{
    /// <summary>Why there is no GPU path in this build (the CUDA layer is wired in here when it lands).</summary>
    public const string GpuLayerNotBuilt = "GPU layer not built";

    /// <summary>
    /// Creates the backends for <paramref name="options"/>. The caller owns (and disposes) them.
    /// Throws <see cref="InvalidOperationException"/> when the GPU is demanded but unusable.
    /// </summary>
    public static BackendSet Create(ConvEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var host = DeviceIdentity.ForCpu();

        // GPU discovery goes here: on success return the GPU backends (cudnn, ptx) plus the CPU ones,
        // with the GPU's DeviceIdentity; on failure keep its reason.
        string gpuReason = GpuLayerNotBuilt;
        if (options.Device == DeviceKind.Gpu)
            throw new InvalidOperationException($"Device = Gpu (index {options.GpuIndex}) was requested but no GPU path is usable: {gpuReason}.");

        var cpu = new List<IConvBackend>
        {
            // The fast SIMD cpu backend is added here when it lands.
            new ReferenceBackend(),
        };
        return new BackendSet(cpu, host, host, gpuReason);
    }
}
