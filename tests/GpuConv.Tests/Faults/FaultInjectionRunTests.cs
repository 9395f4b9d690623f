using System.Diagnostics;
using System.Text.RegularExpressions;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Faults;

/// <summary>
/// Runs <see cref="FaultScenarioTests"/> in child processes against the native fakes (tests/NativeFakes, built
/// here as NativeFakeRunTests builds them), one process per group because GPU discovery is probed once per
/// process: the driver failing cuInit, reporting no device, cuDNN's cudnnCreate failing, libcudnn missing,
/// cuBLAS's cublasCreate failing, and faults injected while an engine runs. The children start together in the
/// fixture's set-up (they take seconds each; most of it is the test host starting). Each group must pass every
/// one of its tests, and the fake driver's exit report must show nothing live ("live: ... total=0").
/// Where the fakes cannot be built the tests fail when GPUCONV_REQUIRE_NATIVE_FAKES=1 (CI), else skip.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class FaultInjectionRunTests
{
    static readonly string TestOutput = Path.GetDirectoryName(typeof(FaultInjectionRunTests).Assembly.Location)!;

    /// <summary>Group, its GPUCONV_FAKE_FAULTS / GPUCONV_FAKE_DEVICE_COUNT, and how many tests it runs.</summary>
    static readonly (string Group, string Faults, string? DeviceCount, int Tests)[] Groups =
    [
        ("cuinit", "cuInit@*=999", null, 1),
        ("nodevice", "", "0", 1),
        ("cudnncreate", "cudnnCreate@*=4000", null, 1),
        ("cudnnmissing", "", null, 1),
        ("cublascreate", "cublasCreate_v2@*=3", null, 1),
        ("run", "", null, 15),
    ];

    string _fakes = null!;
    readonly Dictionary<string, Task<(int Code, string Output, string Report)>> _children = [];

    [OneTimeSetUp]
    public void BuildFakesAndStartTheChildren()
    {
        bool required = Environment.GetEnvironmentVariable("GPUCONV_REQUIRE_NATIVE_FAKES") == "1";
        if (RepositoryRoot() is not { } repo)
        {
            string missing = $"tests/NativeFakes/build.sh is not above {TestOutput} (a published test folder)";
            if (required) Assert.Fail(missing);
            Assert.Ignore(missing);
            return;
        }
        // A folder of its own: NativeFakeRunTests builds into native-fakes, and the two must not race on the same files.
        _fakes = Path.Join(TestOutput, "native-fakes-faults");
        var (code, stdout, stderr) = Run("bash", [Path.Join(repo, "tests/NativeFakes/build.sh"), _fakes], [], TimeSpan.FromMinutes(10));
        if (code != 0)
        {
            string why = $"the native fakes could not be built (build.sh exit {code}): {stderr.Trim().Split('\n').LastOrDefault()}";
            if (required) Assert.Fail(why + Environment.NewLine + stdout + stderr);
            Assert.Ignore(why);
        }
        // libcudnn missing: the driver and cuBLAS only (links to the same files, so one driver instance per process).
        string noCudnn = Path.Join(_fakes, "without-cudnn");
        Directory.CreateDirectory(noCudnn);
        foreach (var lib in new[] { "libcuda.so.1", "libcublas.so.13" })
        {
            string link = Path.Join(noCudnn, lib);
            if (!File.Exists(link)) File.CreateSymbolicLink(link, Path.Join(_fakes, lib));
        }
        foreach (var g in Groups)
        {
            string folder = g.Group == "cudnnmissing" ? noCudnn : _fakes;
            string report = Path.Join(_fakes, $"report-{g.Group}-{Environment.ProcessId}.txt");
            File.Delete(report);
            var env = new Dictionary<string, string>
            {
                ["LD_LIBRARY_PATH"] = folder + (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") is { Length: > 0 } ld ? ":" + ld : ""),
                [NativeFakeLibraries.FolderVariable] = folder,
                ["GPUCONV_FAKE_REPORT"] = report,
                ["GPUCONV_FAKE_FAULTS"] = g.Faults,
                [FaultScenarioTests.GroupVariable] = g.Group,
            };
            if (g.DeviceCount is { } n) env["GPUCONV_FAKE_DEVICE_COUNT"] = n;
            string[] args = ["--filter", $"FullyQualifiedName~{typeof(FaultScenarioTests).FullName}&TestCategory=fault-{g.Group}"];
            _children[g.Group] = Task.Run(() =>
            {
                var (c, o, e) = Run(TestHost(), args, env, TimeSpan.FromMinutes(8));
                return (c, o + e, File.Exists(report) ? File.ReadAllText(report) : "");
            });
        }
    }

    static IEnumerable<string> GroupNames() => Groups.Select(g => g.Group);

    [TestCaseSource(nameof(GroupNames))]
    public void FaultScenariosPassInAChildAgainstTheFakes(string group)
    {
        var (code, output, report) = _children[group].GetAwaiter().GetResult();
        int Count(string label) => Regex.Match(output, $@"^\s*{label}:\s*(\d+)", RegexOptions.Multiline) is { Success: true } m ? int.Parse(m.Groups[1].Value) : -1;
        int expected = Groups.Single(g => g.Group == group).Tests;
        TestContext.Out.WriteLine($"group {group}: {Count("succeeded")} passed, {Count("failed")} failed, {Count("skipped")} skipped");
        TestContext.Out.WriteLine("fake driver at exit: " + report.Trim());
        Assert.That(Count("failed"), Is.EqualTo(0), output);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(Count("succeeded"), Is.EqualTo(expected), output);
        Assert.That(report, Does.Match(@"live: .* total=0 "), "nothing live at the child's exit:" + Environment.NewLine + report);
    }

    static string TestHost() => Path.Join(TestOutput, Path.GetFileNameWithoutExtension(typeof(FaultInjectionRunTests).Assembly.Location));

    static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestOutput); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Join(dir.FullName, "tests/NativeFakes/build.sh"))) return dir.FullName;
        return null;
    }

    static (int Code, string Stdout, string Stderr) Run(string program, string[] args, Dictionary<string, string> env, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            return (-1, stdout.Result, stderr.Result + $"{Environment.NewLine}{program} ran past {limit} and was killed");
        }
        p.WaitForExit();
        // With CI=true the test platform colours its summary: read the counts without the colour codes.
        static string Plain(string text) => Regex.Replace(text, @"\x1b\[[0-9;]*m", "");
        return (p.ExitCode, Plain(stdout.Result), Plain(stderr.Result));
    }
}
