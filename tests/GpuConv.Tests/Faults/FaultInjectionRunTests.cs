using System.Diagnostics;
using System.Text.RegularExpressions;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Faults;

/// <summary>
/// Runs <see cref="FaultScenarioTests"/> in child processes against the native fakes (tests/NativeFakes, built
/// here as NativeFakeRunTests builds them), one process per group because GPU discovery is probed once per
/// process: the driver failing cuInit, reporting no device, cuDNN's cudnnCreate failing, libcudnn missing,
/// cuBLAS's cublasCreate failing, libcublas missing, and faults injected while an engine runs. The children start together in the
/// fixture's set-up (they take seconds each; most of it is the test host starting). Each group must pass every
/// one of its tests, and the fake driver's exit report must show nothing live ("live: ... total=0").
/// Where the fakes cannot be built the tests fail when GPUCONV_REQUIRE_NATIVE_FAKES=1 (CI), else skip.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class FaultInjectionRunTests
{
    /// <summary>Group, its GPUCONV_FAKE_FAULTS / GPUCONV_FAKE_DEVICE_COUNT, and how many tests it runs.</summary>
    static readonly (string Group, string Faults, string? DeviceCount, int Tests)[] Groups =
    [
        ("cuinit", "cuInit@*=999", null, 1),
        ("nodevice", "", "0", 1),
        ("cudnncreate", "cudnnCreate@*=4000", null, 1),
        ("cudnnmissing", "", null, 1),
        ("cublascreate", "cublasCreate_v2@*=3", null, 1),
        ("cublasmissing", "", null, 1),
        ("run", "", null, 19),
    ];

    string _fakes = null!;
    readonly Dictionary<string, Task<(int Code, string Output, string Report)>> _children = [];

    [OneTimeSetUp]
    public void BuildFakesAndStartTheChildren()
    {
        // A folder of its own: NativeFakeRunTests builds into native-fakes, and the two must not race on the same files.
        _fakes = NativeFakeChild.BuildOrSkip("native-fakes-faults");
        // libcudnn missing: the driver and cuBLAS only (links to the same files, so one driver instance per process).
        string noCudnn = Path.Join(_fakes, "without-cudnn");
        Directory.CreateDirectory(noCudnn);
        foreach (var lib in new[] { "libcuda.so.1", "libcublas.so.13" })
        {
            string link = Path.Join(noCudnn, lib);
            if (!File.Exists(link)) File.CreateSymbolicLink(link, Path.Join(_fakes, lib));
        }
        // libcublas missing: the driver and cuDNN only (no ptx backend).
        string noCublas = Path.Join(_fakes, "without-cublas");
        Directory.CreateDirectory(noCublas);
        foreach (var lib in new[] { "libcuda.so.1", "libcudnn.so.9" })
        {
            string link = Path.Join(noCublas, lib);
            if (!File.Exists(link)) File.CreateSymbolicLink(link, Path.Join(_fakes, lib));
        }
        foreach (var g in Groups)
        {
            string folder = g.Group switch { "cudnnmissing" => noCudnn, "cublasmissing" => noCublas, _ => _fakes };
            string report = Path.Join(_fakes, $"report-{g.Group}-{Environment.ProcessId}.txt");
            File.Delete(report);
            var env = NativeFakeChild.Environment(folder, report);
            env["GPUCONV_FAKE_FAULTS"] = g.Faults;
            env[FaultScenarioTests.GroupVariable] = g.Group;
            if (g.DeviceCount is { } n) env["GPUCONV_FAKE_DEVICE_COUNT"] = n;
            string[] args = ["--filter", $"FullyQualifiedName~{typeof(FaultScenarioTests).FullName}&TestCategory=fault-{g.Group}"];
            _children[g.Group] = Task.Run(() =>
            {
                var (c, o, e) = NativeFakeChild.Run(NativeFakeChild.TestHost(), args, TimeSpan.FromMinutes(8), env);
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

}
