using System.Diagnostics;
using System.Text.RegularExpressions;
using GpuConv.Cpu.Columns;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// NVIDIA's own assembler on every shipped kernel: each embedded <c>kernels/*.ptx</c> (the build embeds
/// them by wildcard, so a new file is picked up here too) must assemble for sm_70, sm_80 and sm_90 with
/// no error and no warning. Prints registers, spills and shared memory per entry. ptxas comes from
/// $GPUCONV_PTXAS, else the repository's .tools/ptxas/ptxas (build/fetch-ptxas.sh), else PATH or
/// /usr/local/cuda/bin; without one the tests skip with that reason, unless $GPUCONV_REQUIRE_PTXAS=1
/// (CI) makes a missing ptxas a failure.
/// </summary>
[NonParallelizable]
public partial class PtxasAssemblyTests
{
    const string ResourcePrefix = "GpuConv.Kernels.";

    static IReadOnlyList<string> EmbeddedKernelFiles() =>
    [
        .. typeof(Im2Col).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".ptx", StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..])
            .Order(StringComparer.Ordinal),
    ];

    [Test]
    public void EveryKernelFileInTheRepositoryIsEmbedded()
    {
        var root = SharedData.RepositoryRoot();
        if (root is null) Assert.Ignore($"no repository above {AppContext.BaseDirectory} (a packed test run): only the embedded kernels exist");
        var onDisk = Directory.GetFiles(Path.Combine(root, "kernels"), "*.ptx").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.That(onDisk, Is.Not.Empty);
        Assert.That(EmbeddedKernelFiles(), Is.EqualTo(onDisk), "the assembly must embed exactly kernels/*.ptx (rebuild after adding a kernel)");
    }

    [TestCase("sm_70")]
    [TestCase("sm_80")]
    [TestCase("sm_90")]
    public void EveryKernelAssemblesWithoutWarnings(string arch)
    {
        string ptxas = FindPtxas();
        var files = EmbeddedKernelFiles();
        Assert.That(files, Is.Not.Empty, "no GpuConv.Kernels.*.ptx resource embedded");

        string work = Directory.CreateTempSubdirectory("gpuconv-ptxas-").FullName;
        try
        {
            var problems = new List<string>();
            int entries = 0;
            TestContext.Out.WriteLine($"{Version(ptxas)}, -arch={arch}");
            TestContext.Out.WriteLine($"{"file",-16} {"entry",-22} {"regs",5} {"spill st",9} {"spill ld",9} {"stack",6} {"smem",6}");
            foreach (var file in files)
            {
                string source = Path.Combine(work, file);
                File.WriteAllText(source, ShippedKernels.Source(file));
                var (exit, output) = RunPtxas(ptxas, ["-arch=" + arch, "-v", source, "-o", Path.Combine(work, file + "." + arch + ".cubin")]);
                if (UnsupportedArch().IsMatch(output))
                    Assert.Ignore($"{Version(ptxas)} does not support {arch}: {output.Trim()}");
                if (exit != 0) problems.Add($"{file}: exit {exit}: {output.Trim()}");
                problems.AddRange(output.Split('\n').Where(l => WarningOrError().IsMatch(l)).Select(l => $"{file}: {l.Trim()}"));

                var stats = EntryStats.Parse(output);
                int declared = EntryDeclaration().Matches(ShippedKernels.Source(file)).Count;
                if (stats.Count != declared) problems.Add($"{file}: ptxas reported {stats.Count} entries, the file declares {declared}");
                foreach (var s in stats)
                {
                    TestContext.Out.WriteLine($"{file,-16} {s.Entry,-22} {s.Registers,5} {s.SpillStores,9} {s.SpillLoads,9} {s.Stack,6} {s.SharedBytes,6}");
                    if (s.SpillStores > 0 || s.SpillLoads > 0) TestContext.Out.WriteLine($"  note: {s.Entry} spills registers on {arch}");
                }
                entries += stats.Count;
            }
            Assert.That(problems, Is.Empty, $"ptxas -arch={arch} on kernels/*.ptx");
            Assert.That(entries, Is.GreaterThanOrEqualTo(files.Count), "every file has at least one entry ptxas compiled");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    public void StatsParserReadsPtxasVerboseOutput()
    {
        // The shape of ptxas 11.8's -v output (what the table above relies on).
        const string sample = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'bias_add_f32' for 'sm_90'
            ptxas info    : Function properties for bias_add_f32
                0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
            ptxas info    : Used 20 registers, 1024 bytes smem, 372 bytes cmem[0]
            ptxas info    : Compiling entry function 'fill_f32' for 'sm_90'
            ptxas info    : Function properties for fill_f32
                16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 14 registers, 364 bytes cmem[0]
            """;
        var stats = EntryStats.Parse(sample);
        Assert.That(stats, Is.EqualTo(new[]
        {
            new EntryStats("bias_add_f32", 20, 8, 4, 0, 1024),
            new EntryStats("fill_f32", 14, 0, 0, 16, 0),
        }));
        Assert.That(WarningOrError().IsMatch("ptxas warning : Unresolved extern"), Is.True);
        Assert.That(WarningOrError().IsMatch("ptxas info    : Used 14 registers"), Is.False);
    }

    /// <summary>One entry's resources as ptxas -v reports them.</summary>
    public sealed record EntryStats(string Entry, int Registers, int SpillStores, int SpillLoads, int Stack, int SharedBytes)
    {
        public static List<EntryStats> Parse(string output)
        {
            var result = new List<EntryStats>();
            string? entry = null;
            int stack = 0, stores = 0, loads = 0;
            foreach (var line in output.Split('\n'))
            {
                if (CompilingEntry().Match(line) is { Success: true } c) { entry = c.Groups[1].Value; stack = stores = loads = 0; continue; }
                if (FrameLine().Match(line) is { Success: true } f)
                {
                    stack = int.Parse(f.Groups[1].Value); stores = int.Parse(f.Groups[2].Value); loads = int.Parse(f.Groups[3].Value);
                    continue;
                }
                if (entry is not null && UsedLine().Match(line) is { Success: true } u)
                {
                    var smem = SharedMemory().Match(line);
                    result.Add(new EntryStats(entry, int.Parse(u.Groups[1].Value), stores, loads, stack, smem.Success ? int.Parse(smem.Groups[1].Value) : 0));
                    entry = null;
                }
            }
            return result;
        }
    }

    static string FindPtxas()
    {
        var tried = new List<string>();
        string? env = Environment.GetEnvironmentVariable("GPUCONV_PTXAS");
        if (!string.IsNullOrEmpty(env)) tried.Add(env);
        if (SharedData.RepositoryRoot() is { } root) tried.Add(Path.Combine(root, ".tools", "ptxas", "ptxas"));
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            tried.Add(Path.Combine(dir, "ptxas"));
        tried.Add("/usr/local/cuda/bin/ptxas");
        var found = tried.FirstOrDefault(File.Exists);
        if (found is not null) return found;
        string reason = "ptxas not found (run build/fetch-ptxas.sh, or set GPUCONV_PTXAS); looked at $GPUCONV_PTXAS, .tools/ptxas/ptxas, PATH, /usr/local/cuda/bin";
        if (Environment.GetEnvironmentVariable("GPUCONV_REQUIRE_PTXAS") == "1") Assert.Fail(reason + " — and GPUCONV_REQUIRE_PTXAS=1 requires it");
        Assert.Ignore(reason);
        return "";
    }

    static string Version(string ptxas)
    {
        var (_, output) = RunPtxas(ptxas, ["--version"]);
        var release = Regex.Match(output, @"release [0-9.]+, V[0-9.]+");
        return $"ptxas {(release.Success ? release.Value : "(version unknown)")} ({ptxas})";
    }

    static (int Exit, string Output) RunPtxas(string ptxas, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(ptxas) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {ptxas}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{ptxas} {string.Join(' ', args)} ran over 120 s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [GeneratedRegex(@"Compiling entry function '([^']+)'")] private static partial Regex CompilingEntry();
    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")] private static partial Regex FrameLine();
    [GeneratedRegex(@"Used (\d+) registers")] private static partial Regex UsedLine();
    [GeneratedRegex(@"(\d+) bytes smem")] private static partial Regex SharedMemory();
    [GeneratedRegex(@"\b(warning|error|fatal)\b", RegexOptions.IgnoreCase)] private static partial Regex WarningOrError();
    [GeneratedRegex(@"^\s*\.(visible\s+)?\.entry\s", RegexOptions.Multiline)] private static partial Regex EntryDeclaration();
    [GeneratedRegex(@"(Unsupported gpu architecture|is not defined for option 'gpu-name'|Value '[^']+' is not defined)", RegexOptions.IgnoreCase)] private static partial Regex UnsupportedArch();
}
