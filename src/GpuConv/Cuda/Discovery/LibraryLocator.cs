namespace GpuConv.Cuda.Discovery;

/// <summary>The outcome of locating one library: the loaded handle and path, or why not, plus every attempt.</summary>
internal sealed record LocateResult(NativeLibrarySpec Spec, nint Handle, string? Path, IReadOnlyList<LibraryAttempt> Attempts)
{
    public bool Found => Handle != 0;

    /// <summary>Why this copy was chosen, for cuBLAS and NVRTC (paired with cuDNN; see <see cref="LibraryLocator"/>); null for the others.</summary>
    public string? Choice { get; init; }

    /// <summary>
    /// "libcuda.so.1 not found: tried a (load failed: …); b (missing); …; 12 folders absent" — load failures
    /// first (a library that is there but broken is the interesting case); the full list is in Attempts.
    /// </summary>
    public string FailureReason
    {
        get
        {
            const int Shown = 8;
            var tried = Attempts.Where(a => a.Library == Spec.DisplayName).ToList();
            var files = tried.Where(a => a.Outcome == AttemptOutcome.LoadFailed)
                .Concat(tried.Where(a => a.Outcome is AttemptOutcome.Missing or AttemptOutcome.Loaded)).ToList();
            int absentFolders = tried.Count(a => a.Outcome == AttemptOutcome.FolderMissing);
            var parts = files.Take(Shown).Select(a => a.ToString()).ToList();
            if (files.Count > Shown) parts.Add($"{files.Count - Shown} more files");
            if (absentFolders > 0) parts.Add($"{absentFolders} folders absent");
            return $"{string.Join(" / ", Spec.Names)} not found: tried {string.Join("; ", parts)}";
        }
    }
}

/// <summary>
/// Finds and loads the CUDA libraries by probing, in order: LD_LIBRARY_PATH, the application's own folder
/// (libraries a deployer ships beside the app; never the driver), CUDA_PATH/CUDA_HOME/CUDA_ROOT,
/// the Python wheel folders (site-packages/nvidia/*/lib, torch/lib), /usr/local/cuda*/lib64, the driver
/// locations, then the system loader's own search by bare name. The driver is tried through the system
/// loader first: libcuda.so.1 must be the one that matches the kernel module. Never throws.
/// <para>
/// cuBLAS and NVRTC are paired with cuDNN rather than taken from the first folder that has any of their names, so that a
/// host with a system CUDA 12 toolkit and a venv of CUDA 13 wheels (or the reverse) does not load one CUDA major beside a
/// cuDNN built for the other. The rule, in order: (1) a copy for a newer CUDA major than the driver supports
/// (cuDriverGetVersion: cuBLAS 13 needs a CUDA 13 driver) is skipped, recorded as such; (2) a copy in cuDNN's own
/// installation wins — cuDNN's folder, the same toolkit root (the parent of lib64/lib), or the same site-packages'
/// nvidia/ tree (nvidia/cudnn/lib goes with nvidia/cu13/lib or nvidia/cublas/lib) — the newest allowed major first, then
/// the search order; cuDNN's folder is the first folder of the search order holding a cuDNN soname; (3) otherwise (no
/// cuDNN, or none of them in its installation) the first folder of the search order holding an allowed soname, newest
/// first within a folder, as for every other library. Explicit choices keep their place in the search order
/// (LD_LIBRARY_PATH first, then the application's folder, then CUDA_PATH/CUDA_HOME/CUDA_ROOT): a cuDNN found there brings its
/// cuBLAS from there. <see cref="LocateResult.Choice"/> says which step chose, and `gpuconv devices` prints it.
/// </para>
/// </summary>
internal sealed class LibraryLocator
{
    readonly IProbeEnvironment _env;
    readonly Lazy<IReadOnlyList<string>> _folders, _driverFolders;
    readonly Dictionary<string, LocateResult> _results = new(StringComparer.Ordinal);
    readonly object _gate = new();

    public LibraryLocator(IProbeEnvironment env)
    {
        _env = env;
        _folders = new Lazy<IReadOnlyList<string>>(() => BuildSearchFolders(driver: false));
        _driverFolders = new Lazy<IReadOnlyList<string>>(() => BuildSearchFolders(driver: true));
    }

