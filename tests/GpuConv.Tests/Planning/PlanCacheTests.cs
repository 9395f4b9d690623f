using System.Diagnostics;
using System.Text;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Planning;

public class PlanCacheTests
{
    static PlanKey Key(int i) => PlanCacheChildProcess.Key(99, i);
    static Plan PlanFor(int i) => PlanCacheChildProcess.PlanFor(99, i);

    [Test]
    public void RoundTrip_ThroughTheFile_KeepsEveryField()
    {
        using var dir = new TempDir();
        var path = dir.File("sub/plans.json");
        var warnings = new List<string>();
        var cache = new PlanCache(path, warn: warnings.Add);
        var plan = new Plan("be", new ConvAlgorithm("be", "algo", 5, 1234, false, MathMode.TF32), PlanSource.Exhaustive, "fastest", 0.125);
        cache.Put(Key(1), plan);
        Assert.That(cache.Save(), Is.True);
        Assert.That(cache.Save(), Is.False, "nothing changed since");

        var reread = new PlanCache(path, warn: warnings.Add);
        Assert.That(reread.TryGet(Key(1), out var got), Is.True);
        Assert.That((got.Backend, got.Algorithm, got.AlgorithmId, got.Math, got.WorkspaceBytes, got.TimeMs, got.Source, got.Why),
            Is.EqualTo(("be", "algo", 5, MathMode.TF32, 1234L, (double?)0.125, PlanSource.Exhaustive, "fastest")));
        Assert.That(reread.TryGet(Key(2), out _), Is.False);
        Assert.That(warnings, Is.Empty);
        Assert.That(Directory.GetFiles(dir.File("sub")).Select(Path.GetFileName), Is.EquivalentTo(new[] { "plans.json", "plans.json.lock" }), "no temp files left");
    }

    [Test]
    public void Key_ChangesWithEveryField()
    {
        var k = Key(0);
        var dev = k.Device;
        var mutations = new Dictionary<string, PlanKey>
        {
            ["Op"] = k with { Op = ConvOp.BackwardFilter },
            ["XShape"] = k with { XShape = "1x2x6x5" },
            ["WShape"] = k with { WShape = "3x2x3x1" },
            ["YShape"] = k with { YShape = "1x3x5x4" },
            ["Kernel"] = k with { Kernel = "3x1" },
            ["Stride"] = k with { Stride = "2x1" },
            ["Dilation"] = k with { Dilation = "1x2" },
            ["PadBegin"] = k with { PadBegin = "0x1" },
            ["PadEnd"] = k with { PadEnd = "1x0" },
            ["Groups"] = k with { Groups = 2 },
            ["Transposed"] = k with { Transposed = true },
            ["OutputPadding"] = k with { OutputPadding = "1x0" },
            ["DataType"] = k with { DataType = "float16" },
            ["Precision"] = k with { Precision = ConvPrecision.AllowTF32 },
            ["Deterministic"] = k with { Deterministic = !k.Deterministic },
            ["Backends"] = k with { Backends = "be,cpu" },
            ["LibraryVersion"] = k with { LibraryVersion = "9.9.9.9" },
            ["ConstantWeights"] = k with { ConstantWeights = !k.ConstantWeights },
            ["PaddingMode"] = k with { PaddingMode = GpuConv.Conv.PaddingMode.Reflect },
            ["Device.Kind"] = k with { Device = dev with { Kind = "cuda" } },
            ["Device.Name"] = k with { Device = dev with { Name = "NVIDIA H100" } },
            ["Device.ComputeCapability"] = k with { Device = dev with { ComputeCapability = "9.0" } },
            ["Device.MultiprocessorCount"] = k with { Device = dev with { MultiprocessorCount = 132 } },
            ["Device.DriverVersion"] = k with { Device = dev with { DriverVersion = "12.6" } },
            ["Device.CudnnVersion"] = k with { Device = dev with { CudnnVersion = "9.5.0" } },
            ["Device.CublasVersion"] = k with { Device = dev with { CublasVersion = "12.6.3" } },
            ["Device.SimdTier"] = k with { Device = dev with { SimdTier = "vector512" } },
            ["Host"] = k with { Host = k.Host with { MultiprocessorCount = 64 } },
        };
        // Every field of the key (and of the device identity) must be covered above.
        var keyFields = typeof(PlanKey).GetProperties().Where(p => p.CanWrite).Select(p => p.Name);
        var deviceFields = typeof(DeviceIdentity).GetProperties().Where(p => p.CanWrite).Select(p => "Device." + p.Name);
        Assert.That(mutations.Keys, Is.SupersetOf(keyFields.Where(f => f != "Device").Concat(deviceFields)));

        var cache = new PlanCache(null);
        cache.Put(k, PlanFor(0));
        Assert.That(cache.TryGet(k, out _), Is.True);
        foreach (var (field, changed) in mutations)
        {
            Assert.That(changed.Canonical, Is.Not.EqualTo(k.Canonical), field);
            Assert.That(changed.Hash, Is.Not.EqualTo(k.Hash), field);
            Assert.That(cache.TryGet(changed, out _), Is.False, $"changing {field} must miss");
        }
    }

