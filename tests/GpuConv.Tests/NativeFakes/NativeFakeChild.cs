using System.Diagnostics;
using System.Text.RegularExpressions;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.NativeFakes;

/// <summary>
/// What every test that runs a CHILD process against the native fakes needs: the fakes built from tests/NativeFakes
/// (or the reason they cannot be: a failure when GPUCONV_REQUIRE_NATIVE_FAKES=1, as in CI, else a skip), the child's
/// environment pointing the loader at them, and the child run with a time limit and its output without colour codes.
/// </summary>
static class NativeFakeChild
{
    /// <summary>The folder this test assembly runs from (the fakes are built below it).</summary>
    public static readonly string TestOutput = Path.GetDirectoryName(typeof(NativeFakeChild).Assembly.Location)!;

    /// <summary>This test assembly's own host (apphost beside the dll), which runs the Microsoft.Testing.Platform CLI.</summary>
    public static string TestHost() => Path.Join(TestOutput, Path.GetFileNameWithoutExtension(typeof(NativeFakeChild).Assembly.Location));

    /// <summary>The checkout this test assembly was built in; null in a published test folder (the GPU host's pack).</summary>
    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestOutput); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Join(dir.FullName, "tests/NativeFakes/build.sh"))) return dir.FullName;
        return null;
    }

    /// <summary>
    /// Builds the fakes into <paramref name="folderName"/> under the test output (build.sh skips what is up to date)
    /// and returns that folder; fails or skips the calling fixture with the reason when they cannot be built.
    /// </summary>
    public static string BuildOrSkip(string folderName)
    {
        bool required = System.Environment.GetEnvironmentVariable("GPUCONV_REQUIRE_NATIVE_FAKES") == "1";
        if (RepositoryRoot() is not { } repo)
        {
            string missing = $"tests/NativeFakes/build.sh is not above {TestOutput} (a published test folder)";
            if (required) Assert.Fail(missing);
            Assert.Ignore(missing);
            return "";
        }
        string folder = Path.Join(TestOutput, folderName);
        var (code, stdout, stderr) = Run("bash", [Path.Join(repo, "tests/NativeFakes/build.sh"), folder], TimeSpan.FromMinutes(10));
        if (code != 0)
        {
            string why = $"the native fakes could not be built (build.sh exit {code}): {LastLine(stderr)}";
            if (required) Assert.Fail(why + System.Environment.NewLine + stdout + stderr);
            Assert.Ignore(why);
        }
        return folder;
    }

    /// <summary>The environment that makes a child load the fakes in <paramref name="folder"/> and write its exit report to <paramref name="report"/>.</summary>
    public static Dictionary<string, string> Environment(string folder, string report) => new()
    {
        ["LD_LIBRARY_PATH"] = folder + (System.Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") is { Length: > 0 } ld ? ":" + ld : ""),
        [NativeFakeLibraries.FolderVariable] = folder,
        ["GPUCONV_FAKE_REPORT"] = report,
    };

    /// <summary>NVIDIA's ptxas for the fake JIT: CI exports GPUCONV_PTXAS; a developer's plain `dotnet test` gets the copy build/fetch-ptxas.sh keeps.</summary>
    public static string? Ptxas()
    {
        if (System.Environment.GetEnvironmentVariable("GPUCONV_PTXAS") is { Length: > 0 } set) return set;
        if (RepositoryRoot() is not { } repo) return null;
        var (code, stdout, _) = Run("bash", [Path.Join(repo, "build/fetch-ptxas.sh")], TimeSpan.FromMinutes(15));
        return code == 0 && LastLine(stdout) is { Length: > 0 } path && File.Exists(path) ? path : null;
    }

    public static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    /// <summary>
    /// Runs <paramref name="program"/>; past <paramref name="limit"/> it is killed and the exit code is -1 (the output
    /// says so). With CI=true the test platform colours its summary, so the output comes back without colour codes.
    /// </summary>
    public static (int Code, string Stdout, string Stderr) Run(string program, string[] args, TimeSpan limit,
        Dictionary<string, string>? env = null, string? workingDirectory = null)
    {
        // Under emulation (build/arm64-check.sh) the test output's own executables (the samples, this test host) are
        // aarch64 files the kernel cannot exec: they go through the emulator. Scripts and host tools run as they are.
        if (EmulatedSelf.Emulator is { } emulator && Path.GetDirectoryName(Path.GetFullPath(program)) == Path.TrimEndingDirectorySeparator(Path.GetFullPath(TestOutput)))
            (program, args) = (emulator, [program, .. args]);
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, Plain(stdout.Result), Plain(stderr.Result) + $"{System.Environment.NewLine}{program} {string.Join(' ', args)} ran past {limit} and was killed");
        }
        p.WaitForExit();
        return (p.ExitCode, Plain(stdout.Result), Plain(stderr.Result));
    }

    static string Plain(string text) => Regex.Replace(text, @"\x1b\[[0-9;]*m", "");
}
