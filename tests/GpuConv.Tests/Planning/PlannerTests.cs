using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Planning;

namespace GpuConv.Tests.Planning;

public class PlannerTests
{
    static Planner Make(PlanPolicy policy, params IConvBackend[] backends) =>
        new(backends, Problems.Options(policy), new PlanCache(null), _ => { });

    [Test]
    public void Heuristic_TakesLowestPriorityBackendThenItsOwnOrder()
    {
        var slow = new FakeBackend("slowbe", priority: 50).With("a1").With("a2");
        var fast = new FakeBackend("fastbe", priority: 10).With("b1").With("b2");
        var planner = Make(PlanPolicy.Heuristic, slow, fast);

        var plan = planner.GetPlan(Problems.Small());

        Assert.That(plan.Algorithm.Key, Is.EqualTo("fastbe/b1"));
        Assert.That(plan.Source, Is.EqualTo(PlanSource.Heuristic));
        var rows = planner.Explain(Problems.Small()).Rows;
        Assert.That(rows.Select(r => $"{r.Backend}/{r.Algorithm}:{r.Rank}:{r.Status}"),
            Is.EqualTo(new[] { "fastbe/b1:1:Chosen", "fastbe/b2:2:Lost", "slowbe/a1:3:Lost", "slowbe/a2:4:Lost" }));
        Assert.That(rows[2].Reason, Does.Contain("ranked 3").And.Contain("fastbe/b1"));
    }

    [Test]
    public void Filters_PrecisionDeterminismWorkspaceUnsupportedAndBackendFilter_AreExplained()
    {
        var gpuish = new FakeBackend("gpuish", 1)
            .With("tf32", math: MathMode.TF32)
            .With("nondet", deterministic: false)
            .With("huge", workspace: 1 << 30)
            .With("ok", workspace: 1000);
        var never = new FakeBackend("never", 2).With("x");
        never.Unsupported = _ => "never supports anything";
        var options = Problems.Options(PlanPolicy.Heuristic) with { Deterministic = true, WorkspaceLimitBytes = 1 << 20 };
        var planner = new Planner([gpuish, never], options, new PlanCache(null), _ => { });

        var explanation = planner.Explain(Problems.Small());
        var byName = explanation.Rows.ToDictionary(r => $"{r.Backend}/{r.Algorithm}");

        Assert.That(explanation.Chosen!.Algorithm.Key, Is.EqualTo("gpuish/ok"));
        Assert.That(byName["gpuish/tf32+TF32"].Status, Is.EqualTo(CandidateStatus.Precision));
        Assert.That(byName["gpuish/nondet"].Status, Is.EqualTo(CandidateStatus.NonDeterministic));
        Assert.That(byName["gpuish/huge"].Status, Is.EqualTo(CandidateStatus.OverWorkspaceLimit));
        Assert.That(byName["gpuish/huge"].Reason, Does.Contain("1073741824").And.Contain("1048576"));
        Assert.That(byName["never/*"].Status, Is.EqualTo(CandidateStatus.Unsupported));
        Assert.That(byName["never/*"].Reason, Is.EqualTo("never supports anything"));
        Assert.That(byName["gpuish/ok"].Status, Is.EqualTo(CandidateStatus.Chosen));

        // Relaxing precision and determinism lets the earlier candidates win.
        var relaxed = new Planner([gpuish, never], options with { Precision = ConvPrecision.AllowTF32, Deterministic = false }, new PlanCache(null), _ => { });
        Assert.That(relaxed.GetPlan(Problems.Small()).Algorithm.Key, Is.EqualTo("gpuish/tf32+TF32"));

        // The filter keeps only the named backend.
        var filtered = new Planner([gpuish, new FakeBackend("other", 5).With("y")], options with { BackendFilter = "OTHER" }, new PlanCache(null), _ => { });
        var f = filtered.Explain(Problems.Small());
        Assert.That(f.Chosen!.Algorithm.Key, Is.EqualTo("other/y"));
        Assert.That(f.Rows.Single(r => r.Backend == "gpuish").Status, Is.EqualTo(CandidateStatus.Filtered));
    }

