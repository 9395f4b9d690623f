namespace GpuConv.Tests.Cli;

/// <summary>
/// docs/cli.md's error contract: bad input is one "error: …" line, before any work. The parser's own messages for an enum
/// option ("Must be one of:" and "Did you mean…" lists) spanned several lines.
/// </summary>
public class ParseErrorLineTests
{
    [TestCase("run", "--x", "x.npy", "--w", "w.npy", "--out", "y.npy", "--policy", "foo")]
    [TestCase("plan", "--shapes", "resnet50", "--op", "Foo")]
    [TestCase("bench", "--shapes", "resnet50", "--backend", "cpu", "--format", "xml")]
    public void AnInvalidEnumValueIsOneErrorLine(params string[] args)
    {
        var (exit, output, error) = CliHarness.Invoke(args);
        Assert.That(exit, Is.EqualTo(2), output + error);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), error);
        Assert.That(lines[0], Does.StartWith("error: ").And.Contain(args[^1]));
    }

    [TestCase("--limit", "0")]
    [TestCase("--runs", "0")]
    public void DemoRefusesABadOptionBeforeOpeningTheDevice(string option, string value)
    {
        // The checks ran lazily, inside the layer iterator: the device line came first, the GPU already opened.
        var (exit, output, error) = CliHarness.Invoke("demo", option, value);
        Assert.That(exit, Is.EqualTo(2), output + error);
        Assert.That(error.Trim(), Is.EqualTo($"error: {option}: must be >= 1, got {value}."));
        Assert.That(output, Is.Empty, "nothing before the error");
    }

    [TestCase("0")]
    [TestCase("2000")]
    public void BenchThreadsOutOfRangeNamesTheOption(string threads)
    {
        // 2000 was refused as "CpuThreads must be in 1..1024", the library's field, not the option typed.
        var (exit, output, error) = CliHarness.Invoke("bench", "--backend", "cpu", "--shapes", "resnet50", "--limit", "1", "--threads", threads);
        Assert.That(exit, Is.EqualTo(2), output + error);
        Assert.That(error.Trim(), Is.EqualTo($"error: --threads: must be in 1..1024, got {threads}."));
    }
}
