using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Backends.Ptx;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Planning;

namespace GpuConv;

/// <summary>
/// The backends an engine will plan over, the device they run on, and why the GPU path is off (if it is).
/// <paramref name="AvailableWorkspace"/> reports the bytes a backend can still allocate (the GPU layer
/// passes free device memory); null means no limit beyond the configured one.
/// <paramref name="Resources"/> is what the backends share (a GPU context and runtime), disposed after them.
/// <paramref name="UnavailableBackends"/>: the GPU backends that are not in the set, each with a one-line reason.
/// </summary>
internal sealed record BackendSet(
    IReadOnlyList<IConvBackend> Backends,
    DeviceIdentity Device,
    DeviceIdentity Host,
    string? GpuUnavailableReason,
    Func<IConvBackend, long?>? AvailableWorkspace = null,
    IDisposable? Resources = null,
    IReadOnlyDictionary<string, string>? UnavailableBackends = null)
{
    /// <summary>Disposes every backend, then the shared resources.</summary>
    public void DisposeAll()
    {
        foreach (var b in Backends) b.Dispose();
        Resources?.Dispose();
    }
}

/// <summary>
/// The one place that decides which backends exist for a set of options. Everything else (engine,
/// planner, CLI) takes the list from here, so adding a backend is one line in <see cref="Create"/>.
/// </summary>
internal static class BackendCatalog
{
    /// <summary>
    /// Creates the backends for <paramref name="options"/>: on a usable GPU the GPU backends (cudnn, ptx)
    /// first, then the CPU ones (cpu, reference). Discovery never throws; a missing driver, device or
    /// library becomes <see cref="BackendSet.GpuUnavailableReason"/> and the CPU path. The caller owns
    /// the set (<see cref="BackendSet.DisposeAll"/>). Throws <see cref="InvalidOperationException"/> only
    /// when the GPU is demanded (Device = Gpu) but unusable.
    /// </summary>
    public static BackendSet Create(ConvEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var host = DeviceIdentity.ForCpu();
        var cpu = new List<IConvBackend> { new CpuBackend(options.CpuThreads), new ReferenceBackend() };

        string? gpuReason = "not requested (Device = Cpu)";
        if (options.Device != DeviceKind.Cpu)
        {
            gpuReason = TryOpenGpu(options.GpuIndex, out var session);
            if (session is not null)
                return new BackendSet([.. session.Backends, .. cpu], session.Identity, host, null,
                    AvailableWorkspace: b => b.Memory.Kind == Tensors.MemoryKind.Device ? session.FreeMemoryBytes : null,
                    Resources: session, UnavailableBackends: session.UnavailableBackends);
            if (options.Device == DeviceKind.Gpu)
            {
                foreach (var b in cpu) b.Dispose();
                throw new InvalidOperationException($"Device = Gpu (index {options.GpuIndex}) was requested but no GPU path is usable: {gpuReason}.");
            }
        }
        return new BackendSet(cpu, host, host, gpuReason,
            UnavailableBackends: new Dictionary<string, string> { [CudnnBackend.BackendName] = gpuReason ?? "", [PtxConvBackend.BackendName] = gpuReason ?? "" });
    }

    /// <summary>Opens the GPU backends of device <paramref name="ordinal"/>, or returns why not (never throws).</summary>
    static string? TryOpenGpu(int ordinal, out GpuBackendSession? session)
    {
        session = null;
        try
        {
            var status = CudaDiscovery.Probe();
            if (!status.IsAvailable) return status.Reason;
            if (ordinal >= status.Devices.Count) return $"GPU index {ordinal} requested but {status.Devices.Count} device(s) found";
            session = GpuBackendSession.Open(status, ordinal);
            return null;
        }
        catch (Exception e)
        {
            return $"GPU initialisation failed: {e.GetType().Name}: {e.Message}";
        }
    }
}
