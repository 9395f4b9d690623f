using System.Diagnostics;

namespace GpuConv.Tests.Support;

/// <summary>A tmpfs of a few KiB: a disk that fills up. Needs Linux and the right to mount (root in CI); else the test is ignored.</summary>
public sealed class SmallFileSystem : IDisposable
{
    SmallFileSystem(string path) => Path = path;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public static SmallFileSystem Create(int kib)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Ignore("a size-limited mount needs Linux and root");
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gpuconv-small-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        var psi = new ProcessStartInfo("mount") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-t", "tmpfs", "-o", $"size={kib}k", "tmpfs", path }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.WaitForExit(10_000);
        if (p.ExitCode != 0)
        {
            Directory.Delete(path);
            Assert.Ignore("mount is not permitted here");
        }
        return new SmallFileSystem(path);
    }

    public void Dispose()
    {
        var psi = new ProcessStartInfo("umount") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(Path);
        using (var p = Process.Start(psi)!) p.WaitForExit(10_000);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
