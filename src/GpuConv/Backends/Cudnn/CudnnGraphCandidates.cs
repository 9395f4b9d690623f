using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using A = GpuConv.Cuda.Native.CudnnBackendAttributeName;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// The cudnn backend's graph-API candidates: for a problem with symmetric padding, the engine configs cuDNN's
/// backend heuristics (mode A, then FALLBACK) return, filtered by their numerical notes for the precision
/// (<see cref="CudnnGraphHeuristics.MathFor"/>), at most <see cref="MaxConfigs"/> per math mode, each one whose
/// execution plan finalizes offered with that plan's workspace. This is the route PyTorch 2.x takes to cuDNN
/// (cudnn-frontend over the backend API), and some engines are reachable only through it; the legacy
/// candidates stay. Execution plans are cached per (problem, accumulate) and engine config, bounded like the
/// legacy descriptors; a plan is rebuilt from the candidate's name alone when it is not cached (a plan-cache
/// entry from another process). Not thread-safe: the backend calls it under its lock.
/// <para>
/// <c>GPUCONV_CUDNN_GRAPH=0</c> turns the graph candidates off; <c>GPUCONV_CUDNN_GRAPH_MAX=N</c> sets the cap
/// (default <see cref="DefaultMaxConfigs"/>, which keeps an exhaustive search on the GPU check's budget).
/// </para>
/// </summary>
internal sealed unsafe class CudnnGraphCandidates : IDisposable
{
    public const string EnableVariable = "GPUCONV_CUDNN_GRAPH";
    public const string MaxVariable = "GPUCONV_CUDNN_GRAPH_MAX";
    public const string RuntimeCompiledVariable = "GPUCONV_CUDNN_GRAPH_RUNTIME_COMPILED";
    public const int DefaultMaxConfigs = 8;
    const int MaxCachedProblems = 64;

    readonly ICudnnGraphApi _api;
    readonly CudnnHandle _handle;
    readonly Dictionary<(ConvProblem Problem, bool Accumulate), ProblemPlans> _problems = [];

    CudnnGraphCandidates(ICudnnGraphApi api, CudnnHandle handle, int maxConfigs, bool runtimeCompiled)
    {
        _api = api;
        _handle = handle;
        MaxConfigs = maxConfigs;
        OffersRuntimeCompiled = runtimeCompiled;
    }

    /// <summary>
    /// Whether engines with the RUNTIME_COMPILATION behaviour note are offered. Off by default: their plans
    /// are compiled (NVRTC) when finalized, which can take far longer than an exhaustive search of the others;
    /// <c>GPUCONV_CUDNN_GRAPH_RUNTIME_COMPILED=1</c> offers them.
    /// </summary>
    public bool OffersRuntimeCompiled { get; }

    /// <summary>Engine configs offered per problem and math mode at most.</summary>
    public int MaxConfigs { get; }

    /// <summary>Why the graph candidates are off (set when the library lacks the backend API), or null.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>
    /// The graph candidates for the library behind <paramref name="handle"/>, or null (with the reason) when the
    /// environment turns them off or the library offers no backend API: the native cuDNN always has it (cuDNN ≥ 8);
    /// a fake <see cref="ICudnnApi"/> has it only if it also implements <see cref="ICudnnGraphApi"/>.
    /// </summary>
    public static CudnnGraphCandidates? TryCreate(CudnnHandle handle, out string? why)
    {
        string? enable = Environment.GetEnvironmentVariable(EnableVariable);
        if (enable is "0" or "false" or "off") { why = $"{EnableVariable}={enable}"; return null; }
        int max = DefaultMaxConfigs;
        if (Environment.GetEnvironmentVariable(MaxVariable) is { Length: > 0 } text)
        {
            if (!int.TryParse(text, out max) || max < 0)
                throw new ArgumentException($"{MaxVariable} must be a non-negative integer, not '{text}'.", MaxVariable);
        }
        var api = handle.Api as ICudnnGraphApi ?? (ReferenceEquals(handle.Api, NativeCudnnApi.Instance) ? NativeCudnnGraphApi.Instance : null);
        if (api is null) { why = "the cuDNN API in use has no backend (graph) API"; return null; }
        if (max == 0) { why = $"{MaxVariable}=0"; return null; }
        why = null;
        return new CudnnGraphCandidates(api, handle, max, Environment.GetEnvironmentVariable(RuntimeCompiledVariable) is "1" or "true" or "on");
    }

