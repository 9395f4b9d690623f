namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv smoke` (the GPU check's second step) on what this machine has: every op of every small case
/// on the cpu backend passes against the reference, and a backend that is not available fails the run
/// with the reason, never silently.
/// </summary>
public class RunSmokeTests
{
    [Test]
    public void CpuBackendPassesEveryOpAndCase()
    {
        var (exit, output, error) = CliHarness.Invoke("smoke", "--backends", "cpu");

        Assert.That(exit, Is.EqualTo(0), output + error);
        var runs = output.Split('\n').Where(l => l.StartsWith("PASS", StringComparison.Ordinal) || l.StartsWith("FAIL", StringComparison.Ordinal)).ToArray();
        Assert.That(runs.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)), Is.Empty);
        foreach (var op in new[] { "Forward", "BackwardData", "BackwardFilter" })
            foreach (var c in new[] { "2d-pad1", "2d-asym-pads-groups-stride", "2d-depthwise", "3d-stride-dilation" })
                Assert.That(runs.Any(l => l.Contains($" {op} ", StringComparison.Ordinal) && l.Contains(c, StringComparison.Ordinal)), $"{op} {c} ran");
        Assert.That(output, Does.Match(@"smoke: \d+ passed, 0 failed, 0 declined"));
    }

    [Test]
    public void AnUnavailableBackendFailsTheRunWithTheReason()
    {
        var (exit, output, _) = CliHarness.Invoke("smoke", "--backends", "cpu,no-such-backend");

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("SKIP     no-such-backend: not available (").And.Contain("not available: no-such-backend"));
    }
}