    [Test]
    public void AvailableWorkspace_FromTheDeviceCapsTheLimit()
    {
        var be = new FakeBackend("dev", 1).With("big", workspace: 5000).With("small", workspace: 100);
        var options = Problems.Options(PlanPolicy.Heuristic) with { AvailableWorkspace = b => b.Name == "dev" ? 4096 : null };
        var planner = new Planner([be], options, new PlanCache(null), _ => { });
        var e = planner.Explain(Problems.Small());
        Assert.That(e.Chosen!.Algorithm.Name, Is.EqualTo("small"));
        Assert.That(e.Rows[0].Status, Is.EqualTo(CandidateStatus.OverWorkspaceLimit));
    }

    [Test]
    public void Exhaustive_PicksTheFastestMedianAcrossBackends_AndFreesScratch()
    {
        var memory = new FakeDeviceMemory();
        // Warm-up 1 + 3 timed runs: the first listed time is the warm-up, the median of the rest counts.
        var dev = new FakeBackend("dev", 1, memory).With("d1", times: [0.1, 9, 8, 10]).With("d2", times: [50, 3, 100, 2]);
        var host = new FakeBackend("host", 2, memory).With("h1", 4.0).With("broken", throwsWhenTimed: true);
        var planner = Make(PlanPolicy.Exhaustive, dev, host);

        var explanation = planner.Explain(Problems.Small());

        Assert.That(explanation.Chosen!.Algorithm.Key, Is.EqualTo("dev/d2"));
        Assert.That(explanation.Chosen.Source, Is.EqualTo(PlanSource.Exhaustive));
        Assert.That(explanation.Chosen.TimeMs, Is.EqualTo(3.0));
        var rows = explanation.Rows.ToDictionary(r => r.Algorithm);
        Assert.That(rows["d1"].TimeMs, Is.EqualTo(9.0));
        Assert.That(rows["h1"].TimeMs, Is.EqualTo(4.0));
        Assert.That(rows["h1"].Reason, Does.Contain("4 ms vs 3 ms"));
        Assert.That(rows["broken"].Status, Is.EqualTo(CandidateStatus.Failed));
        Assert.That(rows["broken"].Reason, Does.Contain("fake launch failure"));
        Assert.That(dev.TimeCalls("d1"), Is.EqualTo(4));
        Assert.That(memory.Allocated, Is.EqualTo(6), "X, W and Y scratch for each backend");
        Assert.That(memory.Freed, Is.EqualTo(6));
        Assert.That(memory.CopiesIn, Is.EqualTo(6), "scratch is filled with random data");
    }

    /// <summary>
    /// On a GPU engine the CPU (host memory) is not raced against the device: a kernel's time does not show the
    /// staged copies and the wait a host plan costs a device-resident call. Its candidates stay behind as fallbacks,
    /// and are timed only when nothing in the first memory can be.
    /// </summary>
    [Test]
    public void Exhaustive_TimesOnlyTheFirstBackendsMemory_AndKeepsTheOtherAsFallback()
    {
        var memory = new FakeDeviceMemory();
        var dev = new FakeBackend("dev", 1, memory).With("d1", 5.0);
        var host = new FakeBackend("host", 2).With("h1", 0.5);
        var planner = Make(PlanPolicy.Exhaustive, dev, host);

        var explanation = planner.Explain(Problems.Small());

        Assert.That(explanation.Chosen!.Algorithm.Key, Is.EqualTo("dev/d1"), "the faster host candidate was not raced");
        var h1 = explanation.Rows.Single(r => r.Algorithm == "h1");
        Assert.That(host.TimeCalls("h1"), Is.Zero);
        Assert.That(h1.TimeMs, Is.Null);
        Assert.That(h1.Reason, Does.Contain("fallback in host memory"));

        // Nothing on the device can be timed: the host candidates are, and one of them is chosen.
        var broken = new FakeBackend("dev", 1, memory).With("d1", throwsWhenTimed: true);
        var host2 = new FakeBackend("host", 2).With("h1", 0.5);
        var plan = Make(PlanPolicy.Exhaustive, broken, host2).GetPlan(Problems.Small());
        Assert.That(plan.Algorithm.Key, Is.EqualTo("host/h1"));
        Assert.That(plan.Source, Is.EqualTo(PlanSource.Exhaustive));
        Assert.That(host2.TimeCalls("h1"), Is.GreaterThan(0));
    }