    [Test]
    public void Key_FromProblems_DiffersForEverySpecFieldAndOp()
    {
        var input = new TensorShape(2, 4, 9, 9);
        var filter = new TensorShape(4, 2, 3, 3);
        var problems = new[]
        {
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input, filter),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input, filter, ConvOp.BackwardData),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input, filter, ConvOp.BackwardFilter),
            ConvProblem.Create(new ConvSpec([3, 3], stride: [2, 1], groups: 2), input, filter),
            ConvProblem.Create(new ConvSpec([3, 3], dilation: [1, 2], groups: 2), input, filter),
            ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1, 0], padEnd: [0, 0], groups: 2), input, filter),
            ConvProblem.Create(new ConvSpec([3, 3], padBegin: [0, 0], padEnd: [0, 1], groups: 2), input, filter),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 1), input, new TensorShape(4, 4, 3, 3)),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input.WithDim(0, 3), filter),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input.WithDim(3, 10), filter),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input, filter.WithDim(0, 6)),
            ConvProblem.Create(new ConvSpec([3, 3], groups: 2, transposed: true), input, filter),
            ConvProblem.Create(new ConvSpec([3, 3], stride: [2], groups: 2, transposed: true, outputPadding: [1]), input, filter),
        };
        var context = new PlanContext(ConvPrecision.Strict, false, DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), ["reference"], "1");
        var hashes = problems.Select(p => PlanKey.For(p, context).Hash).ToList();
        Assert.That(hashes, Is.Unique);
        Assert.That(PlanKey.For(problems[0], context), Is.EqualTo(PlanKey.For(ConvProblem.Create(new ConvSpec([3, 3], groups: 2), input, filter), context)), "equal problems, equal keys");
    }

    static IEnumerable<TestCaseData> Corruptions()
    {
        yield return new TestCaseData((Func<string, byte[]>)(t => Encoding.UTF8.GetBytes(t[..(t.Length / 2)])), 0, "corrupt").SetName("TruncatedJson");
        yield return new TestCaseData((Func<string, byte[]>)(_ => []), 0, "corrupt").SetName("EmptyFile");
        // Another version or format, or bytes that are not ours at all, are not damage: see PlanCacheReliabilityTests (never overwritten).
        yield return new TestCaseData((Func<string, byte[]>)(t => Encoding.UTF8.GetBytes(ReplaceFirst(t, "\"workspaceBytes\": 10", "\"workspaceBytes\": 0"))), 2, "checksum").SetName("TamperedWorkspace");
        yield return new TestCaseData((Func<string, byte[]>)(t => Encoding.UTF8.GetBytes(ReplaceFirst(t, "\"algorithm\": \"w99\"", "\"algorithm\": \"evil\""))), 2, "checksum").SetName("TamperedAlgorithm");
        yield return new TestCaseData((Func<string, byte[]>)(t => Encoding.UTF8.GetBytes(ReplaceFirst(t, "\"math\": \"Strict\"", "\"math\": \"Turbo\""))), 2, "checksum").SetName("TamperedMath");
    }

    [TestCaseSource(nameof(Corruptions))]
    public void DamagedFile_IsIgnoredWithAWarning_AndRebuilt(Func<string, byte[]> damage, int survivors, string warningText)
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var writer = new PlanCache(path);
        for (int i = 0; i < 3; i++) writer.Put(Key(i), PlanFor(i));
        writer.Save();
        File.WriteAllBytes(path, damage(File.ReadAllText(path)));

        var warnings = new List<string>();
        var cache = new PlanCache(path, warn: warnings.Add);

        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain(warningText).And.Contain(path));
        Assert.That(cache.Count, Is.EqualTo(survivors));
        // Whatever survived is exactly what was written: nothing tampered is ever returned.
        for (int i = 0; i < 3; i++)
            if (cache.TryGet(Key(i), out var kept))
                Assert.That((kept.Algorithm, kept.AlgorithmId, kept.WorkspaceBytes, kept.Math), Is.EqualTo(("w99", i, 10L * i, MathMode.Strict)));

        // The next save rewrites a clean file.
        cache.Put(Key(7), PlanFor(7));
        Assert.That(cache.Save(), Is.True);
        Assert.That(warnings, Has.Count.EqualTo(1), "the save's re-read does not repeat the warning");
        var clean = new List<string>();
        var reread = new PlanCache(path, warn: clean.Add);
        Assert.That(clean, Is.Empty);
        Assert.That(reread.Count, Is.EqualTo(survivors + 1));
    }

    [Test]
    public void TamperedKeyText_IsDetectedByTheHash()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var writer = new PlanCache(path);
        writer.Put(Key(0), PlanFor(0));
        writer.Save();
        File.WriteAllText(path, File.ReadAllText(path).Replace("op=Forward", "op=BackwardData"));
        var warnings = new List<string>();
        var cache = new PlanCache(path, warn: warnings.Add);
        Assert.That(cache.Count, Is.Zero);
        Assert.That(warnings.Single(), Does.Contain("discarded 1"));
    }

    [Test]
    public void SizeCap_EvictsTheOldest()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var cache = new PlanCache(path, maxEntries: 3);
        for (int i = 0; i < 5; i++)
        {
            cache.Put(Key(i), PlanFor(i));
            Thread.Sleep(2); // distinct timestamps
        }
        Assert.That(cache.Count, Is.EqualTo(3));
        cache.Save();
        var reread = new PlanCache(path, maxEntries: 3);
        Assert.That(Enumerable.Range(0, 5).Select(i => reread.TryGet(Key(i), out _)), Is.EqualTo(new[] { false, false, true, true, true }));
    }

    [Test]
    public void Save_MergesWithOtherWriters_AndPropagatesRemovals()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var a = new PlanCache(path);
        var b = new PlanCache(path);
        a.Put(Key(1), PlanFor(1));
        b.Put(Key(2), PlanFor(2));
        a.Save();
        b.Save();
        Assert.That(b.TryGet(Key(1), out _), Is.True, "b picked up a's entry while merging");
        a.Put(Key(3), PlanFor(3));
        a.Save();
        var c = new PlanCache(path);
        Assert.That(c.Count, Is.EqualTo(3));

        c.Remove(Key(2));
        c.Save();
        Assert.That(new PlanCache(path).TryGet(Key(2), out _), Is.False);
        Assert.That(new PlanCache(path).Count, Is.EqualTo(2));
    }

    [Test]
    public void Save_WhenAnotherHolderKeepsTheLock_GivesUpWithAWarningAndKeepsPlansInMemory()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var warnings = new List<string>();
        var cache = new PlanCache(path, warn: warnings.Add, lockTimeout: TimeSpan.FromMilliseconds(200));
        cache.Put(Key(1), PlanFor(1));
        using (new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            Assert.That(cache.Save(), Is.False);
        }
        Assert.That(warnings.Single(), Does.Contain("lock"));
        Assert.That(File.Exists(path), Is.False);
        Assert.That(cache.TryGet(Key(1), out _), Is.True);
        Assert.That(cache.Save(), Is.True, "still dirty, saved once the lock is free");
        Assert.That(new PlanCache(path).TryGet(Key(1), out _), Is.True);
    }

    [Test]
    public void MemoryOnly_NeverTouchesDisk()
    {
        var cache = new PlanCache(null);
        cache.Put(Key(1), PlanFor(1));
        Assert.That(cache.Save(), Is.False);
        Assert.That(cache.Path, Is.Null);
        Assert.That(cache.TryGet(Key(1), out _), Is.True);
    }

    [Test]
    public void ResolvePath_PrefersOption_ThenEnvironment_ThenPerUserDefault()
    {
        var saved = Environment.GetEnvironmentVariable(PlanCache.PathEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(PlanCache.PathEnvironmentVariable, "/tmp/from-env.json");
            Assert.That(PlanCache.ResolvePath("/tmp/option.json"), Is.EqualTo("/tmp/option.json"));
            Assert.That(PlanCache.ResolvePath(null), Is.EqualTo("/tmp/from-env.json"));
            Environment.SetEnvironmentVariable(PlanCache.PathEnvironmentVariable, null);
            Assert.That(PlanCache.ResolvePath(null), Does.EndWith(Path.Combine("gpuconv", "plans.json")));
        }
        finally
        {
            Environment.SetEnvironmentVariable(PlanCache.PathEnvironmentVariable, saved);
        }
    }

    [Test]
    public void ConcurrentWriters_InOneProcess_LoseNothing()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        const int writers = 6, each = 8;
        var warnings = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = writers }, w =>
        {
            var cache = new PlanCache(path, warn: warnings.Add);
            for (int i = 0; i < each; i++)
            {
                cache.Put(PlanCacheChildProcess.Key(w, i), PlanCacheChildProcess.PlanFor(w, i));
                Assert.That(cache.Save(), Is.True);
            }
        });
        Assert.That(warnings, Is.Empty);
        var all = new PlanCache(path);
        Assert.That(all.Count, Is.EqualTo(writers * each));
    }

    [Test]
    public void ConcurrentWriters_InSeparateProcesses_LoseNothing()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        const int writers = 4, each = 10;
        var dll = typeof(PlanCacheChildProcess).Assembly.Location;
        var children = new List<Process>();
        try
        {
            for (int w = 0; w < writers; w++)
            {
                var psi = EmulatedSelf.StartInfo();
                if (psi is null)
                {
                    var exe = Environment.ProcessPath!;
                    psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
                    if (Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) psi.ArgumentList.Add(dll);
                }
                psi.Environment[PlanCacheChildProcess.EnvironmentVariable] = $"{path}|{w}|{each}";
                children.Add(Process.Start(psi)!);
            }
            foreach (var child in children)
            {
                var stderr = child.StandardError.ReadToEndAsync();
                _ = child.StandardOutput.ReadToEndAsync();
                Assert.That(child.WaitForExit(TimeSpan.FromSeconds(120)), Is.True, "child process timed out");
                Assert.That(child.ExitCode, Is.Zero, $"child failed: {stderr.Result}");
            }
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited) child.Kill();
                child.Dispose();
            }
        }
        var warnings = new List<string>();
        var merged = new PlanCache(path, warn: warnings.Add);
        Assert.That(warnings, Is.Empty);
        Assert.That(merged.Count, Is.EqualTo(writers * each));
        for (int w = 0; w < writers; w++)
            for (int i = 0; i < each; i++)
                Assert.That(merged.TryGet(PlanCacheChildProcess.Key(w, i), out var p) && p.Algorithm == $"w{w}" && p.AlgorithmId == i, $"writer {w} entry {i}");
    }

    static string ReplaceFirst(string text, string from, string to)
    {
        int i = text.IndexOf(from, StringComparison.Ordinal);
        Assert.That(i, Is.GreaterThanOrEqualTo(0), $"'{from}' not in the file");
        return text[..i] + to + text[(i + from.Length)..];
    }
}