    /// <summary>
    /// The graph candidates for <paramref name="p"/> at <paramref name="precision"/>, in cuDNN's order (mode A's,
    /// then FALLBACK's not already listed). <paramref name="table"/>, when given, gets one line per heuristic
    /// entry saying what became of it.
    /// </summary>
    public List<ConvAlgorithm> Offer(ConvProblem p, ConvPrecision precision, List<string>? table = null)
    {
        var list = new List<ConvAlgorithm>();
        if (Unavailable is not null) { table?.Add($"    graph API off: {Unavailable}"); return list; }
        if (!p.Spec.IsSymmetricPadding) { table?.Add("    no graph candidates: asymmetric padding (the legacy candidates pad explicitly)"); return list; }
        ProblemPlans entry;
        try { entry = Plans(p, accumulate: false); }
        catch (CudnnException e) when (CudnnBackend.IsRefusal(e.Status))
        {
            // cuDNN will not build the graph for this problem: the legacy candidates still run it.
            NativeTrace.Note($"cudnn graph: no candidates for {p}: {e.Message}");
            table?.Add($"    no graph candidates: {e.Message}");
            return list;
        }
        catch (EntryPointNotFoundException e)
        {
            Unavailable = $"the loaded cuDNN does not export the backend API ({e.Message})";
            NativeTrace.Note($"cudnn graph candidates off: {Unavailable}");
            table?.Add($"    graph API off: {Unavailable}");
            return list;
        }
        var perMath = new Dictionary<MathMode, int>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var h in entry.Heuristics(_api))
        {
            string name = h.Choice.Name;
            string Outcome()
            {
                if (!seen.Add(name)) return "duplicate";
                if (CudnnGraphHeuristics.MathFor(h.Notes, precision) is not { } math)
                    return $"not a candidate at {precision}: numerical notes [{string.Join(",", h.Notes)}]";
                if (!OffersRuntimeCompiled && h.Behavior.Contains(CudnnBackendBehaviorNote.RuntimeCompilation))
                    return $"not offered: runtime-compiled engine ({RuntimeCompiledVariable}=1 offers it)";
                if (perMath.GetValueOrDefault(math) >= MaxConfigs) return $"not offered: the cap of {MaxConfigs} {math} configs is reached ({MaxVariable})";
                CudnnGraphExecutionPlan? plan;
                string why;
                try { plan = entry.Plan(_api, _handle.Raw, h.Choice, out why); }
                catch (CudnnException e) when (CudnnBackend.IsRefusal(e.Status)) { plan = null; why = e.Message; }
                if (plan is null) return $"dropped: {why}";
                perMath[math] = perMath.GetValueOrDefault(math) + 1;
                list.Add(new ConvAlgorithm(CudnnBackend.BackendName, name, h.Choice.Id, plan.WorkspaceBytes,
                    !h.Notes.Contains(CudnnBackendNumericalNote.Nondeterministic), math));
                return $"candidate ({math}), workspace {plan.WorkspaceBytes} B";
            }
            string outcome = Outcome();
            table?.Add($"    {name,-34} heuristic {h.Mode} notes [{string.Join(",", h.Notes)}] behaviour [{string.Join(",", h.Behavior)}]: {outcome}");
        }
        return list;
    }

    /// <summary>
    /// The execution plan that runs <paramref name="algorithm"/> on <paramref name="p"/>, with beta 1 when
    /// <paramref name="accumulate"/>; <see cref="AlgorithmDeclinedException"/> when cuDNN will not build it or the
    /// engine's notes do not allow the candidate's math mode (a stale or edited plan-cache entry).
    /// </summary>
    public CudnnGraphExecutionPlan PlanFor(ConvProblem p, ConvAlgorithm algorithm, bool accumulate)
    {
        // Steady state (the same call again): no parsing, no lookups.
        if (_last is { } last && ReferenceEquals(last.Algorithm, algorithm) && last.Accumulate == accumulate
            && (ReferenceEquals(last.Problem, p) || last.Problem.Equals(p)))
            return last.Plan;
        var plan = Resolve(p, algorithm, accumulate);
        _last = (p, algorithm, accumulate, plan);
        return plan;
    }

    (ConvProblem Problem, ConvAlgorithm Algorithm, bool Accumulate, CudnnGraphExecutionPlan Plan)? _last;

    CudnnGraphExecutionPlan Resolve(ConvProblem p, ConvAlgorithm algorithm, bool accumulate)
    {
        var choice = CudnnGraphEngineChoice.TryParse(algorithm.Name)
            ?? throw new ArgumentException($"{algorithm.Key} is not a cudnn graph engine config name.", nameof(algorithm));
        if (Unavailable is not null) throw new AlgorithmDeclinedException(algorithm.Key, Unavailable);
        if (!p.Spec.IsSymmetricPadding) throw new AlgorithmDeclinedException(algorithm.Key, "asymmetric padding: graph engine configs take symmetric padding only");
        CudnnGraphExecutionPlan? plan;
        string why;
        // cuDNN refusing the graph itself (e.g. the accumulate variant) declines the candidate like a refused plan.
        try { plan = Plans(p, accumulate).Plan(_api, _handle.Raw, choice, out why); }
        catch (CudnnException e) when (CudnnBackend.IsRefusal(e.Status)) { throw new AlgorithmDeclinedException(algorithm.Key, e.StatusName, e); }
        if (plan is null) throw new AlgorithmDeclinedException(algorithm.Key, why);
        var allowed = CudnnGraphHeuristics.MathFor(plan.Notes, algorithm.Math == MathMode.TF32 ? ConvPrecision.AllowTF32 : ConvPrecision.Strict);
        if (allowed != algorithm.Math)
            throw new AlgorithmDeclinedException(algorithm.Key, $"engine {choice.EngineIndex}'s numerical notes [{string.Join(",", plan.Notes)}] do not allow {algorithm.Math} math");
        return plan;
    }

    /// <summary>
    /// Runs <paramref name="plan"/> through a variant pack of x, w, y (the op decides which is written) and the
    /// workspace; a refusal (bad parameter, not supported, execution failed) becomes <see cref="AlgorithmDeclinedException"/>.
    /// </summary>
    public void Execute(ConvAlgorithm algorithm, CudnnGraphExecutionPlan plan, ulong x, ulong w, ulong y, ulong workspace)
    {
        const ulong mask = CudnnGraphOperation.ByteAlignment - 1;
        if (((x | w | y) & mask) != 0)
            throw new AlgorithmDeclinedException(algorithm.Key,
                $"x 0x{x:x}, w 0x{w:x} or y 0x{y:x} is not aligned to the {CudnnGraphOperation.ByteAlignment} bytes the graph's tensors declare");
        var pointers = (x, w, y, workspace);
        var pack = plan.LastPack;
        if (pack is null || plan.LastPackPointers != pointers)
        {
            pack = new CudnnBackendDescriptor(_api, CudnnBackendDescriptorType.VariantPackDescriptor);
            try
            {
                pack.SetInt64(A.VariantPackUniqueIds, CudnnGraphOperation.XUid, CudnnGraphOperation.WUid, CudnnGraphOperation.YUid);
                pack.SetPointers(A.VariantPackDataPointers, x, w, y);
                pack.SetPointers(A.VariantPackWorkspace, workspace);
                pack.FinalizeOrThrow();
            }
            catch
            {
                pack.Dispose();
                throw;
            }
            plan.KeepPack(pack, pointers);
        }
        long started = NativeTrace.Start();
        var status = _api.Execute(_handle.Raw, plan.Plan.Raw, pack.Raw);
        NativeTrace.Record(started, "cudnnBackendExecute", NativeText.StatusLabel(status), $"{algorithm.Key} x=0x{x:x} w=0x{w:x} y=0x{y:x} ws=0x{workspace:x} ({plan.WorkspaceBytes} B)");
        if (status == CudnnStatus.Success) return;
        var error = new CudnnException(status, "cudnnBackendExecute");
        if (CudnnBackend.IsRefusal(status)) throw new AlgorithmDeclinedException(algorithm.Key, error.StatusName, error);
        throw error;
    }

    ProblemPlans Plans(ConvProblem p, bool accumulate)
    {
        var key = (p, accumulate);
        if (_problems.TryGetValue(key, out var entry)) return entry;
        if (_problems.Count >= MaxCachedProblems)
        {
            // Safe under the backend's lock: no call is using a cached plan now.
            foreach (var old in _problems.Values) old.Dispose();
            _problems.Clear();
            _last = null;
        }
        entry = new ProblemPlans(new CudnnGraphOperation(_api, _handle.Raw, p, accumulate));
        _problems[key] = entry;
        return entry;
    }

    public void Dispose()
    {
        foreach (var e in _problems.Values) e.Dispose();
        _problems.Clear();
        _last = null;
    }

    /// <summary>One problem's operation graph, its heuristic list (queried once) and the plans built on it (or why not).</summary>
    sealed class ProblemPlans(CudnnGraphOperation graph) : IDisposable
    {
        readonly Dictionary<string, (CudnnGraphExecutionPlan? Plan, string Why)> _plans = new(StringComparer.Ordinal);
        List<CudnnGraphHeuristicEntry>? _heuristics;

        public List<CudnnGraphHeuristicEntry> Heuristics(ICudnnGraphApi api)
        {
            if (_heuristics is not null) return _heuristics;
            var all = new List<CudnnGraphHeuristicEntry>();
            foreach (var mode in new[] { CudnnBackendHeurMode.A, CudnnBackendHeurMode.Fallback })
            {
                // A mode cuDNN refuses for this graph (NOT_SUPPORTED) leaves the other's list.
                try { all.AddRange(CudnnGraphHeuristics.Query(api, graph, mode)); }
                catch (CudnnException e) when (CudnnBackend.IsRefusal(e.Status)) { NativeTrace.Note($"cudnn graph heuristics {mode} refused: {e.Message}"); }
            }
            return _heuristics = all;
        }

        public CudnnGraphExecutionPlan? Plan(ICudnnGraphApi api, nint handle, CudnnGraphEngineChoice choice, out string why)
        {
            string name = choice.Name;
            if (!_plans.TryGetValue(name, out var built))
            {
                var plan = CudnnGraphExecutionPlan.TryBuild(api, handle, graph, choice, out string reason);
                built = (plan, reason);
                _plans[name] = built;
            }
            why = built.Why;
            return built.Plan;
        }

        public void Dispose()
        {
            foreach (var (plan, _) in _plans.Values) plan?.Dispose();
            _plans.Clear();
            graph.Dispose();
        }
    }
}