    /// <summary>Folders probed, in order (existing or not; missing ones are recorded as such).</summary>
    public IReadOnlyList<string> SearchFolders => _folders.Value;

    public LocateResult Locate(NativeLibrarySpec spec)
    {
        lock (_gate)
        {
            if (_results.TryGetValue(spec.LogicalName, out var cached)) return cached;
            LocateResult result;
            try { result = LocateCore(spec); }
            catch (Exception e)
            {
                result = new LocateResult(spec, 0, null,
                    [new LibraryAttempt(spec.DisplayName, "(probe)", AttemptOutcome.LoadFailed, $"unexpected {e.GetType().Name}: {e.Message}")]);
            }
            _results[spec.LogicalName] = result;
            return result;
        }
    }

    /// <summary>Every attempt made so far, for all libraries, in order.</summary>
    public IReadOnlyList<LibraryAttempt> AllAttempts
    {
        get { lock (_gate) return _results.Values.SelectMany(r => r.Attempts).ToList(); }
    }

    LocateResult LocateCore(NativeLibrarySpec spec)
    {
        var attempts = new List<LibraryAttempt>();
        if (spec.PreferSystemLoader && TryBareNames(spec, attempts, pairing: null) is { } viaLoader)
            return viaLoader;

        var pairing = spec.GoesWithCudnn ? PairWithCudnn(spec) : null;
        var tried = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in pairing?.Preferred ?? [])
            if (TryFile(spec, path, attempts, tried) is { } beside)
                return beside with { Choice = pairing!.Describe(besideCudnn: true) };

        // The driver matches the kernel module and never ships in a Python wheel: its search skips asking
        // every python on PATH (hundreds of milliseconds at each start of a machine without a driver).
        foreach (var folder in ReferenceEquals(spec, NativeLibrarySpec.Driver) ? _driverFolders.Value : SearchFolders)
        {
            if (!Directory.Exists(folder))
            {
                attempts.Add(new(spec.DisplayName, folder, AttemptOutcome.FolderMissing));
                continue;
            }
            foreach (var name in spec.Names)
            {
                var path = Path.Join(folder, name);
                if (!File.Exists(path))
                {
                    attempts.Add(new(spec.DisplayName, path, AttemptOutcome.Missing));
                    continue;
                }
                if (pairing?.TooNew(name) is { } why)
                {
                    attempts.Add(new(spec.DisplayName, path, AttemptOutcome.Skipped, why));
                    continue;
                }
                if (TryFile(spec, path, attempts, tried) is { } found)
                    return found with { Choice = pairing?.Describe(besideCudnn: false) };
            }
        }