    /// <summary>
    /// A problem planned for constant weights is timed in its steady state: the scratch weights are declared
    /// constant, so a backend that prepares weights (the CPU's channel-tiled panels) prepares them once, in the warm-up.
    /// </summary>
    [Test]
    public void Exhaustive_TimesConstantWeightProblemsWithConstantScratchWeights()
    {
        var be = new FakeBackend("be", 1).With("first", 5).With("second", 1);
        Make(PlanPolicy.Exhaustive, be).GetPlan(Problems.Small().WithConstantWeights(true));
        Assert.That(be.TimeCalls("first"), Is.GreaterThan(0));
        Assert.That(be.TimedWithVariableWeights, Is.False);

        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var deep = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(64, 64, 3, 3))
            .WithConstantWeights(true);
        var explanation = new Planner([cpu], Problems.Options(PlanPolicy.Exhaustive), new PlanCache(null), _ => { }).Explain(deep);
        int preparing = explanation.Rows.Count(r => (r.Algorithm.StartsWith(CpuBackend.ChannelTiled, StringComparison.Ordinal)
            || r.Algorithm.StartsWith(CpuBackend.Winograd, StringComparison.Ordinal)) && r.TimeMs is not null);
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(preparing), "channel-tiled and winograd pack the scratch weights once each, not once per timed run");
    }

    /// <summary>
    /// Training passes new weights on every call: a candidate that is fast only once W is prepared must not be
    /// chosen for such calls. Each kind is timed as it runs and planned (and cached) under its own key.
    /// </summary>
    [Test]
    public void Exhaustive_PlansConstantAndPerCallWeightsSeparately_EachTimedAsItRuns()
    {
        var be = new FakeBackend("be", 1).With("prepares", 1, perCallTimeMs: 9).With("streams", 3);
        var planner = Make(PlanPolicy.Exhaustive, be);
        var perCall = Problems.Small();
        var constant = perCall.WithConstantWeights(true);

        Assert.That(planner.GetPlan(perCall).Algorithm.Name, Is.EqualTo("streams"));
        Assert.That(be.TimedWithVariableWeights, Is.True);
        Assert.That(planner.GetPlan(constant).Algorithm.Name, Is.EqualTo("prepares"));
        Assert.That(planner.KeyFor(perCall).Hash, Is.Not.EqualTo(planner.KeyFor(constant).Hash));
        Assert.That(planner.GetPlan(perCall).Algorithm.Name, Is.EqualTo("streams"), "the per-call plan is kept beside the constant one");
        // Backward-filter writes W: there is nothing constant about it, so both spellings are one problem.
        var filter = perCall.WithOp(ConvOp.BackwardFilter);
        Assert.That(filter.WithConstantWeights(true), Is.EqualTo(filter));
    }

    [Test]
    public void Exhaustive_ResultIsRemembered_SoCachedPolicyReusesIt()
    {
        var be = new FakeBackend("be", 1).With("first", 5).With("second", 1);
        var cache = new PlanCache(null);
        var exhaustive = new Planner([be], Problems.Options(PlanPolicy.Exhaustive), cache, _ => { });
        Assert.That(exhaustive.GetPlan(Problems.Small()).Algorithm.Name, Is.EqualTo("second"));
        int timedBefore = be.TimeCalls("first");
        Assert.That(exhaustive.GetPlan(Problems.Small()).Algorithm.Name, Is.EqualTo("second"));
        Assert.That(be.TimeCalls("first"), Is.EqualTo(timedBefore), "memoised: no re-timing");

        var cached = new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { });
        var plan = cached.GetPlan(Problems.Small());
        Assert.That(plan.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(plan.Algorithm.Name, Is.EqualTo("second"), "not the heuristic first");
        Assert.That(plan.TimeMs, Is.EqualTo(1.0));
    }

    [Test]
    public void Cached_MissPlansHeuristicallyAndRemembers_HitComesFromCache()
    {
        var be = new FakeBackend("be", 1).With("a").With("b");
        var cache = new PlanCache(null);
        var first = new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { });
        Assert.That(first.GetPlan(Problems.Small()).Source, Is.EqualTo(PlanSource.Heuristic));
        Assert.That(cache.Count, Is.EqualTo(1));

        var second = new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { });
        var e = second.Explain(Problems.Small());
        Assert.That(e.Chosen!.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(e.Rows.Single(r => r.Algorithm == "b").Reason, Does.Contain("plan cache chose be/a"));
    }

    [Test]
    public void Cached_EntryNamingAnAlgorithmNoCandidateOffers_IsDiscardedWithAWarning()
    {
        var be = new FakeBackend("be", 1).With("real");
        var cache = new PlanCache(null);
        var warnings = new List<string>();
        var planner = new Planner([be], Problems.Options(PlanPolicy.Cached), cache, warnings.Add);
        var key = planner.KeyFor(Problems.Small());
        cache.Put(key, new Plan("be", new ConvAlgorithm("be", "ghost", 7, 0, true), PlanSource.Exhaustive, "from elsewhere"));

        var plan = planner.GetPlan(Problems.Small());

        Assert.That(plan.Algorithm.Name, Is.EqualTo("real"));
        Assert.That(plan.Source, Is.EqualTo(PlanSource.Heuristic));
        Assert.That(warnings, Has.Some.Contains("be/ghost"));
        Assert.That(cache.TryGet(key, out var now) && now.Algorithm == "real", "the stale entry was replaced");
    }

    [Test]
    public void Cached_EntryOverTodaysWorkspaceLimit_IsNotUsed()
    {
        var be = new FakeBackend("be", 1).With("big", workspace: 10_000).With("small", workspace: 10);
        var cache = new PlanCache(null);
        new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { }).GetPlan(Problems.Small());
        var tight = new Planner([be], Problems.Options(PlanPolicy.Cached) with { WorkspaceLimitBytes = 100 }, cache, _ => { });
        Assert.That(tight.GetPlan(Problems.Small()).Algorithm.Name, Is.EqualTo("small"));
    }

    [Test]
    public void Execute_OnWorkspaceAllocationFailure_FallsBackAndNeverRetriesTheFailedOne()
    {
        using var dir = new TempDir();
        var path = dir.File("plans.json");
        var be = new FakeBackend("be", 1).With("greedy", workspace: 1 << 20, failsAllocation: true).With("modest");
        var planner = new Planner([be], Problems.Options(PlanPolicy.Cached), new PlanCache(path), _ => { });
        var problem = Problems.Small();
        var tensors = Tensors(problem);

        var ran = planner.Execute(problem, (plan, backend) => backend.Run(problem, plan.Algorithm, tensors));
        Assert.That(ran.Algorithm.Name, Is.EqualTo("modest"));
        Assert.That(ran.Source, Is.EqualTo(PlanSource.Fallback));
        Assert.That(ran.Why, Does.Contain("be/greedy").And.Contain("1048576"));

        planner.Execute(problem, (plan, backend) => backend.Run(problem, plan.Algorithm, tensors));
        Assert.That(be.RunCalls["greedy"], Is.EqualTo(1), "the failed candidate is not retried");
        Assert.That(be.RunCalls["modest"], Is.EqualTo(2));
        var row = planner.Explain(problem).Rows.Single(r => r.Algorithm == "greedy");
        Assert.That(row.Status, Is.EqualTo(CandidateStatus.Failed));

        // A restart reads the fallback from the cache file instead of trying the greedy one again.
        var restarted = new Planner([be], Problems.Options(PlanPolicy.Cached), new PlanCache(path), _ => { });
        var plan = restarted.GetPlan(problem);
        Assert.That(plan.Source, Is.EqualTo(PlanSource.Cache));
        Assert.That(plan.Algorithm.Name, Is.EqualTo("modest"));
    }

    [Test]
    public void HeuristicPolicy_AfterRestart_HonoursARememberedFallback()
    {
        var be = new FakeBackend("be", 1).With("greedy", failsAllocation: true).With("modest");
        var cache = new PlanCache(null);
        var problem = Problems.Small();
        var tensors = Tensors(problem);
        new Planner([be], Problems.Options(PlanPolicy.Heuristic), cache, _ => { })
            .Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));

        var restarted = new Planner([be], Problems.Options(PlanPolicy.Heuristic), cache, _ => { });
        restarted.Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));

        Assert.That(be.RunCalls["greedy"], Is.EqualTo(1));
        Assert.That(restarted.GetPlan(problem).Algorithm.Name, Is.EqualTo("modest"));
        Assert.That(restarted.GetPlan(problem).Source, Is.EqualTo(PlanSource.Cache));
    }

    [Test]
    public void Exhaustive_CandidateThatCannotAllocateWhileTimed_IsRememberedAsFailed()
    {
        var be = new FakeBackend("be", 1).With("greedy", 0.1, failsAllocation: true).With("modest", 5);
        var planner = Make(PlanPolicy.Exhaustive, be);
        var first = planner.Explain(Problems.Small());
        Assert.That(first.Chosen!.Algorithm.Name, Is.EqualTo("modest"));
        Assert.That(first.Rows.Single(r => r.Algorithm == "greedy").Reason, Does.Contain("could not allocate"));
        int tries = be.TimeCalls("greedy");
        planner.Explain(Problems.Small());
        Assert.That(be.TimeCalls("greedy"), Is.EqualTo(tries), "not timed again");
    }

    [Test]
    public void Execute_WhenEveryCandidateFailsToAllocate_Throws()
    {
        var be = new FakeBackend("be", 1).With("a", failsAllocation: true).With("b", failsAllocation: true);
        var planner = Make(PlanPolicy.Heuristic, be);
        var problem = Problems.Small();
        var tensors = Tensors(problem);
        var e = Assert.Throws<InvalidOperationException>(() => planner.Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors)));
        Assert.That(e!.Message, Does.Contain("be/a").And.Contain("be/b"));
        Assert.That(e.InnerException, Is.InstanceOf<WorkspaceAllocationException>());
    }

    [Test]
    public void NoAllowedCandidate_ThrowsWithTheTable()
    {
        var be = new FakeBackend("be", 1).With("nondet", deterministic: false);
        var planner = new Planner([be], Problems.Options(PlanPolicy.Heuristic) with { Deterministic = true }, new PlanCache(null), _ => { });
        var e = Assert.Throws<InvalidOperationException>(() => planner.GetPlan(Problems.Small()));
        Assert.That(e!.Message, Does.Contain("NonDeterministic"));
    }

    [Test]
    public void BadConstruction_NamesTheField()
    {
        var be = new FakeBackend("be", 1).With("a");
        var e = Assert.Throws<ArgumentException>(() => new Planner([be], Problems.Options(PlanPolicy.Heuristic) with { BackendFilter = "ptx" }));
        Assert.That(e!.ParamName, Is.EqualTo("BackendFilter"));
        Assert.That(e.Message, Does.Contain("ptx").And.Contain("be"));
        Assert.That(Assert.Throws<ArgumentException>(() => new Planner([be], Problems.Options(PlanPolicy.Heuristic) with { TimedRuns = 0 }))!.ParamName, Is.EqualTo("TimedRuns"));
        Assert.That(Assert.Throws<ArgumentException>(() => new Planner([be], Problems.Options(PlanPolicy.Heuristic) with { WorkspaceLimitBytes = -1 }))!.ParamName, Is.EqualTo("WorkspaceLimitBytes"));
        Assert.That(Assert.Throws<ArgumentException>(() => new Planner([], null))!.ParamName, Is.EqualTo("backends"));
    }

    [Test]
    public void Explain_FormatsOneLinePerCandidate()
    {
        var be = new FakeBackend("be", 1).With("a").With("b", workspace: 77);
        var text = Make(PlanPolicy.Heuristic, be).Explain(Problems.Small()).Format();
        Assert.That(text, Does.Contain("be/a").And.Contain("Chosen").And.Contain("Lost").And.Contain("77"));
    }

    static ConvTensors Tensors(GpuConv.Conv.ConvProblem p) =>
        new(GpuConv.Tensors.HostTensor.Random(p.XShape, 1), GpuConv.Tensors.HostTensor.Random(p.WShape, 2), new GpuConv.Tensors.HostTensor(p.YShape));
}
