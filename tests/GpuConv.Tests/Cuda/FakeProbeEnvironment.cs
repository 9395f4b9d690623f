using System.Runtime.InteropServices;
using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// A fake machine in a temp folder: system paths live under Root/sys, environment variables and
/// site-packages are what the test says, and the "loader" accepts any existing file whose name is not
/// marked broken (bare names only if listed in <see cref="SystemLoaderHas"/>).
/// </summary>
sealed class FakeProbeEnvironment : IProbeEnvironment, IDisposable
{
    public FakeProbeEnvironment()
    {
        Root = Directory.CreateTempSubdirectory("gpuconv-probe-").FullName;
        Variables["HOME"] = Path.Join(Root, "home");
    }

    public string Root { get; }
    public Dictionary<string, string> Variables { get; } = new();
    public List<string> SitePackages { get; } = new();
    public HashSet<string> Broken { get; } = new();
    public HashSet<string> SystemLoaderHas { get; } = new();
    public List<string> Loads { get; } = new();
    public bool PythonThrows { get; set; }
    /// <summary>What cuDriverGetVersion answers (13000 = CUDA 13.0); 0: no driver to ask.</summary>
    public int DriverVersion { get; set; }

    public int DriverCudaVersion() => DriverVersion;
    /// <summary>The architecture discovery names its system folders after; x64 unless a test says otherwise (on any host).</summary>
    public Architecture ProcessArchitecture { get; set; } = Architecture.X64;
    public string? ApplicationFolder { get; set; }

    /// <summary>Creates an empty file named like a library at Root/relative.</summary>
    public string Touch(string relative)
    {
        var path = Path.Join(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    public string Dir(string relative)
    {
        var path = Path.Join(Root, relative);
        Directory.CreateDirectory(path);
        return path;
    }

    public string? GetVariable(string name) => Variables.GetValueOrDefault(name);

    public string MapSystemPath(string absolutePath) => Path.Join(Root, "sys", absolutePath);

    public IReadOnlyList<string> PythonSitePackages() =>
        PythonThrows ? throw new InvalidOperationException("python exploded") : SitePackages;

    public bool TryLoad(string pathOrName, out nint handle, out string? error)
    {
        Loads.Add(pathOrName);
        handle = 0;
        error = null;
        if (!Path.IsPathRooted(pathOrName))
        {
            if (SystemLoaderHas.Contains(pathOrName)) { handle = 1000 + Loads.Count; return true; }
            error = $"{pathOrName}: cannot open shared object file";
            return false;
        }
        if (Broken.Contains(Path.GetFileName(pathOrName)))
        {
            error = "file too short";
            return false;
        }
        if (!File.Exists(pathOrName)) { error = "no such file"; return false; }
        handle = 1000 + Loads.Count;
        return true;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
