using System.Collections.Concurrent;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Elementwise;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The one entry point: owns the backends, the planner and the plan cache. Operations take host
/// tensors in PyTorch layout (plain or transposed convolution alike), plan the problem, move data to
/// the chosen backend's memory when it is not host memory, run, and bring the result back.
/// Every argument is checked before any work. Disposing saves the plan cache and disposes the
/// backends the engine created.
/// </summary>
public sealed partial class ConvEngine : IDisposable
{
    readonly BackendSet backendSet;
    volatile Plan? lastPlan;
    bool disposed;

    ConvEngine(ConvEngineOptions options, BackendSet backendSet)
    {
        Options = options;
        this.backendSet = backendSet;
        var warn = options.Warning ?? PlanCache.DefaultWarning;
        var path = options.PersistPlans ? PlanCache.ResolvePath(options.PlanCachePath) : null;
        Cache = new PlanCache(path, options.MaxCachedPlans, warn);
        Planner = new Planner(backendSet.Backends, new PlannerOptions
        {
            Policy = options.Policy,
            WorkspaceLimitBytes = options.WorkspaceLimitBytes,
            AvailableWorkspace = backendSet.AvailableWorkspace,
            Deterministic = options.Deterministic,
            Precision = options.Precision,
            BackendFilter = options.Backend,
            Device = backendSet.Device,
            Host = backendSet.Host,
        }, Cache, warn);
        hostElementwise = new ParallelElementwise(backendSet.Backends.OfType<CpuBackend>().FirstOrDefault()?.Workers);
        cpuBackends = [.. backendSet.Backends.OfType<CpuBackend>()];
    }

    /// <summary>Opens an engine on the device the options ask for (GPU if usable under Auto, else CPU).</summary>
    /// <param name="options">Device, threads, plan cache and planning choices; null: the defaults (GPU if usable, every core, per-user plan cache).</param>
    /// <returns>The engine; dispose it to free its device resources and save its plans. <see cref="GpuUnavailableReason"/> says why the CPU path runs.</returns>
    /// <exception cref="ArgumentException">An option is out of range, or <see cref="ConvEngineOptions.Backend"/> names a backend that is not available here (the message says why).</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConvEngineOptions.Device"/> is Gpu and no GPU path is usable (the message says why).</exception>
    public static ConvEngine Open(ConvEngineOptions? options = null)
    {
        options ??= new ConvEngineOptions();
        options.Validate();
        var set = BackendCatalog.Create(options);
        return Adopt(options, set);
    }

