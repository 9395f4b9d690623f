using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Discovery;

/// <summary>
/// Everything library discovery reads from the outside world, so tests can point it at a fake folder
/// tree in a temp directory: environment variables, where fixed system paths live (a root prefix),
/// the Python site-packages folders, and the loader itself.
/// </summary>
internal interface IProbeEnvironment
{
    string? GetVariable(string name);

    /// <summary>Maps a fixed absolute system path (/usr/local/cuda…) to where it is probed.</summary>
    string MapSystemPath(string absolutePath);

    /// <summary>site-packages/dist-packages folders of the Pythons on PATH (may be slow; called once).</summary>
    IReadOnlyList<string> PythonSitePackages();

    /// <summary>The application's own folder (where a deployer puts the cuDNN and cuBLAS it ships), or null.</summary>
    string? ApplicationFolder { get; }

    bool TryLoad(string pathOrName, out nint handle, out string? error);

    /// <summary>The CUDA version the driver supports (cuDriverGetVersion: 13000 = 13.0), or 0 when there is no driver to ask.</summary>
    int DriverCudaVersion();

    /// <summary>The process's architecture, which names the system's library folders (x86_64-linux-gnu, aarch64-linux-gnu).</summary>
    Architecture ProcessArchitecture => RuntimeInformation.ProcessArchitecture;
}

/// <summary>The real machine: process environment, real paths, the OS loader.</summary>
internal sealed class SystemProbeEnvironment : IProbeEnvironment
{
    public static readonly SystemProbeEnvironment Instance = new();

    public string? GetVariable(string name) => Environment.GetEnvironmentVariable(name);

    public string MapSystemPath(string absolutePath) => absolutePath;

    public IReadOnlyList<string> PythonSitePackages() => PythonSitePackagesFinder.Find(this);

    // AppContext.BaseDirectory: the executable's folder for single-file and Native AOT applications too.
    public string? ApplicationFolder => AppContext.BaseDirectory is { Length: > 0 } folder ? folder : null;

    // cuDriverGetVersion needs no cuInit. Through the bindings: the driver is located (and cached) like every other call's.
    public int DriverCudaVersion()
    {
        try { return Native.CudaDriver.cuDriverGetVersion(out int version) == Native.CuResult.Success ? version : 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException) { return 0; }
    }

    public bool TryLoad(string pathOrName, out nint handle, out string? error)
    {
        try
        {
            // Load (not TryLoad) so the loader's own message (dlerror) reaches the attempt record.
            handle = NativeLibrary.Load(pathOrName);
            error = null;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            handle = 0;
            error = LoaderMessage(e.Message);
            return false;
        }
    }

    /// <summary>Keeps the dynamic loader's own words (dlerror), dropping .NET's generic advice around them.</summary>
    internal static string LoaderMessage(string message)
    {
        const string Marker = "LD_DEBUG environment variable:";
        int i = message.IndexOf(Marker, StringComparison.Ordinal);
        var text = i >= 0 ? message[(i + Marker.Length)..] : message;
        return string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
