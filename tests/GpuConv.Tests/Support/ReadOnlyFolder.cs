using System.Diagnostics;

namespace GpuConv.Tests.Support;

/// <summary>
/// A folder on a read-only file system (a tmpfs mounted read-only, optionally holding files written
/// before it was made read-only), the case where writes fail with EROFS rather than a permission
/// error. Needs Linux and the right to mount (root in CI); otherwise the test is ignored with the reason.
/// </summary>
public sealed class ReadOnlyFolder : IDisposable
{
    ReadOnlyFolder(string path) => Path = path;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Mounts a tmpfs, lets <paramref name="fill"/> write into it, then remounts it read-only.</summary>
    public static ReadOnlyFolder Create(Action<string>? fill = null)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Ignore("a read-only mount needs Linux and root");
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gpuconv-ro-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        if (!Run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", path))
        {
            Directory.Delete(path);
            Assert.Ignore("mount is not permitted here");
        }
        var folder = new ReadOnlyFolder(path);
        fill?.Invoke(path);
        if (!Run("mount", "-o", "remount,ro", path))
        {
            folder.Dispose();
            Assert.Ignore("remount read-only is not permitted here");
        }
        return folder;
    }

    public void Dispose()
    {
        Run("umount", Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    static bool Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            p.WaitForExit(10_000);
            return p.HasExited && p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }
}
