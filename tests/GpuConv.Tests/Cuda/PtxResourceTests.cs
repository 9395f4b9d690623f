using System.Text.RegularExpressions;
using GpuConv.Cuda;

namespace GpuConv.Tests.Cuda;

/// <summary>Every kernels/*.ptx is embedded and well-formed enough for cuModuleLoadDataEx (checked without a GPU).</summary>
public partial class PtxResourceTests
{
    public static IEnumerable<string> EmbeddedFiles() => PtxResources.Files;

    [Test]
    public void FillKernelIsEmbedded() => Assert.That(PtxResources.Files, Does.Contain("fill.ptx"));

    [Test]
    public void EveryFileInKernelsFolderIsEmbedded()
    {
        var dir = RepoKernelsFolder();
        if (dir is null) Assert.Ignore("kernels/ folder not found from the test's location (running from a packed copy)");
        var onDisk = Directory.GetFiles(dir!, "*.ptx").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.That(PtxResources.Files, Is.EqualTo(onDisk));
        foreach (var f in onDisk)
            Assert.That(PtxResources.ReadText(f!), Is.EqualTo(File.ReadAllText(Path.Join(dir, f))), f);
    }

    [TestCaseSource(nameof(EmbeddedFiles))]
    public void WellFormed(string file)
    {
        string ptx = PtxResources.ReadText(file);
        Assert.That(PtxResources.ReadImage(file).All(b => b < 128), Is.True, "the image handed to the JIT is plain ASCII");
        Assert.That(ptx.TrimStart(), Does.StartWith("//"), "a header comment comes first: parameters and grid mapping");
        Assert.That(ptx, Does.Match(@"(?m)^\.version \d+\.\d+\s*$"));
        Assert.That(ptx, Does.Match(@"(?m)^\.target sm_\d+\s*$"));
        Assert.That(ptx, Does.Match(@"(?m)^\.address_size 64\s*$"));
        var version = Regex.Match(ptx, @"(?m)^\.version (\d+)\.(\d+)");
        Assert.That(int.Parse(version.Groups[1].Value) * 10 + int.Parse(version.Groups[2].Value), Is.LessThanOrEqualTo(70 + 10),
            "keep the PTX ISA old enough for every driver we support (7.x/8.0)");
        string code = Regex.Replace(Regex.Replace(ptx, @"//[^\n]*", ""), @"/\*.*?\*/", "", RegexOptions.Singleline);
        Assert.That(code.Count(c => c == '{'), Is.EqualTo(code.Count(c => c == '}')), "balanced braces");
        Assert.That(code.Count(c => c == '('), Is.EqualTo(code.Count(c => c == ')')), "balanced parentheses");
        var entries = EntryNames(ptx);
        Assert.That(entries, Is.Not.Empty, "at least one .visible .entry");
        foreach (var e in entries)
            Assert.That(e, Does.Match("_(f32|f16|bf16|f64)$"), $"entry {e} names its data type with a suffix");
        Assert.That(entries, Is.Unique);
    }

    [Test]
    public void FillEntryTakesPointerValueAndCount()
    {
        string ptx = PtxResources.ReadText("fill.ptx");
        Assert.That(EntryNames(ptx), Is.EqualTo(new[] { "fill_f32" }));
        var parameters = Regex.Matches(ptx, @"\.param \.(\w+) (\w+)").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).Take(3);
        Assert.That(parameters, Is.EqualTo(new[] { ("u64", "fill_f32_dst"), ("f32", "fill_f32_value"), ("u64", "fill_f32_count") }));
        Assert.That(ptx, Does.Contain("%nctaid.x"), "grid-stride loop steps by the grid size");
        Assert.That(ptx, Does.Contain("setp.ge.u64"), "64-bit bound check");
    }

    [TestCaseSource(nameof(EmbeddedFiles))]
    public void ImagesAreNulTerminatedAsciiForTheDriver(string file)
    {
        var image = PtxResources.ReadImage(file);
        Assert.That(image[^1], Is.Zero);
        Assert.That(image[..^1], Does.Not.Contain((byte)0));
        Assert.That(image.Length - 1, Is.EqualTo(System.Text.Encoding.UTF8.GetByteCount(PtxResources.ReadText(file))), "one byte out per byte in");
    }

    [Test]
    public void UnknownFileNamesTheEmbeddedOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => PtxResources.ReadText("nope.ptx"));
        Assert.That(ex!.Message, Does.Contain("no embedded PTX named 'nope.ptx'").And.Contain("fill.ptx"));
    }

    [Test]
    public void KernelArgumentsStoreValuesBehindPointers()
    {
        using var args = new KernelArguments().Add(0x1234_5678_9abcUL).Add(2.5f).Add(7u);
        Assert.That(args.Count, Is.EqualTo(3));
        unsafe
        {
            Assert.That(*(ulong*)args.Pointers[0], Is.EqualTo(0x1234_5678_9abcUL));
            Assert.That(*(float*)args.Pointers[1], Is.EqualTo(2.5f));
            Assert.That(*(uint*)args.Pointers[2], Is.EqualTo(7u));
        }
    }

    [Test]
    public void LaunchGeometryHelpers()
    {
        Assert.That(KernelLauncher.GridFor(1, 256), Is.EqualTo(1u));
        Assert.That(KernelLauncher.GridFor(257, 256), Is.EqualTo(2u));
        Assert.That(KernelLauncher.GridFor(1L << 40, 256), Is.EqualTo(65535u), "capped: the grid-stride loop covers the rest");
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelLauncher.GridFor(0, 256));
    }

    static List<string> EntryNames(string ptx) =>
        EntryRegex().Matches(ptx).Select(m => m.Groups[1].Value).ToList();

    [GeneratedRegex(@"\.visible\s+\.entry\s+(\w+)\s*\(")]
    private static partial Regex EntryRegex();

    static string? RepoKernelsFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Join(dir.FullName, "GpuConv.sln")))
                return Path.Join(dir.FullName, "kernels");
        return null;
    }
}
