using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Planning;

/// <summary>
/// Chooses how to run each <see cref="ConvProblem"/>: lists the candidates of every backend, drops
/// the unsupported, filtered, over-workspace, non-deterministic (when asked) and disallowed-precision
/// ones, then picks by <see cref="PlanPolicy"/>. Decisions are memoised per <see cref="PlanKey"/>;
/// exhaustive and cached decisions also go to the <see cref="PlanCache"/>. When a chosen candidate
/// cannot run — its workspace cannot be allocated, or the library refuses the algorithm at run time
/// (<see cref="CandidateUnavailableException"/>) — <see cref="Execute"/> moves to the next one and
/// remembers that (in memory and in the cache), so the failed one is not retried for that key.
/// Thread-safe; planning itself is serialised.
/// </summary>
public sealed class Planner
{
    readonly IReadOnlyList<IConvBackend> backends;
    readonly PlanCache cache;
    readonly Action<string> warn;
    readonly object gate = new();
    // Keyed by problem: every other part of the plan key is fixed for one planner, and this keeps
    // the per-call path free of key building and hashing.
    readonly Dictionary<ConvProblem, Decision> decisions = [];
    readonly Dictionary<string, HashSet<string>> failedAlgorithms = new(StringComparer.Ordinal);
    // Per plan key: the algorithms the backends offered (CachedPlan.Candidates), as of the last evaluation.
    readonly Dictionary<string, string> offeredAlgorithms = new(StringComparer.Ordinal);

    /// <summary>A choice plus the order to fall back in (best first, the chosen one included).</summary>
    sealed record Decision(Plan Plan, IReadOnlyList<Candidate> Preference);

    /// <summary>One allowed candidate with its heuristic rank and, once timed, its median.</summary>
    sealed record Candidate(IConvBackend Backend, ConvAlgorithm Algorithm, int Rank, double? TimeMs = null);

    /// <param name="backends">Every backend that may take part (their order does not matter: priority decides).</param>
    /// <param name="options">Policy and filters; null for the defaults.</param>
    /// <param name="cache">Where plans are remembered; null for a memory-only cache.</param>
    /// <param name="warn">Where warnings go (discarded cache entries and so on); default stderr.</param>
    public Planner(IEnumerable<IConvBackend> backends, PlannerOptions? options = null, PlanCache? cache = null, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(backends);
        Options = options ?? new PlannerOptions();
        Options.Validate();
        var list = backends.ToList();
        if (list.Count == 0)
            throw new ArgumentException("the planner needs at least one backend.", nameof(backends));
        if (list.Any(b => b is null))
            throw new ArgumentException("the backend list contains null.", nameof(backends));
        var duplicate = list.GroupBy(b => b.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"two backends are named '{duplicate.Key}'.", nameof(backends));
        if (Options.BackendFilter is { } filter && !list.Any(b => Is(b, filter)))
            throw new ArgumentException(
                $"BackendFilter '{filter}' names no available backend; available: {string.Join(", ", list.Select(b => b.Name))}.",
                nameof(PlannerOptions.BackendFilter));
        this.backends = list.OrderBy(b => b.Priority).ThenBy(b => b.Name, StringComparer.Ordinal).ToList();
        this.warn = warn ?? PlanCache.DefaultWarning;
        this.cache = cache ?? new PlanCache(null, warn: this.warn);
        var names = Options.BackendFilter is { } f ? [this.backends.First(b => Is(b, f)).Name] : this.backends.Select(b => b.Name).ToList();
        Context = new PlanContext(Options.Precision, Options.Deterministic, Options.Device, Options.Host, names, PlanKey.CurrentLibraryVersion);
    }

    /// <summary>The options the planner was built with.</summary>
    public PlannerOptions Options { get; }
    /// <summary>Precision, determinism, device, host, backends and library version: the non-problem part of every plan key.</summary>
    public PlanContext Context { get; }
    /// <summary>The cache plans are read from and written to.</summary>
    public PlanCache Cache => cache;

    /// <summary>The backends in heuristic order (priority, then name).</summary>
    public IReadOnlyList<IConvBackend> Backends => backends;

