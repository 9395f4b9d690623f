using System.Diagnostics;

namespace GpuConv.Tests.Support;

/// <summary>
/// A folder on its own tmpfs, for the file-system failures a test cannot fake: a read-only file system
/// (writes fail with EROFS rather than a permission error) or a disk that fills up. Needs Linux and the
/// right to mount (root in CI); otherwise the test is ignored with the reason.
/// </summary>
public sealed class TmpfsFolder : IDisposable
{
    TmpfsFolder(string path) => Path = path;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A read-only tmpfs; <paramref name="fill"/> may write into it before it is remounted read-only.</summary>
    public static TmpfsFolder ReadOnly(Action<string>? fill = null)
    {
        var folder = Mount("ro", 4096);
        fill?.Invoke(folder.Path);
        if (!Run("mount", "-o", "remount,ro", folder.Path))
        {
            folder.Dispose();
            Assert.Ignore("remount read-only is not permitted here");
        }
        return folder;
    }

    /// <summary>A tmpfs of <paramref name="kib"/> KiB: a disk that fills up.</summary>
    public static TmpfsFolder Small(int kib) => Mount("small", kib);

    static TmpfsFolder Mount(string kind, int kib)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Ignore("a tmpfs mount needs Linux and root");
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gpuconv-{kind}-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        if (!Run("mount", "-t", "tmpfs", "-o", $"size={kib}k", "tmpfs", path))
        {
            Directory.Delete(path);
            Assert.Ignore("mount is not permitted here");
        }
        return new TmpfsFolder(path);
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