        if (!spec.PreferSystemLoader && TryBareNames(spec, attempts, pairing) is { } last)
            return last with { Choice = pairing?.Describe(besideCudnn: false) };
        return new LocateResult(spec, 0, null, attempts);
    }

    /// <summary>Loads one existing file (its companions from its folder first), once per search; null when the loader refuses it.</summary>
    LocateResult? TryFile(NativeLibrarySpec spec, string path, List<LibraryAttempt> attempts, HashSet<string> tried)
    {
        if (!tried.Add(path)) return null;
        PreloadCompanions(spec, Path.GetDirectoryName(path)!, Path.GetFileName(path), attempts);
        if (_env.TryLoad(path, out var handle, out var error))
        {
            attempts.Add(new(spec.DisplayName, path, AttemptOutcome.Loaded));
            return new LocateResult(spec, handle, path, attempts);
        }
        attempts.Add(new(spec.DisplayName, path, AttemptOutcome.LoadFailed, error));
        return null;
    }

    /// <summary>What pairing <paramref name="spec"/> with cuDNN needs: the driver's CUDA version, cuDNN's folder and installation, and the copies there (rule (2)).</summary>
    CudnnPairing PairWithCudnn(NativeLibrarySpec spec)
    {
        int driver;
        try { driver = _env.DriverCudaVersion(); }
        catch (Exception) { driver = 0; }
        var pairing = new CudnnPairing(spec.DisplayName, driver, CudnnFolder());
        if (pairing.CudnnFolder is not { } cudnn) return pairing;
        string home = InstallationOf(cudnn);
        int order = 0;
        var candidates = new List<(string Path, int Major, int Order)>();
        foreach (var folder in SearchFolders)
        {
            if (!string.Equals(folder, cudnn, StringComparison.Ordinal) && !string.Equals(InstallationOf(folder), home, StringComparison.Ordinal)) continue;
            foreach (var name in spec.Names)
            {
                var path = Path.Join(folder, name);
                if (File.Exists(path) && pairing.TooNew(name) is null) candidates.Add((path, NativeLibrarySpec.CudaMajor(name), order++));
            }
        }
        return pairing with { Preferred = candidates.OrderByDescending(c => c.Major).ThenBy(c => c.Order).Select(c => c.Path).ToList() };
    }

    /// <summary>The folder cuDNN comes from: where it was loaded from, else the first search folder holding a cuDNN soname (null: none).</summary>
    string? CudnnFolder()
    {
        if (_results.TryGetValue(NativeLibrarySpec.Cudnn.LogicalName, out var cudnn) && cudnn.Found && Path.IsPathRooted(cudnn.Path))
            return Path.GetDirectoryName(cudnn.Path);
        foreach (var folder in SearchFolders)
            if (NativeLibrarySpec.Cudnn.Names.Any(n => File.Exists(Path.Join(folder, n)))) return folder;
        return null;
    }

    /// <summary>
    /// The installation a library folder belongs to: site-packages/nvidia for a wheel's nvidia/&lt;package&gt;/lib, the toolkit
    /// root for &lt;root&gt;/lib64, &lt;root&gt;/lib or &lt;root&gt;/targets/&lt;arch&gt;/lib, else the folder itself.
    /// </summary>
    internal static string InstallationOf(string folder)
    {
        folder = Path.TrimEndingDirectorySeparator(folder);
        string name = Path.GetFileName(folder);
        string? parent = Path.GetDirectoryName(folder);
        if (parent is null) return folder;
        string? grandparent = Path.GetDirectoryName(parent);
        if (name == "lib" && grandparent is not null && Path.GetFileName(grandparent) == "nvidia") return grandparent;
        if (name == "lib" && grandparent is not null && Path.GetFileName(grandparent) == "targets") return Path.GetDirectoryName(grandparent) ?? folder;
        return name is "lib64" or "lib" ? parent : folder;
    }

    /// <summary>Rules (1) and (2) of the pairing for one library (see the class notes).</summary>
    sealed record CudnnPairing(string Library, int DriverVersion, string? CudnnFolder)
    {
        /// <summary>Files in cuDNN's installation allowed by the driver, in the order to try.</summary>
        public IReadOnlyList<string> Preferred { get; init; } = [];

        /// <summary>Why a file of this name is not tried (a newer CUDA major than the driver's), or null.</summary>
        public string? TooNew(string name)
        {
            int major = NativeLibrarySpec.CudaMajor(name);
            return DriverVersion > 0 && major > DriverVersion / 1000
                ? $"{Library} for CUDA {major} needs a CUDA {major} driver; this driver supports CUDA {GpuStatus.FormatDriverVersion(DriverVersion)}"
                : null;
        }

        public string Describe(bool besideCudnn)
        {
            string bound = DriverVersion > 0 ? $"driver CUDA {GpuStatus.FormatDriverVersion(DriverVersion)} allows up to {Library} {DriverVersion / 1000}" : "driver version unknown";
            if (besideCudnn) return $"from cuDNN's installation {InstallationOf(CudnnFolder!)}; {bound}";
            return (CudnnFolder is null ? "first in the search order (no cuDNN to pair with)" : $"first in the search order (none in cuDNN's installation {InstallationOf(CudnnFolder)})") + $"; {bound}";
        }
    }

    LocateResult? TryBareNames(NativeLibrarySpec spec, List<LibraryAttempt> attempts, CudnnPairing? pairing)
    {
        foreach (var name in spec.Names)
        {
            string candidate = $"{name} via the system loader";
            if (pairing?.TooNew(name) is { } why)
            {
                attempts.Add(new(spec.DisplayName, candidate, AttemptOutcome.Skipped, why));
                continue;
            }
            if (_env.TryLoad(name, out var handle, out var error))
            {
                attempts.Add(new(spec.DisplayName, candidate, AttemptOutcome.Loaded));
                return new LocateResult(spec, handle, name, attempts);
            }
            attempts.Add(new(spec.DisplayName, candidate, AttemptOutcome.LoadFailed, error));
        }
        return null;
    }

    /// <summary>
    /// Loads the companions that sit beside the library (same folder); absent or failing ones are
    /// recorded, not fatal. One that fails is tried once more after the others: a sub-library matched
    /// by a pattern may need one listed after it.
    /// </summary>
    void PreloadCompanions(NativeLibrarySpec spec, string folder, string soname, List<LibraryAttempt> attempts)
    {
        string label = $"{spec.DisplayName} companion";
        var failed = new List<string>();
        foreach (var path in CompanionFiles(folder, spec.Companions(NativeLibrarySpec.SonameVersion(soname))))
        {
            if (_env.TryLoad(path, out _, out _)) attempts.Add(new(label, path, AttemptOutcome.Loaded));
            else failed.Add(path);
        }
        foreach (var path in failed)
            attempts.Add(_env.TryLoad(path, out _, out var error)
                ? new(label, path, AttemptOutcome.Loaded)
                : new(label, path, AttemptOutcome.LoadFailed, error));
    }

    /// <summary>The existing files the companion names and patterns match in <paramref name="folder"/>, in list order, each once.</summary>
    internal static IReadOnlyList<string> CompanionFiles(string folder, IEnumerable<string> namesOrPatterns)
    {
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in namesOrPatterns)
        {
            IEnumerable<string> matches;
            if (!name.Contains('*'))
                matches = File.Exists(Path.Join(folder, name)) ? [Path.Join(folder, name)] : [];
            else
            {
                try { matches = Directory.EnumerateFiles(folder, name).Order(StringComparer.Ordinal).ToList(); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { matches = []; }
            }
            foreach (var path in matches)
                if (seen.Add(path)) files.Add(path);
        }
        return files;
    }

    // The driver's folders leave out the application folder and the Python wheels: libcuda.so.1 must be
    // the one installed with the kernel module, never a copy shipped with an app or a wheel.
    IReadOnlyList<string> BuildSearchFolders(bool driver)
    {
        var folders = new List<string>();
        var arch = ArchitectureFolders.Of(_env.ProcessArchitecture);
        if (_env.GetVariable("LD_LIBRARY_PATH") is { Length: > 0 } ld)
            folders.AddRange(ld.Split(':', StringSplitOptions.RemoveEmptyEntries));
        // Beside the app: how a deployer ships cuDNN and cuBLAS (what .NET's own native probing would find).
        if (!driver && _env.ApplicationFolder is { } app)
            folders.Add(app);

        foreach (var variable in new[] { "CUDA_PATH", "CUDA_HOME", "CUDA_ROOT" })
            if (_env.GetVariable(variable) is { Length: > 0 } root)
            {
                folders.Add(Path.Join(root, "lib64"));
                folders.Add(Path.Join(root, "lib"));
                foreach (var target in arch.CudaTargets)
                    folders.Add(Path.Join(root, "targets", target, "lib"));
                if (OperatingSystem.IsWindows()) folders.Add(Path.Join(root, "bin"));
            }

        foreach (var sitePackages in driver ? [] : SafePythonSitePackages())
        {
            // nvidia/cublas/lib, nvidia/cudnn/lib, nvidia/cuda_nvrtc/lib, and the CUDA 13 wheels' nvidia/cu13/lib.
            folders.AddRange(PathGlob.Directories(Path.Join(sitePackages, "nvidia/*/lib")));
            folders.Add(Path.Join(sitePackages, "torch/lib"));
        }

        folders.AddRange(PathGlob.Directories(_env.MapSystemPath("/usr/local/cuda/lib64")));
        folders.AddRange(PathGlob.Directories(_env.MapSystemPath("/usr/local/cuda-*/lib64")));
        foreach (var fixedPath in new[] { "/usr/local/cuda/lib64", "/usr/lib/" + arch.MultiArch, "/usr/lib64",
                     "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib" })
            folders.Add(_env.MapSystemPath(fixedPath));

        // Keep the first occurrence of each folder: earlier sources win.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return folders.Select(f => Path.TrimEndingDirectorySeparator(f)).Where(f => f.Length > 0 && seen.Add(f)).ToList();
    }

    IReadOnlyList<string> SafePythonSitePackages()
    {
        try { return _env.PythonSitePackages(); }
        catch (Exception) { return []; }
    }
}
