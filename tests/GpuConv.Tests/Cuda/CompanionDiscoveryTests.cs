using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// The CUDA 13 / cuDNN 9 wheel layouts: NVRTC's builtins with a minor version in the soname, every cuDNN
/// sub-library beside libcudnn (graph first), and Pythons in virtual environments.
/// </summary>
public class CompanionDiscoveryTests
{
    FakeProbeEnvironment _env = null!;

    [SetUp] public void SetUp() => _env = new FakeProbeEnvironment();
    [TearDown] public void TearDown() => _env.Dispose();

    [Test]
    public void NvrtcBuiltinsWithAMinorVersionAreLoadedBeforeNvrtc()
    {
        _env.SitePackages.Add(_env.Dir("site"));
        var builtins = _env.Touch("site/nvidia/cu13/lib/libnvrtc-builtins.so.13.0");
        var nvrtc = _env.Touch("site/nvidia/cu13/lib/libnvrtc.so.13");
        _env.Touch("site/nvidia/cu13/lib/libnvrtc-builtins.so.12.8"); // another major: not a companion

        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Nvrtc);

        Assert.That(result.Path, Is.EqualTo(nvrtc));
        Assert.That(_env.Loads, Is.EqualTo(new[] { builtins, nvrtc }));
    }

    [Test]
    public void EveryCudnnSubLibraryOfTheSameMajorIsPreloadedGraphFirst()
    {
        _env.SitePackages.Add(_env.Dir("site"));
        const string dir = "site/nvidia/cudnn/lib";
        var adv = _env.Touch($"{dir}/libcudnn_adv.so.9");
        var graph = _env.Touch($"{dir}/libcudnn_graph.so.9");
        var ops = _env.Touch($"{dir}/libcudnn_ops.so.9");
        var cnn = _env.Touch($"{dir}/libcudnn_cnn.so.9");
        var future = _env.Touch($"{dir}/libcudnn_engines_future.so.9"); // a sub-library no list knows
        _env.Touch($"{dir}/libcudnn_ops.so.8");                          // another major: left alone
        var main = _env.Touch($"{dir}/libcudnn.so.9");

        var result = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cudnn);

        Assert.That(result.Path, Is.EqualTo(main));
        Assert.That(_env.Loads, Is.EqualTo(new[] { graph, ops, cnn, adv, future, main }));
    }

    [Test]
    public void ASubLibraryThatFailsFirstIsRetriedAfterTheOthers()
    {
        _env.SitePackages.Add(_env.Dir("site"));
        const string dir = "site/nvidia/cudnn/lib";
        var graph = _env.Touch($"{dir}/libcudnn_graph.so.9");
        var ops = _env.Touch($"{dir}/libcudnn_ops.so.9");
        _env.Touch($"{dir}/libcudnn.so.9");
        var env = new FailsOnceEnvironment(_env, graph);

        var result = new LibraryLocator(env).Locate(NativeLibrarySpec.Cudnn);

        Assert.That(result.Found, Is.True);
        Assert.That(_env.Loads.Take(2), Is.EqualTo(new[] { ops, graph }), "graph failed once (counted by the wrapper), ops loaded, graph retried");
        Assert.That(result.Attempts, Has.Some.EqualTo(new LibraryAttempt("cuDNN companion", graph, AttemptOutcome.Loaded)));
        Assert.That(result.Attempts.Where(a => a.Outcome == AttemptOutcome.LoadFailed), Is.Empty);
    }

    [Test]
    public void CompanionPatternsMatchEachFileOnceInListOrder()
    {
        var dir = _env.Dir("lib");
        foreach (var name in new[] { "libcudnn_b.so.9", "libcudnn_a.so.9", "libcudnn_graph.so.9", "libcudnn_x.so.9.1" })
            _env.Touch("lib/" + name);
        var files = LibraryLocator.CompanionFiles(dir, ["libcudnn_graph.so.9", "libcudnn_missing.so.9", "libcudnn_*.so.9"]);
        Assert.That(files.Select(Path.GetFileName), Is.EqualTo(new[] { "libcudnn_graph.so.9", "libcudnn_a.so.9", "libcudnn_b.so.9" }));
    }

    [Test]
    public void VenvSitePackagesUnderOptAreGlobbed()
    {
        var dotVenv = _env.Dir("sys/opt/torch/.venv/lib/python3.12/site-packages");
        var venv = _env.Dir("sys/opt/other/venv/lib/python3.11/site-packages");
        var found = PythonSitePackagesFinder.CommonLocations(_env).ToList();
        Assert.That(found, Does.Contain(dotVenv));
        Assert.That(found, Does.Contain(venv));
    }

    [Test]
    public void AVenvInterpreterLinkedToTheBaseOneIsStillAsked()
    {
        if (!OperatingSystem.IsLinux()) { Assert.Ignore("uses symbolic links and a shell script as the stand-in python"); return; }
        // The stand-in reports a site-packages beside the path it was invoked by, as a venv's python does.
        var bin = _env.Dir("usr/bin");
        var basePython = StandInPython(Path.Join(bin, "python3"));
        _env.Dir("usr/site");
        var venvBin = _env.Dir("venv/bin");
        File.CreateSymbolicLink(Path.Join(venvBin, "python3"), basePython);
        _env.Dir("venv/site");
        var optBin = _env.Dir("sys/opt/torch/.venv/bin");
        File.CreateSymbolicLink(Path.Join(optBin, "python3"), basePython);
        _env.Dir("sys/opt/torch/.venv/site");
        _env.Variables["PATH"] = bin + ":" + venvBin;
        _env.Variables["VIRTUAL_ENV"] = Path.Join(_env.Root, "venv"); // also on PATH: asked once

        var interpreters = PythonSitePackagesFinder.Interpreters(_env);
        var found = PythonSitePackagesFinder.Find(_env);

        Assert.That(interpreters, Is.EqualTo(new[] { basePython, Path.Join(venvBin, "python3"), Path.Join(optBin, "python3") }));
        Assert.That(found.Take(3), Is.EqualTo(new[]
        {
            Path.Join(_env.Root, "usr/site"), Path.Join(_env.Root, "venv/site"), Path.Join(_env.Root, "sys/opt/torch/.venv/site"),
        }));
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    static string StandInPython(string path)
    {
        File.WriteAllText(path, "#!/bin/sh\ncd \"$(dirname \"$0\")/../site\" && pwd\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>The first load of one path fails (as when a dependency is not loaded yet), later ones succeed.</summary>
    sealed class FailsOnceEnvironment(FakeProbeEnvironment inner, string failsOnce) : IProbeEnvironment
    {
        bool failed;
        public string? GetVariable(string name) => inner.GetVariable(name);
        public string MapSystemPath(string absolutePath) => inner.MapSystemPath(absolutePath);
        public IReadOnlyList<string> PythonSitePackages() => inner.PythonSitePackages();
        public string? ApplicationFolder => inner.ApplicationFolder;
        public int DriverCudaVersion() => inner.DriverCudaVersion();
        public bool TryLoad(string pathOrName, out nint handle, out string? error)
        {
            if (pathOrName == failsOnce && !failed) { failed = true; handle = 0; error = "undefined symbol"; return false; }
            return inner.TryLoad(pathOrName, out handle, out error);
        }
    }
}
