using System.Diagnostics;
using System.Text.RegularExpressions;
using GpuConv.Cpu.Gemm;
using GpuConv.Tests.Cpu.Simd;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Proves every SIMD tier on one machine: re-runs the tests of the <c>GpuConv.Tests.Cpu.Simd</c>
/// namespace in a child test process with the wider instruction sets switched off through the
/// runtime's own knobs, and asserts the child passed and picked the expected tier.
/// </summary>
[NonParallelizable]
public class SimdTierChildProcessTests
{
    // .NET 10 groups the AVX-512 ISAs under DOTNET_EnableAVX512 and ignores the older EnableAVX512F: set both.
    [TestCase("DOTNET_EnableAVX512F,DOTNET_EnableAVX512", GemmTier.Vector256)]
    [TestCase("DOTNET_EnableAVX2", GemmTier.Vector128)]
    [TestCase("DOTNET_EnableHWIntrinsic", GemmTier.Scalar)]
    public void SimdTestsPassWithWiderTiersSwitchedOff(string variable, GemmTier expected)
    {
        if (GemmTiers.Best <= expected)
            Assert.Ignore($"this machine's best tier is {GemmTiers.Best}; switching off {variable} proves nothing new");
        string dll = typeof(SgemmSimdTests).Assembly.Location;
        string[] args = ["--filter", "FullyQualifiedName~GpuConv.Tests.Cpu.Simd.", "--output", "detailed", "--progress", "off", "--no-ansi"];
        var start = EmulatedSelf.StartInfo(args) ?? new ProcessStartInfo(DotnetHost(), [dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in variable.Split(','))
            start.Environment[name] = "0";
        start.Environment[SgemmSimdTests.ExpectedTierVariable] = expected.ToString();
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        string output = child.StandardOutput.ReadToEnd();
        if (!child.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail($"child test run with {variable}=0 did not finish in 3 minutes");
        }
        // No colour codes between "passed" and the test name (CI=true makes the platform colour its output).
        string all = Regex.Replace(output + stderr.Result, @"\x1b\[[0-9;]*m", "");
        TestContext.Out.WriteLine(all.Length > 3000 ? all[^3000..] : all);
        Assert.That(child.ExitCode, Is.Zero, $"child run with {variable}=0 failed:\n{all}");
        var succeeded = Regex.Match(all, @"succeeded:\s*(\d+)");
        Assert.That(succeeded.Success && int.Parse(succeeded.Groups[1].Value) > 0, $"child run with {variable}=0 ran no test:\n{all}");
        // The child must have checked (not skipped) that the runtime picked the expected tier.
        Assert.That(all, Does.Contain("passed ActiveTierIsTheExpectedOne"), $"the tier check did not pass in the child run:\n{all}");
    }

    static string DotnetHost()
    {
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
    }
}