    /// <summary>The cache key of <paramref name="problem"/> under this planner's context.</summary>
    public PlanKey KeyFor(ConvProblem problem) => PlanKey.For(problem, Context);

    /// <summary>The backend a plan runs on.</summary>
    public IConvBackend BackendOf(Plan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        // A loop, not LINQ: this runs on every call (a lambda capturing the plan allocated each time).
        for (int i = 0; i < backends.Count; i++)
            if (backends[i].Name == plan.Backend) return backends[i];
        throw new ArgumentException($"plan names backend '{plan.Backend}', which this planner does not have.", nameof(plan));
    }

    /// <summary>
    /// The plan for <paramref name="problem"/> (memoised per key). Throws if no candidate is allowed. A problem with a
    /// padding mode gets the plan of <see cref="ConvProblem.ExplicitlyPadded"/>, the convolution that runs for it.
    /// </summary>
    public Plan GetPlan(ConvProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        problem = problem.ExplicitlyPadded; // a padding mode runs as the unpadded convolution on the padded input
        lock (gate)
        {
            if (decisions.TryGetValue(problem, out var known)) return known.Plan;
            var (explanation, decision) = Evaluate(problem, KeyFor(problem));
            if (decision is null)
                throw new InvalidOperationException($"no allowed candidate for {problem}:{Environment.NewLine}{explanation.Format()}");
            decisions[problem] = decision;
            return decision.Plan;
        }
    }

    /// <summary>
    /// The candidate table for <paramref name="problem"/> under the current policy: every backend's
    /// candidates with rank or time, status and why each lost. Runs the policy afresh (exhaustive
    /// times again) and remembers the result as <see cref="GetPlan"/> would.
    /// </summary>
    public PlanExplanation Explain(ConvProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        problem = problem.ExplicitlyPadded;
        var key = KeyFor(problem);
        lock (gate)
        {
            var (explanation, decision) = Evaluate(problem, key);
            if (decision is not null) decisions[problem] = decision;
            return explanation;
        }
    }

    /// <summary>
    /// Runs <paramref name="problem"/> with its plan through <paramref name="run"/> (which stages data
    /// for the plan's backend and calls it). If the run throws <see cref="CandidateUnavailableException"/>
    /// (workspace allocation failed, or the algorithm was declined at run time) the next candidate is
    /// tried, and the failure is remembered for this key. Returns the plan that ran.
    /// </summary>
    public Plan Execute(ConvProblem problem, Action<Plan, IConvBackend> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return Execute(problem, ref run, static (Plan plan, IConvBackend backend, ref Action<Plan, IConvBackend> r) => r(plan, backend));
    }

    /// <summary>A run for <see cref="Execute{TState}"/>: reads its inputs from, and may write its results to, <paramref name="state"/>.</summary>
    internal delegate void PlanRun<TState>(Plan plan, IConvBackend backend, ref TState state);

