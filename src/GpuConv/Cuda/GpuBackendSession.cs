using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Backends.Ptx;
using GpuConv.Cuda.Discovery;
using GpuConv.Planning;

namespace GpuConv.Cuda;

/// <summary>
/// The GPU backends of one device and what they share: the context, the runtime (stream, cuBLAS,
/// scratch, timing) and the backends built on it — cudnn when cuDNN loaded, ptx when cuBLAS loaded.
/// Disposing it disposes the backends, then the runtime, then the context.
/// </summary>
internal sealed class GpuBackendSession : IDisposable
{
    readonly CudaContext _context;
    readonly CudaGpuRuntime _runtime;

    GpuBackendSession(CudaContext context, CudaGpuRuntime runtime, IReadOnlyList<IConvBackend> backends, DeviceIdentity identity,
        IReadOnlyDictionary<string, string> unavailable)
    {
        UnavailableBackends = unavailable;
        _context = context;
        _runtime = runtime;
        Backends = backends;
        Identity = identity;
    }

    public IReadOnlyList<IConvBackend> Backends { get; }

    /// <summary>The GPU backends that could not be built (library missing, or its handle could not be created), each with a one-line reason.</summary>
    public IReadOnlyDictionary<string, string> UnavailableBackends { get; }

    /// <summary>The runtime the GPU backends share (its memory space and stream are the engine's device memory and stream).</summary>
    internal CudaGpuRuntime Runtime => _runtime;
    public DeviceIdentity Identity { get; }

    /// <summary>
    /// Device memory a new allocation can get now: the driver's free memory plus the pool's idle blocks (the pool
    /// gives those back when an allocation fails). The default workspace limit of the GPU backends and what the
    /// engine's memory check allows.
    /// </summary>
    public long FreeMemoryBytes => _context.MemoryInfo().Free + _context.Pool.Statistics.BytesCached;

    /// <summary>
    /// Opens device <paramref name="ordinal"/> of a probed, available GPU; throws if neither GPU backend can be built.
    /// One backend failing to open (cudnnCreate refused) leaves the other, with the reason in <see cref="UnavailableBackends"/>.
    /// </summary>
    public static GpuBackendSession Open(GpuStatus status, int ordinal)
    {
        if (!status.IsAvailable) throw new GpuUnavailableException(status.Reason);
        var context = CudaContext.Open(ordinal);
        CudaGpuRuntime? runtime = null;
        var backends = new List<IConvBackend>();
        var unavailable = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            runtime = new CudaGpuRuntime(context);
            if (!status.CudnnAvailable) unavailable[CudnnBackend.BackendName] = $"cuDNN not loaded: {status.CudnnReason}";
            else
            {
                // cuDNN loaded but will not open here (cudnnCreate refused): the ptx backend can still serve.
                try { backends.Add(new CudnnBackend(runtime)); }
                catch (Exception e) when (e is CudnnException or CudaException { ContextUnusable: false })
                {
                    unavailable[CudnnBackend.BackendName] = OneLine(e.Message);
                }
            }
            if (status.CublasAvailable) backends.Add(new PtxConvBackend(runtime));
            else unavailable[PtxConvBackend.BackendName] = $"cuBLAS not loaded: {status.CublasReason}";
            if (backends.Count == 0)
                throw new GpuUnavailableException($"no GPU backend could be opened: {string.Join("; ", unavailable.Select(kv => $"{kv.Key}: {kv.Value}"))}");
            var d = context.Device;
            var identity = new DeviceIdentity("gpu", d.Name, d.ComputeCapability, d.MultiprocessorCount,
                GpuStatus.FormatDriverVersion(status.DriverVersion), status.CudnnVersion ?? "", status.CublasVersion ?? "");
            return new GpuBackendSession(context, runtime, backends, identity, unavailable);
        }
        catch
        {
            foreach (var b in backends) b.Dispose();
            runtime?.Dispose();
            context.Dispose();
            throw;
        }
    }

    static string OneLine(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s*[\r\n]+\s*", " ").Trim();

    public void Dispose()
    {
        foreach (var b in Backends) b.Dispose();
        _runtime.Dispose();
        _context.Dispose();
    }
}
