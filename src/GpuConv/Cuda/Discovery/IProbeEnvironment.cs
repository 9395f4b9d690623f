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

    bool TryLoad(string pathOrName, out nint handle, out string? error);
}

/// <summary>The real machine: process environment, real paths, the OS loader.</summary>
internal sealed class SystemProbeEnvironment : IProbeEnvironment
{
    public static readonly SystemProbeEnvironment Instance = new();

    public string? GetVariable(string name) => Environment.GetEnvironmentVariable(name);

    public string MapSystemPath(string absolutePath) => absolutePath;

    public IReadOnlyList<string> PythonSitePackages() => PythonSitePackagesFinder.Find(this);

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
            error = e.Message.ReplaceLineEndings(" ").Trim();
            return false;
        }
    }
}
