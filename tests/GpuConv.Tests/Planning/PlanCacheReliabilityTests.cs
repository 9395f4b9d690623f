using System.Diagnostics;
using System.Text;
using GpuConv.Planning;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Planning;

/// <summary>
/// Issue 14 items 4–6: a read-only cache folder stalled every save for the 10 s lock timeout; every
/// new plan rewrote the whole file (quadratic); a file of a newer format version was overwritten.
/// </summary>
public class PlanCacheReliabilityTests
{
    static PlanKey Key(int i) => PlanCacheChildProcess.Key(42, i);
    static Plan PlanFor(int i) => PlanCacheChildProcess.PlanFor(42, i);

    [Test]
    public void ReadOnlyFolder_FailsFast_WarnsOnce_KeepsPlansInMemory()
    {
        using var ro = TmpfsFolder.ReadOnly();
        var warnings = new List<string>();
        // A lock timeout far above the bound below: any lock-timeout retry fails the test, machine load does not.
        var cache = new PlanCache(ro.File("plans.json"), warn: warnings.Add, lockTimeout: TimeSpan.FromSeconds(60), saveInterval: TimeSpan.Zero);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++)
        {
            cache.Put(Key(i), PlanFor(i));
            Assert.That(cache.SaveIfDue(), Is.False);
        }
        Assert.That(cache.Save(), Is.False, "an explicit save tries again, and fails again at once");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "no lock-timeout retries on a read-only file system");
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain("could not be written").And.Contain("Read-only").And.Not.Contain("lock file within"));
        for (int i = 0; i < 5; i++) Assert.That(cache.TryGet(Key(i), out _), Is.True);
    }

    [Test]
    public void ReadOnlyFolder_WithAnExistingFile_IsStillRead()
    {
        using var ro = TmpfsFolder.ReadOnly(dir =>
        {
            var writer = new PlanCache(Path.Combine(dir, "plans.json"));
            writer.Put(Key(1), PlanFor(1));
            Assert.That(writer.Save(), Is.True);
        });
        var warnings = new List<string>();
        var cache = new PlanCache(ro.File("plans.json"), warn: warnings.Add, lockTimeout: TimeSpan.FromSeconds(60));
        Assert.That(cache.TryGet(Key(1), out _), Is.True);
        cache.Put(Key(2), PlanFor(2));
        var clock = Stopwatch.StartNew();
        Assert.That(cache.Save(), Is.False);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "no lock-timeout retries");
        Assert.That(warnings, Has.Count.EqualTo(1));
    }

    [Test]
    public void FolderThatDisappears_IsRecreatedOnTheNextSave()
    {
        using var dir = new TempDir();
        var path = dir.File("gone/plans.json");
        var cache = new PlanCache(path, saveInterval: TimeSpan.Zero);
        cache.Put(Key(1), PlanFor(1));
        Assert.That(cache.Save(), Is.True);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        cache.Put(Key(2), PlanFor(2));
        Assert.That(cache.SaveIfDue(), Is.True);
        Assert.That(new PlanCache(path).Count, Is.EqualTo(2));
    }

    [Test]
    public void SaveIfDue_WritesAtMostOncePerInterval_SaveWritesNow()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var cache = new PlanCache(path, saveInterval: TimeSpan.FromHours(1));
        cache.Put(Key(0), PlanFor(0));
        Assert.That(cache.SaveIfDue(), Is.True, "the first new plan is written at once");
        for (int i = 1; i < 50; i++)
        {
            cache.Put(Key(i), PlanFor(i));
            Assert.That(cache.SaveIfDue(), Is.False, "batched");
        }
        Assert.That(new PlanCache(path).Count, Is.EqualTo(1));
        Assert.That(cache.Save(), Is.True);
        Assert.That(new PlanCache(path).Count, Is.EqualTo(50));
    }

    [Test]
    public void Planner_OnManyNewProblems_WritesTheFileOnceUntilSaved()
    {
        // The planner calls SaveIfDue after each new plan; it used to call Save (a full rewrite each time).
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var cache = new PlanCache(path, saveInterval: TimeSpan.FromHours(1));
        var planner = new Planner([new FakeBackend("be", 1).With("a")], Problems.Options(PlanPolicy.Cached), cache, _ => { });
        for (int n = 1; n <= 40; n++) planner.GetPlan(Problems.Small(n));
        Assert.That(new PlanCache(path).Count, Is.EqualTo(1));
        cache.Save();
        Assert.That(new PlanCache(path).Count, Is.EqualTo(40));
    }

    [TestCase("\"version\": 1", "\"version\": 2", "format version 2")]
    [TestCase("\"format\": \"gpuconv-plan-cache\"", "\"format\": \"someone-else\"", "not a GpuConv plan cache")]
    public void FileOfAnotherVersionOrFormat_IsNeverOverwritten(string from, string to, string warning)
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var writer = new PlanCache(path);
        for (int i = 0; i < 3; i++) writer.Put(Key(i), PlanFor(i));
        writer.Save();
        string newer = File.ReadAllText(path).Replace(from, to);
        Assert.That(newer, Does.Contain(to));
        File.WriteAllText(path, newer);

        var warnings = new List<string>();
        var cache = new PlanCache(path, warn: warnings.Add, saveInterval: TimeSpan.Zero);
        Assert.That(cache.Count, Is.Zero, "entries of a format this build does not read are not used");
        cache.Put(Key(7), PlanFor(7));
        Assert.That(cache.SaveIfDue(), Is.False);
        Assert.That(cache.Save(), Is.False);
        Assert.That(File.ReadAllText(path), Is.EqualTo(newer), "the newer build's file is left as it was");
        Assert.That(cache.TryGet(Key(7), out _), Is.True, "plans kept in memory");
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain(warning).And.Contain("leaving it"));
    }

    static IEnumerable<TestCaseData> UsersOwnFiles()
    {
        // The user's own file given as the cache path by mistake (gpuconv run --plan-cache x.npy).
        yield return new TestCaseData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0x76, 0 }).SetName("NpyFile");
        yield return new TestCaseData(System.Text.Encoding.UTF8.GetBytes("hello notes\n")).SetName("TextFile");
        yield return new TestCaseData(Enumerable.Range(0, 500).Select(i => (byte)(i * 37 + 11)).ToArray()).SetName("GarbageBytes");
        yield return new TestCaseData(System.Text.Encoding.UTF8.GetBytes("[1, 2, 3]")).SetName("JsonArray");
    }

    [TestCaseSource(nameof(UsersOwnFiles))]
    public void FileThatIsNotAPlanCache_IsNeverOverwritten(byte[] content)
    {
        using var dir = new TempDir();
        var path = dir.File("mine.npy");
        File.WriteAllBytes(path, content);

        var warnings = new List<string>();
        var cache = new PlanCache(path, warn: warnings.Add, saveInterval: TimeSpan.Zero);
        cache.Put(Key(7), PlanFor(7));
        Assert.That(cache.SaveIfDue(), Is.False);
        Assert.That(cache.Save(), Is.False);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(content), "the user's file is left as it was");
        Assert.That(cache.TryGet(Key(7), out _), Is.True, "plans kept in memory");
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain("not a GpuConv plan cache").And.Contain("leaving it").And.Contain(path));
    }
}
