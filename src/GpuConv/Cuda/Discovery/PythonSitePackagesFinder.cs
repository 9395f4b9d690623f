using System.Diagnostics;

namespace GpuConv.Cuda.Discovery;

/// <summary>
/// Finds the site-packages folders where pip puts NVIDIA's wheels (nvidia/cublas/lib, nvidia/cudnn/lib,
/// nvidia/cu13/lib…): asks every python on PATH, the active $VIRTUAL_ENV's and those of /opt/*/.venv and
/// /opt/*/venv (short timeout each), then globs the usual venv, conda and pyenv places. Interpreters are
/// told apart by their path, not their symlink target: a venv's python3 links to the base interpreter
/// but reports the venv's own site-packages; duplicates are removed among the folders reported. Never throws.
/// </summary>
internal static class PythonSitePackagesFinder
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    const string Script =
        "import site, sysconfig\n" +
        "out = []\n" +
        "try: out += site.getsitepackages()\n" +
        "except Exception: pass\n" +
        "try: out.append(site.getusersitepackages())\n" +
        "except Exception: pass\n" +
        "p = sysconfig.get_paths(); out += [p.get('purelib', ''), p.get('platlib', '')]\n" +
        "print('\\n'.join(x for x in out if x))\n";

    public static IReadOnlyList<string> Find(IProbeEnvironment env)
    {
        var result = new List<string>();
        foreach (var python in Interpreters(env))
            result.AddRange(Ask(python));
        result.AddRange(CommonLocations(env));
        return result.Where(Directory.Exists).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Glob patterns (home-relative ones resolved from HOME) for Pythons that may not be on PATH.</summary>
    public static IEnumerable<string> CommonLocations(IProbeEnvironment env)
    {
        var patterns = new List<string>();
        foreach (var v in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (env.GetVariable(v) is { Length: > 0 } prefix)
                patterns.Add(Path.Join(prefix, "lib/python3*/site-packages"));
        if (env.GetVariable("HOME") is { Length: > 0 } home)
            foreach (var rel in new[] { ".local/lib/python3*/site-packages", ".venv/lib/python3*/site-packages",
                         "venv/lib/python3*/site-packages", "miniconda3/lib/python3*/site-packages",
                         "anaconda3/lib/python3*/site-packages", "miniforge3/lib/python3*/site-packages",
                         ".pyenv/versions/*/lib/python3*/site-packages" })
                patterns.Add(Path.Join(home, rel));
        foreach (var abs in new[] { "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                     "/usr/lib/python3/dist-packages", "/opt/conda/lib/python3*/site-packages",
                     "/opt/*/lib/python3*/site-packages", "/opt/*/.venv/lib/python3*/site-packages",
                     "/opt/*/venv/lib/python3*/site-packages", "/workspace/.venv/lib/python3*/site-packages" })
            patterns.Add(env.MapSystemPath(abs));
        return patterns.SelectMany(PathGlob.Directories);
    }

    /// <summary>
    /// The interpreters to ask: python3/python in each PATH folder, then $VIRTUAL_ENV/bin, /opt/*/.venv/bin
    /// and /opt/*/venv/bin. Within one folder python and python3 are usually the same file, so one is
    /// asked; across folders each is asked (a venv's interpreter is a link to the base one).
    /// </summary>
    internal static IReadOnlyList<string> Interpreters(IProbeEnvironment env)
    {
        var folders = new List<string>();
        if (env.GetVariable("PATH") is { Length: > 0 } path)
            folders.AddRange(path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        if (env.GetVariable("VIRTUAL_ENV") is { Length: > 0 } venv)
            folders.Add(Path.Join(venv, "bin"));
        foreach (var pattern in new[] { "/opt/*/.venv/bin", "/opt/*/venv/bin" })
            folders.AddRange(PathGlob.Directories(env.MapSystemPath(pattern)));

        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in folders.Select(f => Path.TrimEndingDirectorySeparator(f)).Distinct(StringComparer.Ordinal))
        {
            foreach (var name in new[] { "python3", "python" })
            {
                var candidate = Path.Join(dir, name);
                if (File.Exists(candidate) && seen.Add(dir + "\0" + ResolveLink(candidate)))
                    result.Add(candidate);
            }
        }
        return result;
    }

    static string ResolveLink(string path)
    {
        try { return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path; }
        catch (IOException) { return path; }
    }

    static IEnumerable<string> Ask(string python)
    {
        try
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(Script);
            using var p = Process.Start(psi);
            if (p is null) return [];
            var stdout = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(Timeout))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                return [];
            }
            return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return [];
        }
    }
}
