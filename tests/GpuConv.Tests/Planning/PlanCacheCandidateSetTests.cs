using GpuConv.Planning;

namespace GpuConv.Tests.Planning;

/// <summary>
/// A cached plan was chosen among the algorithms the backends offered then. When a build offers others
/// (a new algorithm in a backend), the choice is made again — an exhaustive plan would otherwise never
/// time the new candidate — while an unchanged field keeps the cached plan, a failed candidate's fallback
/// still survives a restart, and entries written before the field was recorded stay valid. A heuristic choice is made
/// again where the ranking now puts another algorithm first; a timed one is kept.
/// </summary>
public class PlanCacheCandidateSetTests
{
    TempDir dir = null!;

    [SetUp] public void MakeDir() => dir = new TempDir();
    [TearDown] public void RemoveDir() => dir.Dispose();

    static Plan PlanWith(FakeBackend backend, PlanCache cache, PlanPolicy policy = PlanPolicy.Exhaustive) =>
        new Planner([backend], Problems.Options(policy), cache, _ => { }).GetPlan(Problems.Small());

    [Test]
    public void AnExhaustivePlanIsKeptWhileTheSameAlgorithmsAreOffered()
    {
        string path = dir.File("plans.json");
        var first = PlanWith(new FakeBackend("be", 1).With("old-slow", 3).With("old-fast", 2), new PlanCache(path));
        Assert.That(first.Algorithm.Name, Is.EqualTo("old-fast"));

        var again = PlanWith(new FakeBackend("be", 1).With("old-slow", 3).With("old-fast", 2), new PlanCache(path), PlanPolicy.Cached);

        Assert.That(again.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(again.Algorithm.Name, Is.EqualTo("old-fast"));
    }

    [Test]
    public void ANewAlgorithmMakesTheCachedPlanBeMadeAgain()
    {
        string path = dir.File("plans.json");
        PlanWith(new FakeBackend("be", 1).With("old-slow", 3).With("old-fast", 2), new PlanCache(path));

        // A newer build: the same two (same names and ids, so the cached entry still names a live candidate)
        // and a faster new one.
        FakeBackend Newer() => new FakeBackend("be", 1).With("old-slow", 3).With("old-fast", 2).With("new", 1);
        var newer = Newer();
        var cache = new PlanCache(path);
        var cached = PlanWith(newer, cache, PlanPolicy.Cached);

        Assert.That(cached.Source, Is.EqualTo(PlanSource.Heuristic), "the cached choice among the old two is not kept");
        Assert.That(cached.Algorithm.Name, Is.EqualTo("old-slow"), "the backend's first, as for a problem never planned");
        var exhaustive = PlanWith(newer, cache);
        Assert.That(exhaustive.Algorithm.Name, Is.EqualTo("new"), "timed among all three");
        Assert.That(newer.TimeCalls("new"), Is.GreaterThan(0));

        // What is saved now names the new field: the next start keeps it.
        cache.Save();
        var restarted = PlanWith(Newer(), new PlanCache(path), PlanPolicy.Cached);
        Assert.That(restarted.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(restarted.Algorithm.Name, Is.EqualTo("new"));
    }

    [Test]
    public void AHeuristicPlanIsMadeAgainWhenTheBackendRanksAnotherFirst()
    {
        string path = dir.File("plans.json");
        var cache = new PlanCache(path);
        // Fixed ids, as a real backend's: the set offered (names and ids) is the same in either order.
        FakeBackend AFirst() => new FakeBackend("be", 1).With("a", 2, id: 0).With("b", 1, id: 1);
        FakeBackend BFirst() => new FakeBackend("be", 1).With("b", 1, id: 1).With("a", 2, id: 0);
        var first = PlanWith(AFirst(), cache, PlanPolicy.Cached);
        Assert.That((first.Source, first.Algorithm.Name), Is.EqualTo((PlanSource.Heuristic, "a")));
        cache.Save();

        var same = PlanWith(AFirst(), new PlanCache(path), PlanPolicy.Cached);
        Assert.That((same.Source, same.Algorithm.Name), Is.EqualTo((PlanSource.Cache, "a")), "the same ranking: the remembered choice");

        // A newer build ranks b first (a better heuristic), offering the same two: a's entry is not kept.
        var reranked = new PlanCache(path);
        var again = PlanWith(BFirst(), reranked, PlanPolicy.Cached);
        Assert.That((again.Source, again.Algorithm.Name), Is.EqualTo((PlanSource.Heuristic, "b")));
        reranked.Save();
        var restarted = PlanWith(BFirst(), new PlanCache(path), PlanPolicy.Cached);
        Assert.That((restarted.Source, restarted.Algorithm.Name), Is.EqualTo((PlanSource.Cache, "b")), "what was saved is the new choice");
    }

    [Test]
    public void ATimedPlanIsKeptWhateverTheRanking()
    {
        string path = dir.File("plans.json");
        var cache = new PlanCache(path);
        var timed = PlanWith(new FakeBackend("be", 1).With("a", 2, id: 0).With("b", 1, id: 1), cache);
        Assert.That(timed.Algorithm.Name, Is.EqualTo("b"), "the faster");
        cache.Save();

        var kept = PlanWith(new FakeBackend("be", 1).With("a", 2, id: 0).With("b", 1, id: 1), new PlanCache(path), PlanPolicy.Cached);
        Assert.That((kept.Source, kept.Algorithm.Name), Is.EqualTo((PlanSource.Cache, "b")), "a ranked first, b timed faster: b stays");
    }

    [Test]
    public void AFallbackIsStillHonouredAfterARestartWhenNothingNewIsOffered()
    {
        var be = new FakeBackend("be", 1).With("refused", declinedAtRunTime: true).With("works");
        var cache = new PlanCache(dir.File("plans.json"));
        var problem = Problems.Small();
        var tensors = PlannerFallbackTests.Tensors(problem);
        new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { }).Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));
        cache.Save();

        var restarted = new Planner([be], Problems.Options(PlanPolicy.Heuristic), new PlanCache(dir.File("plans.json")), _ => { });
        restarted.Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));

        Assert.That(be.RunCalls["refused"], Is.EqualTo(1), "the refused candidate was not retried");
        Assert.That(restarted.GetPlan(problem).Source, Is.EqualTo(PlanSource.Cache));
    }

    [Test]
    public void AnEntryWrittenWithoutTheCandidateListIsStillUsed()
    {
        string path = dir.File("plans.json");
        var key = new Planner([new FakeBackend("be", 1).With("a").With("b")], Problems.Options(PlanPolicy.Cached), new PlanCache(null), _ => { })
            .KeyFor(Problems.Small());
        var old = new PlanCache(path);
        var plan = new Plan("be", new GpuConv.Backends.ConvAlgorithm("be", "b", 1, 0, true), PlanSource.Exhaustive, "timed by an older build", 1.0);
        old.Put(key, plan);     // no candidate list, as builds before it wrote
        old.Save();
        Assert.That(File.ReadAllText(path), Does.Contain("\"candidates\": null"));

        var warnings = new List<string>();
        var reread = PlanWithWarnings(new FakeBackend("be", 1).With("a").With("b"), new PlanCache(path, warn: warnings.Add), warnings);

        Assert.That(warnings, Is.Empty, "its checksum still validates");
        Assert.That(reread.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(reread.Algorithm.Name, Is.EqualTo("b"));
    }

    static Plan PlanWithWarnings(FakeBackend backend, PlanCache cache, List<string> warnings) =>
        new Planner([backend], Problems.Options(PlanPolicy.Cached), cache, warnings.Add).GetPlan(Problems.Small());
}
