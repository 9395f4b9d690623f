namespace GpuConv.Cuda.Discovery;

/// <summary>The outcome of locating one library: the loaded handle and path, or why not, plus every attempt.</summary>
internal sealed record LocateResult(NativeLibrarySpec Spec, nint Handle, string? Path, IReadOnlyList<LibraryAttempt> Attempts)
{
    public bool Found => Handle != 0;

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
        if (spec.PreferSystemLoader && TryBareNames(spec, attempts) is { } viaLoader)
            return viaLoader;

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
                PreloadCompanions(spec, folder, name, attempts);
                if (_env.TryLoad(path, out var handle, out var error))
                {
                    attempts.Add(new(spec.DisplayName, path, AttemptOutcome.Loaded));
                    return new LocateResult(spec, handle, path, attempts);
                }
                attempts.Add(new(spec.DisplayName, path, AttemptOutcome.LoadFailed, error));
            }
        }

        if (!spec.PreferSystemLoader && TryBareNames(spec, attempts) is { } last)
            return last;
        return new LocateResult(spec, 0, null, attempts);
    }

    LocateResult? TryBareNames(NativeLibrarySpec spec, List<LibraryAttempt> attempts)
    {
        foreach (var name in spec.Names)
        {
            string candidate = $"{name} via the system loader";
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
                folders.Add(Path.Join(root, "targets/x86_64-linux/lib"));
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
        foreach (var fixedPath in new[] { "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64",
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
