using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Cuda;

public class LibraryLocatorTests
{
    FakeProbeEnvironment _env = null!;

    [SetUp] public void SetUp() => _env = new FakeProbeEnvironment();
    [TearDown] public void TearDown() => _env.Dispose();

    [Test]
    public void CublasFromCuda13WheelLoadsCublasLtFirstFromTheSameFolder()
    {
        var site = _env.Dir("venv/lib/python3.12/site-packages");
        _env.SitePackages.Add(site);
        var lt = _env.Touch("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublasLt.so.13");
        var cublas = _env.Touch("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");

        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas);

        Assert.That(result.Found, Is.True);
        Assert.That(result.Path, Is.EqualTo(cublas));
        Assert.That(_env.Loads, Is.EqualTo(new[] { lt, cublas }), "cuBLASLt must be loaded before cuBLAS, from the same folder");
        Assert.That(result.Attempts.Last(), Is.EqualTo(new LibraryAttempt("cuBLAS", cublas, AttemptOutcome.Loaded)));
    }

    [Test]
    public void LdLibraryPathComesBeforeSitePackagesAndCudaHome()
    {
        var ld = _env.Dir("ld");
        var home = _env.Dir("cudahome");
        var site = _env.Dir("site");
        _env.Variables["LD_LIBRARY_PATH"] = ld + ":" + Path.Join(_env.Root, "nonexistent");
        _env.Variables["CUDA_HOME"] = home;
        _env.SitePackages.Add(site);
        var fromLd = _env.Touch("ld/libcublas.so.12");
        _env.Touch("cudahome/lib64/libcublas.so.13");
        _env.Touch("site/nvidia/cublas/lib/libcublas.so.13");

        var locator = new LibraryLocator(_env);
        var result = locator.Locate(NativeLibrarySpec.Cublas);

        Assert.That(result.Path, Is.EqualTo(fromLd));
        // The folder order itself: LD_LIBRARY_PATH entries, then CUDA_HOME's lib64, then the wheel folder, then system paths.
        var folders = locator.SearchFolders.ToList();
        Assert.That(folders.IndexOf(ld), Is.LessThan(folders.IndexOf(Path.Join(home, "lib64"))));
        Assert.That(folders.IndexOf(Path.Join(home, "lib64")), Is.LessThan(folders.IndexOf(Path.Join(site, "nvidia/cublas/lib"))));
        Assert.That(folders.IndexOf(Path.Join(site, "nvidia/cublas/lib")),
            Is.LessThan(folders.IndexOf(_env.MapSystemPath("/usr/lib/x86_64-linux-gnu"))));
        // In the LD folder the newer soname was tried (missing) before the one found.
        Assert.That(result.Attempts.Select(a => (a.Candidate, a.Outcome)), Is.EqualTo(new[]
        {
            (Path.Join(ld, "libcublas.so.13"), AttemptOutcome.Missing),
            (fromLd, AttemptOutcome.Loaded),
        }));
    }

    /// <summary>
    /// A deployer ships cuDNN and cuBLAS beside the application: found there after LD_LIBRARY_PATH and before
    /// CUDA_HOME, the wheels and the system folders — but never a libcuda.so.1 there (it must match the kernel module).
    /// </summary>
    [Test]
    public void LibrariesBesideTheApplicationAreFound_ButNotTheDriver()
    {
        var app = _env.Dir("app");
        var home = _env.Dir("cudahome");
        _env.ApplicationFolder = app;
        _env.Variables["CUDA_HOME"] = home;
        var shipped = _env.Touch("app/libcudnn.so.9");
        _env.Touch("cudahome/lib64/libcudnn.so.9");
        _env.Touch("app/libcuda.so.1");
        var driver = _env.Touch("sys/usr/lib/x86_64-linux-gnu/libcuda.so.1");

        var locator = new LibraryLocator(_env);

        Assert.That(locator.Locate(NativeLibrarySpec.Cudnn).Path, Is.EqualTo(shipped));
        Assert.That(locator.SearchFolders.ToList().IndexOf(app), Is.LessThan(locator.SearchFolders.ToList().IndexOf(Path.Join(home, "lib64"))));
        Assert.That(locator.Locate(NativeLibrarySpec.Driver).Path, Is.EqualTo(driver));
        Assert.That(_env.Loads, Has.None.EqualTo(Path.Join(app, "libcuda.so.1")));
    }

    /// <summary>
    /// On ARM64 (Grace Hopper, DGX Spark, Jetson) the system folders are ARM64's: Debian's /usr/lib/aarch64-linux-gnu, where
    /// the cuDNN .deb installs, and a toolkit's targets/sbsa-linux and targets/aarch64-linux; x64's are not searched there.
    /// </summary>
    [Test]
    public void OnArm64TheArm64SystemFoldersAreSearched_AndNotX64s()
    {
        _env.ProcessArchitecture = System.Runtime.InteropServices.Architecture.Arm64;
        var home = _env.Dir("cudahome");
        _env.Variables["CUDA_HOME"] = home;
        _env.Touch("sys/usr/lib/x86_64-linux-gnu/libcudnn.so.9");
        var cudnn = _env.Touch("sys/usr/lib/aarch64-linux-gnu/libcudnn.so.9");
        var cublas = _env.Touch("cudahome/targets/sbsa-linux/lib/libcublas.so.13");

        var locator = new LibraryLocator(_env);
        var folders = locator.SearchFolders.ToList();

        Assert.That(locator.Locate(NativeLibrarySpec.Cudnn).Path, Is.EqualTo(cudnn));
        Assert.That(locator.Locate(NativeLibrarySpec.Cublas).Path, Is.EqualTo(cublas));
        Assert.That(folders, Does.Contain(Path.Join(home, "targets/aarch64-linux/lib")));
        Assert.That(folders, Has.None.Contains("x86_64"));
        Assert.That(folders.IndexOf(Path.Join(home, "targets/sbsa-linux/lib")),
            Is.LessThan(folders.IndexOf(_env.MapSystemPath("/usr/lib/aarch64-linux-gnu"))), "CUDA_HOME before the system folders, as on x64");
    }

    [Test]
    public void OnX64NoArm64FolderIsSearched()
    {
        _env.Variables["CUDA_HOME"] = _env.Dir("cudahome");
        _env.Touch("sys/usr/lib/aarch64-linux-gnu/libcudnn.so.9");
        var locator = new LibraryLocator(_env);

        Assert.That(locator.SearchFolders, Has.None.Contains("aarch64").And.None.Contains("sbsa"));
        Assert.That(locator.SearchFolders, Does.Contain(Path.Join(_env.Root, "cudahome", "targets/x86_64-linux/lib")));
        Assert.That(locator.Locate(NativeLibrarySpec.Cudnn).Found, Is.False);
    }

    [Test]
    public void NewestSonameInAFolderWins()
    {
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("lib");
        _env.Touch("lib/libcublas.so.12");
        var v13 = _env.Touch("lib/libcublas.so.13");
        Assert.That(new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas).Path, Is.EqualTo(v13));
    }

    [Test]
    public void Cudnn9PreloadsItsSubLibrariesFromItsOwnFolderBeforeTheMainLibrary()
    {
        _env.SitePackages.Add(_env.Dir("site"));
        const string dir = "site/nvidia/cudnn/lib";
        var graph = _env.Touch($"{dir}/libcudnn_graph.so.9");
        var ops = _env.Touch($"{dir}/libcudnn_ops.so.9");
        var cnn = _env.Touch($"{dir}/libcudnn_cnn.so.9");
        var precompiled = _env.Touch($"{dir}/libcudnn_engines_precompiled.so.9");
        var main = _env.Touch($"{dir}/libcudnn.so.9");

        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cudnn);

        Assert.That(result.Path, Is.EqualTo(main));
        Assert.That(_env.Loads, Is.EqualTo(new[] { graph, precompiled, ops, cnn, main }));
        Assert.That(result.Attempts.Count(a => a.Library == "cuDNN companion" && a.Outcome == AttemptOutcome.Loaded), Is.EqualTo(4));
    }

    [Test]
    public void DriverGoesThroughTheSystemLoaderFirst()
    {
        _env.SystemLoaderHas.Add("libcuda.so.1");
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("ld");
        _env.Touch("ld/libcuda.so.1");

        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Driver);

        Assert.That(result.Path, Is.EqualTo("libcuda.so.1"));
        Assert.That(_env.Loads, Is.EqualTo(new[] { "libcuda.so.1" }));
    }

    [Test]
    public void DriverFallsBackToKnownFoldersWhenTheLoaderCannotFindIt()
    {
        var wsl = _env.Touch("sys/usr/lib/wsl/lib/libcuda.so.1");
        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Driver);
        Assert.That(result.Path, Is.EqualTo(wsl));
        Assert.That(result.Attempts[0].Candidate, Is.EqualTo("libcuda.so.1 via the system loader"));
        Assert.That(result.Attempts[0].Outcome, Is.EqualTo(AttemptOutcome.LoadFailed));
    }

    [Test]
    public void MissingDriverReasonListsWhatWasTried()
    {
        _env.Dir("sys/usr/lib/x86_64-linux-gnu");
        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Driver);

        Assert.That(result.Found, Is.False);
        Assert.That(result.FailureReason, Does.StartWith("libcuda.so.1 not found: tried "));
        Assert.That(result.FailureReason, Does.Contain("libcuda.so.1 via the system loader (load failed: libcuda.so.1: cannot open shared object file)"));
        Assert.That(result.FailureReason, Does.Contain(Path.Join(_env.MapSystemPath("/usr/lib/x86_64-linux-gnu"), "libcuda.so.1") + " (missing)"));
        Assert.That(result.Attempts.Any(a => a.Outcome == AttemptOutcome.FolderMissing && a.Candidate == _env.MapSystemPath("/usr/local/nvidia/lib64")));
        Assert.That(result.FailureReason, Does.Match(@"; \d+ folders absent$"), "absent folders are counted, not listed");
    }

    [Test]
    public void LoaderMessagesKeepOnlyTheLoadersWords()
    {
        const string dotnet = "Unable to load shared library 'libcuda.so.1' or one of its dependencies. In order to help diagnose loading problems, " +
            "consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n" +
            "libcuda.so.1: cannot open shared object file: No such file or directory\n";
        Assert.That(SystemProbeEnvironment.LoaderMessage(dotnet), Is.EqualTo("libcuda.so.1: cannot open shared object file: No such file or directory"));
        Assert.That(SystemProbeEnvironment.LoaderMessage("plain"), Is.EqualTo("plain"));
    }

    [Test]
    public void ABrokenFileIsRecordedAndTheNextCandidateIsTried()
    {
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("a") + ":" + _env.Dir("b");
        var broken = _env.Touch("a/libcudnn.so.9");
        var good = _env.Touch("b/libcudnn.so.9");
        // Only the first copy is broken: mark it by path.
        var env = new BrokenPathEnvironment(_env, broken);

        var result = new LibraryLocator(env).Locate(NativeLibrarySpec.Cudnn);

        Assert.That(result.Path, Is.EqualTo(good));
        Assert.That(result.Attempts, Has.Some.EqualTo(new LibraryAttempt("cuDNN", broken, AttemptOutcome.LoadFailed, "file too short")));
    }

    [Test]
    public void LoadFailuresLeadTheReasonWhenNothingLoads()
    {
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("a");
        var broken = _env.Touch("a/libcublas.so.11");
        _env.Broken.Add("libcublas.so.11");

        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas);

        Assert.That(result.Found, Is.False);
        Assert.That(result.FailureReason, Does.StartWith($"libcublas.so.13 / libcublas.so.12 / libcublas.so.11 not found: tried {broken} (load failed: file too short)"));
    }

    [Test]
    public void CudaFoldersAreTriedNewestFirstWithNumericVersionOrder()
    {
        _env.Dir("sys/usr/local/cuda-12.9/lib64");
        _env.Dir("sys/usr/local/cuda-12.10/lib64");
        _env.Dir("sys/usr/local/cuda-11.8/lib64");
        var folders = new LibraryLocator(_env).SearchFolders.ToList();
        int i129 = folders.IndexOf(_env.MapSystemPath("/usr/local/cuda-12.9/lib64"));
        int i1210 = folders.IndexOf(_env.MapSystemPath("/usr/local/cuda-12.10/lib64"));
        int i118 = folders.IndexOf(_env.MapSystemPath("/usr/local/cuda-11.8/lib64"));
        Assert.That(new[] { i1210, i129, i118 }, Is.Ordered.And.All.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void APythonThatThrowsDoesNotStopDiscovery()
    {
        _env.PythonThrows = true;
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("lib");
        var lib = _env.Touch("lib/libcublas.so.13");
        Assert.That(new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas).Path, Is.EqualTo(lib));
    }

    [Test]
    public void ResultsAreCachedPerLibrary()
    {
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("lib");
        _env.Touch("lib/libcublas.so.13");
        var locator = new LibraryLocator(_env);
        var first = locator.Locate(NativeLibrarySpec.Cublas);
        int loads = _env.Loads.Count;
        Assert.That(locator.Locate(NativeLibrarySpec.Cublas), Is.SameAs(first));
        Assert.That(_env.Loads, Has.Count.EqualTo(loads));
    }

    [Test]
    public void TheRealLoaderRejectsAnEmptyFileWithItsOwnMessage()
    {
        var path = _env.Touch("real/libcublas.so.13");
        bool ok = SystemProbeEnvironment.Instance.TryLoad(path, out var handle, out var error);
        Assert.That(ok, Is.False);
        Assert.That(handle, Is.EqualTo((nint)0));
        Assert.That(error, Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public void CommonPythonLocationsAreGlobbedUnderHome()
    {
        var site = _env.Dir("home/.local/lib/python3.12/site-packages");
        var pyenv = _env.Dir("home/.pyenv/versions/3.11.9/lib/python3.11/site-packages");
        var found = PythonSitePackagesFinder.CommonLocations(_env).ToList();
        Assert.That(found, Does.Contain(site));
        Assert.That(found, Does.Contain(pyenv));
    }

    /// <summary>Wraps the fake so that one specific path fails to load.</summary>
    sealed class BrokenPathEnvironment(FakeProbeEnvironment inner, string brokenPath) : IProbeEnvironment
    {
        public string? GetVariable(string name) => inner.GetVariable(name);
        public string MapSystemPath(string absolutePath) => inner.MapSystemPath(absolutePath);
        public IReadOnlyList<string> PythonSitePackages() => inner.PythonSitePackages();
        public string? ApplicationFolder => inner.ApplicationFolder;
        public int DriverCudaVersion() => inner.DriverCudaVersion();
        public bool TryLoad(string pathOrName, out nint handle, out string? error)
        {
            if (pathOrName == brokenPath) { handle = 0; error = "file too short"; return false; }
            return inner.TryLoad(pathOrName, out handle, out error);
        }
    }
}

/// <summary>The site-packages question really goes to every python on PATH (a stand-in script here).</summary>
public class PythonSitePackagesFinderTests
{
    [Test]
    public void AsksEachPythonOnPathAndKeepsExistingFolders()
    {
        if (OperatingSystem.IsWindows()) { Assert.Ignore("uses a shell script as the stand-in python"); return; }
        using var env = new FakeProbeEnvironment();
        var site = env.Dir("py/lib/python3.12/site-packages");
        var bin = env.Dir("bin");
        var script = Path.Join(bin, "python3");
        File.WriteAllText(script, $"#!/bin/sh\necho '{site}'\necho '{Path.Join(env.Root, "does-not-exist")}'\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        env.Variables["PATH"] = bin;

        var found = GpuConv.Cuda.Discovery.PythonSitePackagesFinder.Find(env);

        Assert.That(found, Is.EqualTo(new[] { site }));
    }
}
