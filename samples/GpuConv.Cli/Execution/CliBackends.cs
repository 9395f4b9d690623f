using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Planning;

namespace GpuConv.Cli.Execution;

/// <summary>
/// THE seam between the CLI and the library: the backends a command may use and how one is chosen.
/// Opened from a <see cref="ConvEngine"/> (GPU backends when a GPU is usable, then cpu and reference),
/// so commands choose through the engine's planner and plan cache; tests build one from a list.
/// </summary>
public sealed class CliBackends : IDisposable
{
    readonly ConvEngine? _engine;
    readonly bool _ownsBackends;

    /// <summary>A fixed list (tests); the first supporting backend by priority is chosen, and the list is disposed with this.</summary>
    public CliBackends(IReadOnlyList<IConvBackend> backends)
    {
        All = [.. backends.OrderBy(b => b.Priority)];
        _ownsBackends = true;
    }

    CliBackends(ConvEngine engine)
    {
        _engine = engine;
        // A forced backend (--backend) is the only one a command may use.
        All = [.. engine.Backends
            .Where(b => engine.Options.Backend is null || string.Equals(b.Name, engine.Options.Backend, StringComparison.OrdinalIgnoreCase))
            .OrderBy(b => b.Priority)];
    }

    /// <summary>
    /// Every backend name the CLI knows, available on this machine or not: what --vs accepts before any
    /// device is opened.
    /// </summary>
    public static IReadOnlyList<string> KnownNames { get; } =
        [GpuConv.Backends.Cudnn.CudnnBackend.BackendName, PtxConvBackend.BackendName, CpuBackend.BackendName, ReferenceBackend.BackendName];

    /// <summary>In preference order (lowest <see cref="IConvBackend.Priority"/> first).</summary>
    public IReadOnlyList<IConvBackend> All { get; }

    /// <summary>The device the engine plans for (the GPU, or the CPU); null for a fixed backend list.</summary>
    public GpuConv.Planning.DeviceIdentity? Device => _engine?.Device;

    /// <summary>Why the GPU backends are missing, when they are.</summary>
    public string? GpuUnavailableReason => _engine?.GpuUnavailableReason;

    /// <summary>
    /// Opens every available backend (<paramref name="name"/> null) or just the one named; an unknown or
    /// unavailable name is bad input (ArgumentException naming --backend, what is available and why the GPU is off).
    /// </summary>
    public static CliBackends Open(string? name, string? planCachePath = null, PlanPolicy policy = PlanPolicy.Cached, int? cpuThreads = null)
    {
        var options = new ConvEngineOptions
        {
            Policy = policy,
            PlanCachePath = planCachePath,
            CpuThreads = cpuThreads,
            Backend = name,
            Warning = message => Console.Error.WriteLine($"warning: {message}"),
        };
        try
        {
            return new CliBackends(ConvEngine.Open(options));
        }
        catch (ArgumentException e) when (e.ParamName == nameof(ConvEngineOptions.Backend))
        {
            // The engine's message lists what is available and why the GPU backends are off.
            string detail = e.Message.Replace($" (Parameter '{e.ParamName}')", "");
            if (detail.StartsWith("Backend ", StringComparison.Ordinal)) detail = detail["Backend ".Length..];
            throw new ArgumentException($"--backend: {detail}", "--backend", e);
        }
    }

    /// <summary>
    /// Refuses (<see cref="ProblemTooLargeException"/>) a problem whose tensors cannot fit the engine's memory
    /// (free GPU memory, or what this process may take): the library's check (<see cref="ConvEngine.EnsureFits"/>),
    /// made before planning, which may already allocate. Nothing for a fixed backend list.
    /// </summary>
    public void EnsureFits(ConvProblem problem) => _engine?.EnsureFits(problem);

    /// <summary>The engine planner's plan for a problem (policy and cache as opened).</summary>
    public Plan Plan(ConvProblem problem) =>
        (_engine ?? throw new InvalidOperationException("a fixed backend list has no planner")).GetPlan(problem);

    /// <summary>The backend and algorithm for a problem: the planner's plan, or (fixed lists) the first supporting backend.</summary>
    public (IConvBackend Backend, ConvAlgorithm? Algorithm) Choose(ConvProblem problem)
    {
        if (_engine is not null)
        {
            // Planned for constant weights: ConvRunner, which runs the choice, declares W constant.
            var plan = _engine.GetPlan(problem.WithConstantWeights(true));
            return (All.First(b => b.Name == plan.Backend), plan.Algorithm);
        }
        foreach (var b in All)
            if (b.WhyUnsupported(problem) is null) return (b, null);
        string reasons = string.Join("; ", All.Select(b => $"{b.Name}: {b.WhyUnsupported(problem)}"));
        throw new ArgumentException($"no available backend supports {problem} ({reasons}).", "--backend");
    }

    /// <summary>
    /// Another backend of the same engine with a planner of its own — same policy, plan cache, device and
    /// workspace rules, filtered to that backend — for bench's --vs peer. The engine's own backend (the
    /// forced one) uses the engine's planner. A backend missing on this machine is bad input naming
    /// <paramref name="option"/>, with what is available and why the GPU backends are off.
    /// </summary>
    public (IConvBackend Backend, Func<ConvProblem, Plan> Plan) OpenPeer(string name, string option)
    {
        var engine = _engine ?? throw new InvalidOperationException("a fixed backend list has no planner");
        var backend = engine.Backends.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException(
                $"{option}: backend '{name}' is not available on this machine; available: {string.Join(", ", engine.Backends.Select(b => b.Name))}" +
                (engine.GpuUnavailableReason is { } why ? $" (GPU backends are off: {why})." : "."), option);
        if (engine.Options.Backend is { } main && string.Equals(main, backend.Name, StringComparison.OrdinalIgnoreCase))
            return (backend, engine.GetPlan);
        var planner = new Planner(engine.Backends, engine.Planner.Options with { BackendFilter = backend.Name }, engine.Cache, engine.Options.Warning);
        return (backend, planner.GetPlan);
    }

    public void Dispose()
    {
        _engine?.Dispose();
        if (_ownsBackends)
            foreach (var b in All) b.Dispose();
    }
}