    /// <summary>
    /// <see cref="Execute(ConvProblem, Action{Plan, IConvBackend})"/> with the run's data passed as state: the
    /// engine's per-call paths pass a static lambda and a struct, so a warm call allocates no closure.
    /// </summary>
    internal Plan Execute<TState>(ConvProblem problem, ref TState state, PlanRun<TState> run)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(run);
        // The run would hand the backend this problem, whose padding no backend makes: the engine pads first.
        if (problem.Spec.HasPaddingMode)
            throw new ArgumentException($"the planner runs zero-padding convolutions only; {problem.Spec} (padding mode {problem.Spec.PaddingMode}) runs as ConvEngine pads it: plan and run problem.ExplicitlyPadded on the padded input.", nameof(problem));
        var plan = GetPlan(problem);
        while (true)
        {
            try
            {
                run(plan, BackendOf(plan), ref state);
                return plan;
            }
            catch (CandidateUnavailableException e)
            {
                plan = Fallback(problem, plan, e);
            }
        }
    }

    /// <summary>
    /// Records that <paramref name="failed"/> could not run <paramref name="problem"/> (workspace or run-time
    /// refusal) and returns the next candidate in the policy's order (also cached, so a restart does not
    /// retry the failed one). Throws <see cref="InvalidOperationException"/> when none is left.
    /// </summary>
    public Plan Fallback(ConvProblem problem, Plan failed, CandidateUnavailableException error)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(failed);
        ArgumentNullException.ThrowIfNull(error);
        var key = KeyFor(problem);
        lock (gate)
        {
            FailedFor(key).Add(failed.Algorithm.Key);
            IReadOnlyList<Candidate> preference;
            if (decisions.TryGetValue(problem, out var known)) preference = known.Preference;
            else preference = Evaluate(problem, key).Decision?.Preference ?? [];
            var failedSet = FailedFor(key);
            var next = preference.FirstOrDefault(c => !failedSet.Contains(c.Algorithm.Key));
            if (next is null)
            {
                decisions.Remove(problem);
                throw new InvalidOperationException(
                    $"no candidate left for {problem}: {string.Join(", ", failedSet)} could not run it (the last: {error.Reason}).", error);
            }
            var plan = new Plan(next.Backend.Name, next.Algorithm, PlanSource.Fallback,
                $"{failed.Algorithm.Key} {error.Reason}; next candidate in {Options.Policy.ToString().ToLowerInvariant()} order", next.TimeMs);
            decisions[problem] = new Decision(plan, preference.Where(c => !failedSet.Contains(c.Algorithm.Key)).ToList());
            Remember(key, plan);
            return plan;
        }
    }

    /// <summary>Builds the candidate table and, unless nothing is allowed, the decision.</summary>
    (PlanExplanation Explanation, Decision? Decision) Evaluate(ConvProblem problem, PlanKey key)
    {
        var rows = new List<Row>();
        var allowed = new List<Candidate>();
        var offered = new List<string>();
        var failedSet = FailedFor(key);
        foreach (var backend in backends)
        {
            if (Options.BackendFilter is { } filter && !Is(backend, filter))
            {
                rows.Add(new Row(backend.Name, "*", 0, CandidateStatus.Filtered, $"backend filter is '{filter}'"));
                continue;
            }
            if (backend.WhyUnsupported(problem) is { } why)
            {
                rows.Add(new Row(backend.Name, "*", 0, CandidateStatus.Unsupported, why));
                continue;
            }
            long limit = WorkspaceLimit(backend);
            // Ask for every math mode so the table can show what the precision policy excluded.
            foreach (var algorithm in backend.GetAlgorithms(problem, ConvPrecision.AllowTF32))
            {
                offered.Add($"{algorithm.Key}#{algorithm.Id}");
                var row = new Row(backend.Name, AlgorithmLabel(algorithm), algorithm.WorkspaceBytes, CandidateStatus.Lost, "");
                if (algorithm.Math != MathMode.Strict && Options.Precision == ConvPrecision.Strict)
                    row = row with { Status = CandidateStatus.Precision, Reason = $"{algorithm.Math} math not allowed by precision policy {Options.Precision}" };
                else if (Options.Deterministic && !algorithm.Deterministic)
                    row = row with { Status = CandidateStatus.NonDeterministic, Reason = "results may differ run to run; determinism was asked" };
                else if (algorithm.WorkspaceBytes > limit)
                    row = row with { Status = CandidateStatus.OverWorkspaceLimit, Reason = $"needs {algorithm.WorkspaceBytes} B of workspace, limit is {limit} B" };
                else if (failedSet.Contains(algorithm.Key))
                    row = row with { Status = CandidateStatus.Failed, Reason = "could not run this problem earlier (workspace allocation or run-time refusal)" };
                else
                {
                    var candidate = new Candidate(backend, algorithm, allowed.Count + 1);
                    allowed.Add(candidate);
                    row = row with { Candidate = candidate };
                }
                rows.Add(row);
            }
        }

        // What the backends offer, not what is allowed now: a candidate that failed in this process must not
        // make the next one re-plan (its fallback entry is what keeps it from being retried).
        offeredAlgorithms[key.Hash] = string.Join(' ', offered.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        var decision = allowed.Count == 0 ? null : Options.Policy switch
        {
            // A remembered fallback is honoured even here, so a restart does not retry a candidate that failed to allocate.
            PlanPolicy.Heuristic => FromCache(key, allowed, onlyFallbacks: true) ?? Heuristic(allowed),
            PlanPolicy.Exhaustive => Exhaustive(problem, key, allowed, rows),
            _ => FromCache(key, allowed) ?? RememberHeuristic(key, allowed),
        };
        var table = rows.Select(r => Finish(r, decision)).ToList();
        return (new PlanExplanation(problem, key, Options.Policy, decision?.Plan, table), decision);
    }

    static Decision Heuristic(List<Candidate> allowed)
    {
        var best = allowed[0];
        var why = best.Rank == 1 && allowed.Count == 1 ? "the only allowed candidate" : "first allowed candidate by backend priority and the backend's own ranking";
        return new Decision(new Plan(best.Backend.Name, best.Algorithm, PlanSource.Heuristic, why), allowed);
    }

    Decision RememberHeuristic(PlanKey key, List<Candidate> allowed)
    {
        var decision = Heuristic(allowed);
        Remember(key, decision.Plan);
        return decision;
    }

    /// <summary>
    /// The cached plan if it still names an allowed candidate (a stale entry is discarded with a warning) and
    /// was chosen among the algorithms offered now: where the backends offer others than when it was made (a
    /// newer build's algorithm), the choice is made again, as for a problem never seen; so is a heuristic choice that
    /// the backends' ranking no longer puts first.
    /// </summary>
    Decision? FromCache(PlanKey key, List<Candidate> allowed, bool onlyFallbacks = false)
    {
        if (!cache.TryGet(key, out var cached) || (onlyFallbacks && cached.Source != PlanSource.Fallback)) return null;
        if (cached.Candidates is { } then && offeredAlgorithms.TryGetValue(key.Hash, out var now) && !string.Equals(then, now, StringComparison.Ordinal))
        {
            cache.Remove(key);
            cache.SaveIfDue();
            return null;
        }
        // A remembered heuristic choice is only the backends' first allowed candidate at the time: where a newer build
        // ranks another first (the same algorithms offered, so the check above keeps it), it is made again. A timed plan
        // stays: its times, not the ranking, chose it.
        if (cached.Source == PlanSource.Heuristic && !cached.Matches(allowed[0].Algorithm))
        {
            cache.Remove(key);
            cache.SaveIfDue();
            return null;
        }
        var match = allowed.FirstOrDefault(c => cached.Matches(c.Algorithm));
        if (match is null)
        {
            warn($"plan cache entry {cached.AlgorithmKey} is not among the allowed candidates now ({string.Join(", ", allowed.Select(c => c.Algorithm.Key))}); discarded.");
            cache.Remove(key);
            cache.SaveIfDue();
            return null;
        }
        // Workspace and determinism come from the live candidate, never from the file.
        var plan = new Plan(match.Backend.Name, match.Algorithm, PlanSource.Cache, $"plan cache ({cached.Source.ToString().ToLowerInvariant()}: {cached.Why})", cached.TimeMs);
        match = match with { TimeMs = cached.TimeMs };
        return new Decision(plan, [match, .. allowed.Where(c => !ReferenceEquals(c.Algorithm, match.Algorithm))]);
    }

    /// <summary>
    /// Times every allowed candidate on random scratch tensors in its backend's memory (warm-up runs,
    /// then the median of the timed runs) and keeps the fastest. Candidates that throw are marked failed.
    /// The scratch weights are declared constant exactly when the problem is planned for constant weights
    /// (<see cref="ConvProblem.ConstantWeights"/>): each candidate is timed as the calls will run it. With
    /// constant weights a backend that prepares W (the CPU's channel-tiled panels) does so in the warm-up,
    /// not in every timed run (timed with the packing, channel-tiled won 32 of ResNet-50's 53 layers and
    /// the plans ran 25.2 ms at batch 1 on two threads; in its steady state, 43 and 22.8 ms). With weights
    /// that change every call (training) the preparation is part of every call, so it is timed too.
    /// <para>
    /// Only candidates in the memory of the first allowed backend by priority are timed — on a GPU engine the
    /// device's (cuDNN, ptx) — and the others (the CPU and reference backends, in host memory) stay behind them as
    /// fallbacks, timed only when none of the first memory's could run. The engine's tensors live in one memory;
    /// a plan in the other runs on staged copies (a copy each way and a wait) that a kernel's time does not show,
    /// and a GPU engine whose small layers went to a 16-core host's CPU would break a device-resident chain into
    /// host round trips.
    /// </para>
    /// </summary>
    Decision? Exhaustive(ConvProblem problem, PlanKey key, List<Candidate> allowed, List<Row> rows)
    {
        var home = allowed[0].Backend.Memory;
        var local = allowed.Where(c => ReferenceEquals(c.Backend.Memory, home)).ToList();
        var elsewhere = allowed.Where(c => !ReferenceEquals(c.Backend.Memory, home)).ToList();
        var timed = TimeEach(problem, key, local, rows);
        if (timed.Count == 0)
        {
            timed = TimeEach(problem, key, elsewhere, rows);
            elsewhere = [];
        }
        if (timed.Count == 0) return null;
        var order = timed.OrderBy(c => c.TimeMs).ThenBy(c => c.Rank).Concat(elsewhere).ToList();
        for (int i = 0; i < rows.Count; i++)
            if (rows[i].Candidate is { } c && timed.FirstOrDefault(t => ReferenceEquals(t.Algorithm, c.Algorithm)) is { } withTime)
                rows[i] = rows[i] with { Candidate = withTime };
        var best = order[0];
        var plan = new Plan(best.Backend.Name, best.Algorithm, PlanSource.Exhaustive,
            $"fastest of {timed.Count} timed candidate{(timed.Count == 1 ? "" : "s")} (median of {Options.TimedRuns} runs)", best.TimeMs);
        Remember(key, plan);
        return new Decision(plan, order);
    }

    /// <summary>Times each candidate (warm-up runs, then the median of the timed runs); one that throws is marked failed in <paramref name="rows"/>.</summary>
    List<Candidate> TimeEach(ConvProblem problem, PlanKey key, List<Candidate> candidates, List<Row> rows)
    {
        var timed = new List<Candidate>();
        foreach (var group in candidates.GroupBy(c => c.Backend))
        {
            var backend = group.Key;
            var scratch = Scratch(problem, backend.Memory);
            try
            {
                foreach (var candidate in group)
                {
                    try
                    {
                        for (int i = 0; i < Options.WarmupRuns; i++) backend.TimeRun(problem, candidate.Algorithm, scratch);
                        var times = new double[Options.TimedRuns];
                        for (int i = 0; i < times.Length; i++) times[i] = backend.TimeRun(problem, candidate.Algorithm, scratch);
                        Array.Sort(times);
                        double median = times.Length % 2 == 1 ? times[times.Length / 2] : 0.5 * (times[times.Length / 2 - 1] + times[times.Length / 2]);
                        timed.Add(candidate with { TimeMs = median });
                    }
                    // A sticky device error is no candidate's failure: every later one would fail too and the CPU would
                    // be timed alone and remembered; the planning fails with the driver's error instead.
                    catch (Exception e) when (e is not OutOfMemoryException and not CudaException { ContextUnusable: true })
                    {
                        int i = rows.FindIndex(r => ReferenceEquals(r.Candidate, candidate));
                        var reason = e is CandidateUnavailableException u ? u.Reason : $"threw while timed: {e.GetType().Name}: {e.Message}";
                        if (e is CandidateUnavailableException) FailedFor(key).Add(candidate.Algorithm.Key);
                        rows[i] = rows[i] with { Status = CandidateStatus.Failed, Reason = reason, Candidate = null };
                    }
                }
            }
            finally
            {
                foreach (var t in new[] { scratch.X, scratch.W, scratch.Y })
                    (t as IDisposable)?.Dispose();
            }
        }
        return timed;
    }

    /// <summary>X, W and Y of the problem in <paramref name="memory"/>, filled with random data.</summary>
    ConvTensors Scratch(ConvProblem problem, IMemorySpace memory)
    {
        var shapes = new[] { problem.XShape, problem.WShape, problem.YShape };
        var tensors = new Tensor[3];
        try
        {
            for (int i = 0; i < 3; i++)
            {
                tensors[i] = memory.Allocate(shapes[i]);
                var host = HostTensor.Random(shapes[i], Options.ScratchSeed + i);
                memory.CopyFromHost(host.Data, tensors[i]);
            }
        }
        catch
        {
            foreach (var t in tensors) (t as IDisposable)?.Dispose();
            throw;
        }
        return new ConvTensors(tensors[0], tensors[1], tensors[2]) { ConstantWeights = problem.ConstantWeights };
    }

    void Remember(PlanKey key, Plan plan)
    {
        cache.Put(key, plan, offeredAlgorithms.GetValueOrDefault(key.Hash));
        cache.SaveIfDue();
    }

    long WorkspaceLimit(IConvBackend backend) =>
        Math.Min(Options.WorkspaceLimitBytes ?? long.MaxValue, Options.AvailableWorkspace?.Invoke(backend) ?? long.MaxValue);

    HashSet<string> FailedFor(PlanKey key)
    {
        if (!failedAlgorithms.TryGetValue(key.Hash, out var set))
            failedAlgorithms[key.Hash] = set = new HashSet<string>(StringComparer.Ordinal);
        return set;
    }

    static bool Is(IConvBackend backend, string name) => string.Equals(backend.Name, name, StringComparison.OrdinalIgnoreCase);

    static string AlgorithmLabel(ConvAlgorithm a) => a.Math == MathMode.Strict ? a.Name : $"{a.Name}+{a.Math}";

    /// <summary>A table row under construction; <see cref="Candidate"/> is set for allowed candidates.</summary>
    sealed record Row(string Backend, string Algorithm, long WorkspaceBytes, CandidateStatus Status, string Reason)
    {
        public Candidate? Candidate { get; init; }
    }

    static CandidateRow Finish(Row row, Decision? decision)
    {
        if (row.Candidate is not { } c)
            return new CandidateRow(row.Backend, row.Algorithm, row.WorkspaceBytes, null, null, row.Status, row.Reason);
        if (decision is null)
            return new CandidateRow(row.Backend, row.Algorithm, row.WorkspaceBytes, c.Rank, c.TimeMs, CandidateStatus.Lost, "no plan was chosen");
        var chosen = decision.Plan;
        if (ReferenceEquals(c.Algorithm, chosen.Algorithm))
            return new CandidateRow(row.Backend, row.Algorithm, row.WorkspaceBytes, c.Rank, c.TimeMs, CandidateStatus.Chosen, chosen.Why);
        var winner = decision.Preference.FirstOrDefault(p => ReferenceEquals(p.Algorithm, chosen.Algorithm));
        string reason = chosen.Source switch
        {
            PlanSource.Exhaustive when c.TimeMs is null && winner is not null && !ReferenceEquals(c.Backend.Memory, winner.Backend.Memory) =>
                $"not timed: a fallback in {c.Backend.Memory.Kind.ToString().ToLowerInvariant()} memory behind the {winner.Backend.Memory.Kind.ToString().ToLowerInvariant()} memory's candidates",
            PlanSource.Exhaustive when c.TimeMs is double t && chosen.TimeMs is double best =>
                $"slower: {t:0.###} ms vs {best:0.###} ms for {chosen.Algorithm.Key}" + (best > 0 ? $" ({t / best:0.00}x)" : ""),
            PlanSource.Cache => $"the plan cache chose {chosen.Algorithm.Key}",
            _ => $"ranked {c.Rank}; {chosen.Algorithm.Key} ranks higher",
        };
        return new CandidateRow(row.Backend, row.Algorithm, row.WorkspaceBytes, c.Rank, c.TimeMs, CandidateStatus.Lost, reason);
    }
}