    /// <summary>An engine over the given backends (tests, hosts with their own backends); it takes ownership of them.</summary>
    internal static ConvEngine Adopt(ConvEngineOptions options, BackendSet set)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(set);
        options.Validate();
        try
        {
            if (options.Backend is { } name && !set.Backends.Any(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase)))
                throw new ArgumentException(
                    $"Backend '{name}' is not available; available: {string.Join(", ", set.Backends.Select(b => b.Name))}" +
                    (set.GpuUnavailableReason is { } why ? $" (GPU backends are off: {why})."
                        : set.UnavailableBackends?.FirstOrDefault(kv => string.Equals(kv.Key, name, StringComparison.OrdinalIgnoreCase)) is { Value: { } off }
                            ? $" ({name} is off: {off})." : "."), nameof(ConvEngineOptions.Backend));
            return new ConvEngine(options, set);
        }
        catch
        {
            set.DisposeAll();
            throw;
        }
    }

    /// <summary>The options the engine was opened with.</summary>
    public ConvEngineOptions Options { get; }
    /// <summary>The planner that picks a backend and algorithm per problem.</summary>
    public Planner Planner { get; }
    /// <summary>The plan cache (in memory, and on disk when <see cref="ConvEngineOptions.PersistPlans"/> is true).</summary>
    public PlanCache Cache { get; }
    /// <summary>The engine's backends in heuristic order (priority, then name).</summary>
    public IReadOnlyList<IConvBackend> Backends => Planner.Backends;

    /// <summary>The device plans are made for (the GPU, or the CPU).</summary>
    public DeviceIdentity Device => backendSet.Device;

    /// <summary>Why no GPU backend is present, or null when one is.</summary>
    public string? GpuUnavailableReason => backendSet.GpuUnavailableReason;

    /// <summary>
    /// The GPU backends that are not present, each with a one-line reason: both when the GPU path is off
    /// (<see cref="GpuUnavailableReason"/>), or the one that could not open beside the other (cuDNN missing or its
    /// cudnnCreate failing leaves ptx; cuBLAS missing leaves cudnn). Empty when every GPU backend is present.
    /// </summary>
    public IReadOnlyDictionary<string, string> UnavailableBackends => backendSet.UnavailableBackends ?? EmptyReasons;

    static readonly IReadOnlyDictionary<string, string> EmptyReasons = new Dictionary<string, string>();

    /// <summary>The plan of the most recent operation on any thread (for diagnostics).</summary>
    public Plan? LastPlan => lastPlan;

    /// <summary>The plan the engine would use for <paramref name="problem"/> (memoised; for a padding mode, the plan of its <see cref="ConvProblem.ExplicitlyPadded"/> convolution). Throws <see cref="InvalidOperationException"/> if no candidate is allowed, <see cref="ObjectDisposedException"/> after Dispose.</summary>
    public Plan GetPlan(ConvProblem problem)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(problem);
        return Planner.GetPlan(problem);
    }

    /// <summary>Every candidate for <paramref name="problem"/> with its rank or time, status and why it lost (see <see cref="Planner.Explain"/>).</summary>
    public PlanExplanation Explain(ConvProblem problem)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(problem);
        return Planner.Explain(problem);
    }

    /// <summary>
    /// Runs <paramref name="problem"/> on tensors already in the memory of the backend that will run it
    /// (host tensors for CPU backends). Throws <see cref="ArgumentException"/> if the plan's backend
    /// lives in other memory; use the HostTensor operations to have the engine move data.
    /// </summary>
    public Plan Run(ConvProblem problem, ConvTensors tensors)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(tensors);
        var memory = tensors.X?.Memory ?? MemoryKind.Host;
        tensors.Validate(problem, memory);
        if (problem.Spec.HasPaddingMode) return RunPadded(problem, tensors, memory); // pad, then the unpadded convolution
        var space = memory == MemoryKind.Host ? HostMemorySpace.Instance : Memory;
        EnsureFits(problem, space, [tensors.X, tensors.W, tensors.Y], plan: null);
        problem = problem.WithConstantWeights(tensors.ConstantWeights); // planned for the calls as they run
        Plan ran;
        var call = new DirectCall(this, problem, tensors, memory);
        // Device tensors may be written by work on the application's stream (UseStream): ordered after it, like the device-resident calls.
        try
        {
            using (memory == MemoryKind.Device ? EnterStream() : default)
                ran = Planner.Execute(problem, ref call, static (Plan plan, IConvBackend backend, ref DirectCall c) =>
                {
                    if (backend.Memory.Kind != c.Memory)
                        throw new ArgumentException($"tensors are in {c.Memory} memory but the plan {plan.Algorithm.Key} runs on {backend.Memory.Kind} memory.", nameof(tensors));
                    c.Engine.EnsureFits(c.Problem, backend.Memory, [c.Tensors.X, c.Tensors.W, c.Tensors.Y], plan);
                    backend.Run(c.Problem, plan.Algorithm, c.Tensors);
                });
        }
        finally { Wrote(problem.Op switch { ConvOp.Forward => tensors.Y, ConvOp.BackwardData => tensors.X, _ => tensors.W }); }
        lastPlan = ran;
        return ran;
    }

    /// <summary>What <see cref="Run"/> needs inside the planner's Execute (a struct and a static lambda: no closure per call).</summary>
    readonly record struct DirectCall(ConvEngine Engine, ConvProblem Problem, ConvTensors Tensors, MemoryKind Memory);

    /// <summary>
    /// y = conv(x, w) + bias (transposed convolution when the spec says so). Filter in PyTorch layout.
    /// <paramref name="constantWeights"/>: the caller promises that w's data will not change (inference),
    /// so a backend may keep it prepared between calls (see <see cref="ConvTensors.ConstantWeights"/>).
    /// </summary>
    /// <param name="spec">Kernel, stride, dilation, padding, groups (and output padding when transposed).</param>
    /// <param name="x">Input, [N, C, spatial…].</param>
    /// <param name="w">Filter, [K, C/groups, kernel…] ([C, K/groups, kernel…] when transposed).</param>
    /// <param name="bias">One value per output channel, or null.</param>
    /// <param name="constantWeights">True when <paramref name="w"/>'s data will not change between calls.</param>
    /// <returns>y, a new host tensor of the output shape.</returns>
    /// <exception cref="ArgumentException">Shapes that do not fit the spec or each other (the message names the argument and the shapes).</exception>
    public HostTensor Forward(ConvSpec spec, HostTensor x, HostTensor w, HostTensor? bias = null, bool constantWeights = false)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        var problem = Problem(spec, x.Shape, w.Shape, ConvOp.Forward, nameof(x), nameof(w));
        CheckBias(problem, bias);
        // The layer input is the underlying X for a convolution, the underlying Y (= dy) for a transposed one.
        return spec.Transposed
            ? RunHost(problem, x: null, w, y: x, bias, out _, constantWeights: constantWeights)
            : RunHost(problem, x, w, y: null, bias, out _, constantWeights: constantWeights);
    }

    /// <summary>
    /// activation(conv(x, w) + bias), or activation(conv(x, w)) when <paramref name="bias"/> is null (a layer with
    /// bias=False, as before a batch norm). When the planned backend fuses it (cuDNN's bias-activation forward, which
    /// needs a bias; the CPU backend's epilogue) it runs as one call; otherwise the planned forward runs and the
    /// activation is applied here.
    /// <paramref name="constantWeights"/> as for <see cref="Forward(ConvSpec, HostTensor, HostTensor, HostTensor?, bool)"/>.
    /// </summary>
    public HostTensor ForwardBiasActivation(ConvSpec spec, HostTensor x, HostTensor w, HostTensor? bias, Activation activation, bool constantWeights = false)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (!IsActivation(activation))
            throw new ArgumentException($"activation {(int)activation} is not an Activation.", nameof(activation));
        var problem = Problem(spec, x.Shape, w.Shape, ConvOp.Forward, nameof(x), nameof(w));
        CheckBias(problem, bias);
        bool fused = false;
        var y = spec.Transposed
            ? RunHost(problem, x: null, w, y: x, bias, out _, constantWeights: constantWeights)
            : RunHost(problem, x, w, y: null, bias, out _, activation, onFused: () => fused = true, constantWeights: constantWeights);
        // The activation's element-wise loop in place (NaN stays NaN: a bad result must stay visible).
        if (activation != Activation.Identity && !fused)
        {
            Interlocked.Increment(ref separateActivationPasses);
            HostElementwise(ActivationOp(activation), y.Data, null, 0f, y.Data);
        }
        return y;
    }

    /// <summary>
    /// dx = ∂loss/∂x for a layer input of shape <paramref name="inputShape"/>, given dy = ∂loss/∂y (the layer output's
    /// shape) and the layer's weight w in PyTorch layout ([K, C/groups, k…], or [C_in, C_out/groups, k…] for a
    /// transposed spec). A new tensor on every call.
    /// </summary>
    /// <param name="spec">The forward convolution's spec.</param>
    /// <param name="dy">Gradient of the forward output.</param>
    /// <param name="w">The forward filter.</param>
    /// <param name="inputShape">Shape of the forward input x (and so of dx).</param>
    /// <param name="constantWeights">w will not change (a frozen layer that still passes gradients down, as in fine-tuning),
    /// so the CPU backend may keep it prepared between calls, as for <see cref="Forward(ConvSpec, HostTensor, HostTensor, HostTensor?, bool)"/>;
    /// leave it false for weights being trained.</param>
    /// <returns>dx, a new host tensor.</returns>
    /// <exception cref="ArgumentException">Shapes that do not fit the spec or each other (the message names the argument and the shapes).</exception>
    public HostTensor BackwardData(ConvSpec spec, HostTensor dy, HostTensor w, TensorShape inputShape, bool constantWeights = false)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(inputShape);
        var problem = Problem(spec, inputShape, w.Shape, ConvOp.BackwardData, nameof(inputShape), nameof(w));
        // Plain: underlying backward-data reads Y = dy. Transposed: underlying forward reads X = dy.
        CheckDyShape(dy, spec.Transposed ? problem.XShape : problem.YShape, spec, nameof(inputShape), inputShape);
        return spec.Transposed
            ? RunHost(problem, x: dy, w, y: null, bias: null, out _, constantWeights: constantWeights)
            : RunHost(problem, x: null, w, y: dy, bias: null, out _, constantWeights: constantWeights);
    }

    /// <summary>
    /// dw = ∂loss/∂w, summed over the batch, from the layer input x and dy = ∂loss/∂y. <paramref name="filterShape"/> is the
    /// weight's own shape in PyTorch layout: [K, C/groups, k…], or [C_in, C_out/groups, k…] for a transposed spec.
    /// A new tensor on every call: unlike PyTorch's <c>.grad</c>, nothing accumulates across calls.
    /// </summary>
    /// <param name="spec">The forward convolution's spec.</param>
    /// <param name="x">The forward input.</param>
    /// <param name="dy">Gradient of the forward output.</param>
    /// <param name="filterShape">Shape of the filter w (and so of dw).</param>
    /// <returns>dw, a new host tensor.</returns>
    /// <exception cref="ArgumentException">Shapes that do not fit the spec or each other (the message names the argument and the shapes).</exception>
    public HostTensor BackwardFilter(ConvSpec spec, HostTensor x, HostTensor dy, TensorShape filterShape)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(filterShape);
        var problem = Problem(spec, x.Shape, filterShape, ConvOp.BackwardFilter, nameof(x), nameof(filterShape));
        // Transposed: the layer input plays the underlying dy (Y) and its output gradient the underlying x (X).
        CheckDyShape(dy, spec.Transposed ? problem.XShape : problem.YShape, spec, nameof(x), x.Shape);
        return spec.Transposed
            ? RunHost(problem, x: dy, w: null, y: x, bias: null)
            : RunHost(problem, x, w: null, y: dy, bias: null);
    }

    /// <summary>db[c] = ∂loss/∂bias[c] = sum of dy[n, c, …] over batch and spatial positions (float64 accumulation); db has shape [C].</summary>
    public HostTensor BackwardBias(HostTensor dy)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(dy);
        if (dy.Shape.Rank < 2)
            throw new ArgumentException($"dy must be [N, C, …] (rank >= 2), got shape {dy.Shape}.", nameof(dy));
        var db = new HostTensor(new TensorShape(dy.Shape.C));
        CpuBias.Gradient(dy.Shape, dy.Data, db.Data);
        return db;
    }

    /// <summary>
    /// Runs the user-level <paramref name="op"/> for layer input <paramref name="x"/> and filter
    /// <paramref name="w"/> through the plan and through <see cref="ReferenceConv"/> on the same data,
    /// and reports the difference. For the backward ops the output gradient dy is random (from
    /// <paramref name="seed"/>); for backward-filter <paramref name="w"/> only gives the filter shape.
    /// A bias is allowed for the forward op only.
    /// </summary>
    public ValidationReport Validate(ConvSpec spec, HostTensor x, HostTensor w, HostTensor? bias = null, ConvOp op = ConvOp.Forward, int seed = 1)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (!Enum.IsDefined(op))
            throw new ArgumentException($"op {(int)op} is not a ConvOp.", nameof(op));
        if (bias is not null && op != ConvOp.Forward)
            throw new ArgumentException($"bias applies to the forward op only, got op {op}.", nameof(bias));
        var problem = Problem(spec, x.Shape, w.Shape, op, nameof(x), nameof(w));
        CheckBias(problem, bias);

        // Underlying tensors: the layer input is X (plain) or Y (transposed); dy is the other one.
        bool transposed = spec.Transposed;
        HostTensor? ux = transposed ? null : x, uy = transposed ? x : null;
        if (op != ConvOp.Forward)
        {
            var dy = HostTensor.Random(transposed ? problem.XShape : problem.YShape, seed);
            if (transposed) ux = dy; else uy = dy;
        }
        var uw = problem.Op == ConvOp.BackwardFilter ? null : w;
        var result = RunHost(problem, ux, uw, uy, bias, out var plan);
        double[] reference = ReferenceConv.Run(problem,
            ux is null ? [] : ux.Data, uw is null ? [] : uw.Data, uy is null ? [] : uy.Data, bias is null ? [] : bias.Data);
        return new ValidationReport(problem, plan, ErrorMetrics.Compare(result.Data, reference));
    }

    HostTensor RunHost(ConvProblem problem, HostTensor? x, HostTensor? w, HostTensor? y, HostTensor? bias) =>
        RunHost(problem, x, w, y, bias, out _);

    /// <summary>
    /// Runs the problem on host tensors: the one the op writes is passed as null and allocated here.
    /// Host-memory backends get the tensors as they are; others get copies in their memory space.
    /// </summary>
    HostTensor RunHost(ConvProblem problem, HostTensor? x, HostTensor? w, HostTensor? y, HostTensor? bias, out Plan plan,
        Activation? fuse = null, Action? onFused = null, bool constantWeights = false)
    {
        if (problem.Spec.HasPaddingMode) return RunHostPadded(problem, x, w, y, bias, out plan, fuse, onFused, constantWeights);
        // Refused before the output, the staged copies or any benchmark buffers exist; again below with the plan's workspace.
        EnsureFits(problem, Memory, [x, w, y], plan: null);
        problem = problem.WithConstantWeights(constantWeights);
        var output = HostTensor.Uninitialized(problem.OutputShape);
        switch (problem.Op)
        {
            case ConvOp.Forward: y = output; break;
            case ConvOp.BackwardData: x = output; break;
            default: w = output; break;
        }
        // The promise covers the caller's host w only; staged device copies live for one call.
        var host = new ConvTensors(x!, w!, y!, bias) { ConstantWeights = constantWeights };
        plan = Planner.Execute(problem, (p, backend) =>
        {
            EnsureFits(problem, backend.Memory, [host.X, host.W, host.Y], p);
            void Run(ConvTensors t)
            {
                // A fusing backend may take bias + activation in the same call; if it declines, a plain run.
                if (fuse is { } act && backend is IFusedBiasActivation f && f.TryRunBiasActivation(problem, p.Algorithm, t, act))
                    onFused?.Invoke();
                else
                    backend.Run(problem, p.Algorithm, t);
            }
            if (ReferenceEquals(backend.Memory, HostMemorySpace.Instance))
                Run(host);
            else
            {
                // Staged copies come from the pool the application's stream may still be using (UseStream): ordered after it.
                using (EnterStream())
                    StagedRun.Run(problem, backend, host, HostMemorySpace.Instance, output, t => { Run(t); return true; });
            }
        });
        lastPlan = plan;
        return output;
    }

    /// <summary>
    /// Problems already built, by the arguments they were built from: a warm call finds its problem here instead of
    /// validating and deriving the output shape again (~300 B of arrays and shapes per call). Only valid problems
    /// are stored; every part of the key is immutable. Bounded: cleared when full (a network has far fewer layers).
    /// </summary>
    readonly ConcurrentDictionary<ProblemArgs, ConvProblem> problems = new();
    const int MaxRememberedProblems = 1024;

    readonly record struct ProblemArgs(ConvSpec Spec, TensorShape Input, TensorShape Filter, ConvOp Op);

    /// <summary><see cref="CreateProblem"/>, remembered per engine (see <see cref="problems"/>).</summary>
    ConvProblem Problem(ConvSpec spec, TensorShape input, TensorShape filter, ConvOp op, string inputName, string filterName)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(filter);
        var args = new ProblemArgs(spec, input, filter, op);
        if (problems.TryGetValue(args, out var known)) return known;
        var problem = CreateProblem(spec, input, filter, op, inputName, filterName);
        if (problems.Count >= MaxRememberedProblems) problems.Clear();
        problems[args] = problem;
        return problem;
    }

    /// <summary>ConvProblem.Create with its parameter names translated to this method's argument names.</summary>
    static ConvProblem CreateProblem(ConvSpec spec, TensorShape input, TensorShape filter, ConvOp op, string inputName, string filterName)
    {
        try
        {
            return ConvProblem.Create(spec, input, filter, op);
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            var name = e.ParamName switch
            {
                "input" or "inputSpatial" => inputName,
                "filter" => filterName,
                _ => "spec",
            };
            var message = e.ParamName is { } p && e.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal)
                ? e.Message[..^$" (Parameter '{p}')".Length] : e.Message;
            throw new ArgumentException(message, name, e);
        }
    }

    static void CheckBias(ConvProblem problem, HostTensor? bias)
    {
        if (bias is null) return;
        if (bias.Shape.Rank != 1 || bias.Shape[0] != problem.BiasLength)
            throw new ArgumentException($"bias must have shape [{problem.BiasLength}] (one value per output channel), got {bias.Shape}.", nameof(bias));
    }

    /// <summary>
    /// A backward call's dy must have the layer output's shape for the input shape the caller gave; the message shows
    /// that input, since the mistake is as often there (a wrong inputShape or x) as in dy.
    /// </summary>
    static void CheckDyShape(Tensor dy, TensorShape expected, ConvSpec spec, string inputName, TensorShape input)
    {
        ArgumentNullException.ThrowIfNull(dy);
        if (!dy.Shape.Equals(expected))
            throw new ArgumentException($"dy has shape {dy.Shape}, expected {expected} (the output shape of {spec} for {inputName} {input}).", nameof(dy));
    }

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <summary>Saves the plan cache and disposes the backends.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeDeviceResident();
        scratch.Dispose();
        Cache.Save();
        backendSet.DisposeAll();
    }
}
