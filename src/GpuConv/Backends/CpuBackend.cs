using System.Diagnostics;
using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.BackwardData;
using GpuConv.Cpu.BackwardFilter;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;
using GpuConv.Cpu.Winograd;
using GpuConv.Tensors;

namespace GpuConv.Backends;

/// <summary>
/// The fast CPU backend ("cpu"): implicit GEMMs — channel-tiled (vectors along output channels,
/// AVX-512), shifted (padded input planes read at tap offsets), im2col packed straight into GEMM panels,
/// and plain GEMM for 1x1 — on a cache-blocked SIMD GEMM core (Vector512 → Vector256 → Vector128 →
/// scalar), a direct kernel for depthwise; backward-data as forward convolutions of dy on those kernels, one
/// per stride phase (forward-phases), as one GEMM and a pixel shuffle where stride == kernel (gemm-shuffle),
/// as a GEMM over dy's pixels streaming W once for small dy planes (weight-stream), or GEMM + col2im;
/// backward-filter as dWᵀ = col(x) · dyᵀ over chunks of the reduction split across tasks (reduction-split; for
/// some 1x1 layers and stems on AVX-512, dot products of rows read in place), a
/// direct kernel for depthwise, or im2col + GEMM. Runs on up to
/// <see cref="MaxDegreeOfParallelism"/> threads (persistent workers that spin briefly between runs);
/// steady-state runs reuse their workspaces and allocate nothing (the parallel loops take struct bodies, no closures).
/// </summary>
public sealed unsafe partial class CpuBackend : IConvBackend, IFusedBiasActivation
{
    /// <summary>The backend's name, "cpu".</summary>
    public const string BackendName = "cpu";
    /// <summary>Algorithm name: im2col packed into GEMM panels, then a GEMM (forward and backward-filter).</summary>
    public const string Im2ColGemm = "im2col-gemm";
    /// <summary>Algorithm name: GEMM with the transposed weights, then col2im (backward-data).</summary>
    public const string GemmCol2Im = "gemm-col2im";
    /// <summary>Algorithm name: one plain GEMM per image for 1x1 unit-stride unpadded convolutions.</summary>
    public const string Gemm1x1 = "gemm-1x1";
    /// <summary>Algorithm name: direct depthwise kernel.</summary>
    public const string DirectDepthwise = "direct-depthwise";
    /// <summary>Algorithm name: GEMMs over zero-padded input planes read at each tap's offset.</summary>
    public const string ShiftedGemm = "shifted-gemm";
    /// <summary>Algorithm name: implicit GEMM with vectors along the output channels.</summary>
    public const string ChannelTiled = "channel-tiled";
    /// <summary>Algorithm name: Winograd F(2x2, 3x3) for 2-D 3x3 stride-1 forward convolutions.</summary>
    public const string Winograd = "winograd";
    /// <summary>Algorithm name: Winograd F(4x4, 3x3) for 2-D 3x3 stride-1 forward convolutions (4× fewer multiplies than direct; 6 × 6 transforms).</summary>
    public const string Winograd4x4 = "winograd-4x4";
    /// <summary>Algorithm name: shifted-gemm tiled by output rows, tiles stored straight into y (shallow sums, wide rows; AVX-512).</summary>
    public const string ShiftedDirect = "shifted-direct";
    /// <summary>Algorithm name: backward-data as forward convolutions of dy, one per stride phase, on the forward kernels (see TransposedByPhases).</summary>
    public const string ForwardPhases = "forward-phases";
    /// <summary>Algorithm name: backward-data with stride == kernel (one tap per dx position) as one GEMM and a pixel shuffle (see GemmPixelShuffle).</summary>
    public const string GemmShuffle = "gemm-shuffle";
    /// <summary>Algorithm name: backward-data for small dy planes as one GEMM per block of dx's channels with dy's pixels as rows (W streamed once), then col2im (see WeightStreamBackwardData).</summary>
    public const string WeightStream = "weight-stream";
    /// <summary>Algorithm name: backward-filter as dWᵀ = col(x) · dyᵀ over L2-sized chunks of the reduction, split across tasks where dW is small (see ReductionSplitFilter).</summary>
    public const string ReductionSplit = "reduction-split";

    readonly CpuWorkers _workers;
    readonly WorkspaceSet _shared = new();
    readonly PackedWeightCache _weightCache = new();
    readonly PackedWeightCache _winogradWeights = new();     // U = G w Gᵀ as channel panels, per constant W
    readonly PackedWeightCache _winograd4Weights = new();    // the same for F(4x4, 3x3) (36 sets; a W may run both)
    readonly WorkspaceSet _phaseScratch = new();             // forward-phases: a phase's output and its per-call sub-kernel
    readonly ConditionalWeakTable<float[], PhaseWeights> _phaseWeights = new();   // forward-phases' sub-kernels of a constant W
    readonly Dictionary<ConvProblem, TransposedByPhases?> _phasePlans = [];
    readonly ConditionalWeakTable<float[], TransposedWeights> _shuffleWeights = new();   // gemm-shuffle's Wᵀ of a constant W
    readonly ConditionalWeakTable<float[], StreamWeights> _streamWeights = new();        // weight-stream's packed W of a constant W
    TransposedByPhases? _lastPlan;
    readonly List<float[]> _accumulateScratch = [];           // ConvTensors.Accumulate: the result before it is added, per output length
    readonly object _runLock = new();
    readonly CpuConvContext _context;
    bool _disposed;

    /// <summary>
    /// Most threads a backend may be given: each is a persistent worker with its own workspace and counters
    /// (int.MaxValue overflowed their sizes into an OverflowException).
    /// </summary>
    public const int MaxThreads = 1024;

    /// <param name="maxDegreeOfParallelism">Threads a run may use (1..<see cref="MaxThreads"/>); null or -1 = every core.</param>
    /// <param name="tier">GEMM SIMD tier to use (default: the widest accelerated one); tests force lower tiers.</param>
    public CpuBackend(int? maxDegreeOfParallelism = null, GemmTier? tier = null)
    {
        int threads = maxDegreeOfParallelism ?? -1;
        Tier = tier ?? GemmTiers.Best;
        if (!GemmTiers.IsSupported(Tier))
            throw new ArgumentException($"GEMM tier {Tier} is not accelerated here (best is {GemmTiers.Best}).", nameof(tier));
        if (threads == 0 || threads < -1 || threads > MaxThreads)
            throw new ArgumentException($"maxDegreeOfParallelism must be in 1..{MaxThreads} or -1 (all cores), got {threads}.", nameof(maxDegreeOfParallelism));
        MaxDegreeOfParallelism = threads == -1 ? Environment.ProcessorCount : threads;
        _workers = new CpuWorkers(MaxDegreeOfParallelism);
        _context = new CpuConvContext(_workers, _shared, Tier);
    }

    /// <inheritdoc/>
    public string Name => BackendName;
    /// <inheritdoc/>
    public IMemorySpace Memory => HostMemorySpace.Instance;
    /// <inheritdoc/>
    public int Priority => 50;
    /// <summary>The backend's worker threads, which the engine's host element-wise ops share (see ParallelElementwise).</summary>
    internal CpuWorkers Workers => _workers;
    /// <summary>Threads one run may use (resolved: -1 became <see cref="Environment.ProcessorCount"/>).</summary>
    public int MaxDegreeOfParallelism { get; }
    /// <summary>The SIMD width the GEMM core uses.</summary>
    public GemmTier Tier { get; }

    /// <summary>Bytes the per-thread workspaces hold now (they grow to the largest run and stay).</summary>
    public long WorkspaceBytesHeld => _workers.BytesHeld + _shared.BytesHeld + _phaseScratch.BytesHeld + AccumulateScratchBytes;

    /// <summary>Bytes the accumulating runs' held result arrays take (see <see cref="AccumulateScratch"/>). Under the run lock.</summary>
    long AccumulateScratchBytes
    {
        get
        {
            lock (_runLock)
            {
                long floats = 0;
                foreach (var a in _accumulateScratch) floats += a.LongLength;
                return floats * sizeof(float);
            }
        }
    }

    /// <inheritdoc/>
    public string? WhyUnsupported(ConvProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Spec.HasPaddingMode) return $"padding mode {problem.Spec.PaddingMode}: zero padding only (the engine pads the input and plans the unpadded convolution)";
        foreach (var (shape, name) in new[] { (problem.XShape, "X"), (problem.WShape, "W"), (problem.YShape, "Y") })
            if (shape.ElementCount > Array.MaxLength)
                return $"tensor {name} {shape} has more elements than a host array holds ({Array.MaxLength}).";
        return null;
    }

    /// <inheritdoc/>
    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) => Run(problem, algorithm, tensors, Activation.Identity);

    /// <summary>
    /// A forward run with the activation applied by the convolution's own tasks, each to the output region it has just
    /// written (conv + bias, or for an accumulating run y_old + (conv + bias)), so no separate pass reads the output again.
    /// The same bits as <see cref="Run(ConvProblem, ConvAlgorithm, ConvTensors)"/> followed by the element-wise activation:
    /// every element gets the same float value and then the same IEEE operations (see <see cref="CpuActivation"/>).
    /// Declines (false) for the other ops: the engine never asks for them.
    /// </summary>
    bool IFusedBiasActivation.TryRunBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Op != ConvOp.Forward) return false;
        Run(problem, algorithm, tensors, activation);
        return true;
    }

    /// <summary><see cref="Run(ConvProblem, ConvAlgorithm, ConvTensors)"/> with the forward activation <paramref name="activation"/> fused.</summary>
    void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(tensors);
        if (algorithm.Backend != BackendName)
            throw new ArgumentException($"algorithm {algorithm.Key} belongs to backend '{algorithm.Backend}', not '{BackendName}'.", nameof(algorithm));
        if (!Applies(problem, algorithm.Name))
            throw new ArgumentException($"algorithm {algorithm.Key} does not apply to {problem}; candidates: {string.Join(", ", GetAlgorithms(problem, ConvPrecision.Strict))}.", nameof(algorithm));
        tensors.Validate(problem, MemoryKind.Host, paddingModes: false);
        float[] x = Host(tensors.X), w = Host(tensors.W), y = Host(tensors.Y);
        float[]? bias = tensors.Bias is null ? null : Host(tensors.Bias);
        lock (_runLock)      // the shared scratch and the run context serve one run at a time
        {
            float[] output = problem.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
            try
            {
                if (!tensors.Accumulate) RunArrays(problem, algorithm, x, w, y, bias, tensors.ConstantWeights, activation);
                else RunAccumulating(problem, algorithm, x, w, y, bias, tensors.ConstantWeights, output, activation);
            }
            finally { Written(output); } // a constant W this run wrote (dw into it, say) is prepared again from its new data
        }
    }

    /// <summary>Floats per step of <see cref="AddThenActivate"/>: a multiple of 64, 16 KiB of each operand, in L1.</summary>
    const int AccumulateStep = 4096;

    /// <summary>
    /// output += result, then act(output), step by step so each step's sums are still in L1 when the activation reads them.
    /// The sums are today's (output + result, the same VectorOps.Add: steps are multiples of 64 floats, so its vector parts
    /// fall where they fall over the whole array) and the activation reads those very floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AddThenActivate(float* output, float* result, nint length, Activation act)
    {
        if (act == Activation.Identity)
        {
            VectorOps.Add(output, result, length);
            return;
        }
        for (nint i = 0; i < length; i += AccumulateStep)
        {
            nint step = Math.Min(AccumulateStep, length - i);
            VectorOps.Add(output + i, result + i, step);
            CpuActivation.Apply(act, output + i, step);
        }
    }

    /// <summary>
    /// Accumulate: the result goes into a held scratch array in place of the output, then is added to it (and the forward
    /// activation applied to the sums) — on the workers in chunks of whole steps where the output has at least
    /// <see cref="MinParallelAccumulateSteps"/> steps: on the calling thread alone it was a serial phase after every
    /// residual layer (ResNet-50 at two threads: its 16 adds 20–60 µs each slower, 0.4–2.9 ms a network). Under the run lock.
    /// </summary>
    void RunAccumulating(ConvProblem problem, ConvAlgorithm algorithm, float[] x, float[] w, float[] y, float[]? bias, bool constant, float[] output,
        Activation activation)
    {
        float[] result = AccumulateScratch(output.Length);
        switch (problem.Op)
        {
            case ConvOp.Forward: RunArrays(problem, algorithm, x, w, result, bias, constant); break;
            case ConvOp.BackwardData: RunArrays(problem, algorithm, result, w, y, bias, constant); break;
            default: RunArrays(problem, algorithm, x, result, y, bias, constant); break;
        }
        fixed (float* pOut = output, pResult = result)
        {
            int steps = (output.Length + AccumulateStep - 1) / AccumulateStep;
            if (_workers.Threads > 1 && steps >= MinParallelAccumulateSteps)
            {
                // Chunks of whole steps: each step is the one the calling thread alone would run, so the bits are its.
                int perTask = Math.Max(1, steps / (_workers.Threads * AccumulateTasksPerThread));
                _workers.For((steps + perTask - 1) / perTask,
                    new AccumulateChunks((nint)pOut, (nint)pResult, output.Length, perTask * AccumulateStep, activation));
            }
            else AddThenActivate(pOut, pResult, output.Length, activation);
        }
    }

    /// <summary>Steps below which an accumulating run's add stays on the calling thread: 16 Ki floats take a few µs.</summary>
    internal const int MinParallelAccumulateSteps = 4;

    /// <summary>Chunks per thread of a parallel add, so a late thread's share is taken over.</summary>
    const int AccumulateTasksPerThread = 4;

    /// <summary>Chunk t of an accumulating run's add: output += result over it, then the activation, step by step.</summary>
    readonly struct AccumulateChunks(nint output, nint result, int length, int chunk, Activation activation) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            nint start = (nint)task * chunk;
            AddThenActivate((float*)output + start, (float*)result + start, Math.Min(chunk, length - start), activation);
        }
    }

    /// <summary>The run itself on the tensors' arrays (under the run lock); writes the op's output array.</summary>
    /// <remarks><paramref name="activation"/> (forward only) is applied by the kernels' tasks, or after the float64 reference.</remarks>
    void RunArrays(ConvProblem problem, ConvAlgorithm algorithm, float[] x, float[] w, float[] y, float[]? bias, bool constant, Activation activation = Activation.Identity)
    {
        if (constant && problem.Op != ConvOp.BackwardFilter) MarkPrepared(w); // backward-filter writes W: nothing of it is prepared
        fixed (float* px = x, pw = w, py = y, pb = bias)
        {
            float* pbias = bias is null ? null : pb;
            if (PaddingMeetsNonFinite(problem, px, pw, py, w, constant))
            {
                RunByReference(problem, x, w, y, bias);
                CpuActivation.Apply(activation, py, y.Length);
            }
            else if (algorithm.Name == ForwardPhases)
                RunPhases(PlanOf(problem)!, px, pw, py, pbias, w, constant);
            else
                Execute(problem, algorithm.Name, px, pw, py, pbias, w, constant, activation: activation);
        }
    }

    /// <summary>Output lengths whose accumulate arrays are held at once: a network's residual adds come in a few sizes.</summary>
    internal const int AccumulateScratchLengths = 8;

    /// <summary>
    /// The array an accumulating run computes its result in: held between runs, one per output length (up to
    /// <see cref="AccumulateScratchLengths"/>, the longest-unused dropped first), so steady-state accumulating runs allocate
    /// nothing large even where the sizes alternate. With one array of the last length, MobileNetV2's residual adds (5 sizes)
    /// allocated 561 KB per image, zeroed, in the large-object heap. Under the run lock.
    /// </summary>
    float[] AccumulateScratch(int length)
    {
        var held = _accumulateScratch;
        for (int i = 0; i < held.Count; i++)
        {
            var a = held[i];
            if (a.Length != length) continue;
            if (i != held.Count - 1)
            {
                held.RemoveAt(i); // the most recently used last
                held.Add(a);
            }
            return a;
        }
        if (held.Count == AccumulateScratchLengths) held.RemoveAt(0);
        var fresh = new float[length];
        held.Add(fresh);
        return fresh;
    }

    /// <summary>
    /// One run of a named algorithm on pinned tensors, under the run lock. <paramref name="w"/> keys the
    /// prepared-weight caches when <paramref name="constant"/> (it may be null otherwise). Channel-tiled takes
    /// <paramref name="panels"/> where given (then <paramref name="pw"/> is unused; Winograd given panels runs channel-tiled),
    /// or per-call weights' panel rows from <paramref name="rows"/>.
    /// </summary>
    void Execute(ConvProblem problem, string algorithm, float* px, float* pw, float* py, float* pb, float[]? w, bool constant, float* panels = null,
        Activation activation = Activation.Identity, IPanelRows? rows = null)
    {
        var ctx = _context;
        ctx.Begin(problem, px, pw, py, pb, activation);
        try
        {
            switch (problem.Op, algorithm)
            {
                case (ConvOp.Forward, DirectDepthwise): CpuForward.Depthwise(ctx); break;
                case (ConvOp.Forward, Gemm1x1): CpuForward.Im2ColGemm(ctx, pointwise: true); break;
                case (ConvOp.Forward, ShiftedGemm): Cpu.Shifted.ShiftedGemm.Forward(ctx); break;
                case (ConvOp.Forward, ShiftedDirect): Cpu.Shifted.ShiftedDirect.Forward(ctx); break;
                case (ConvOp.Forward, ChannelTiled): ChannelTiledConv.Forward(ctx, panels != null ? panels : ChannelPanelsOf(ctx, w, constant), rows); break;
                // W is transformed once when constant, else on every call (the planner offers that where it pays, see
                // GetAlgorithms). A non-finite x or w runs direct, where ±Inf stays ±Inf (see Winograd3x3.Exact).
                // Finite inputs whose sums overflow: the transforms make Inf − Inf = NaN where the direct sum has ±Inf, so
                // where the inputs' magnitudes allow overflow at all, a non-finite output is computed again directly.
                case (ConvOp.Forward, Winograd) when panels == null && Winograd3x3.Exact(ctx, WeightMagnitude(w!, ctx.W, problem.WShape.ElementCount, constant), out bool mayOverflow):
                    // Where sums may overflow, the check below reads conv + bias: the activation comes after it.
                    if (mayOverflow) ctx.Activation = Activation.Identity;
                    // The AVX2 variants share the transformed weights (same filter transform, same panels).
                    if (ctx.Tier == GemmTier.Vector512) Winograd3x3.Forward<F2x2>(ctx, WinogradPanelsOf<F2x2>(ctx, w, _winogradWeights, constant));
                    else Winograd3x3.Forward<F2x2Avx2>(ctx, WinogradPanelsOf<F2x2>(ctx, w, _winogradWeights, constant));
                    RedoOverflowed(ctx, w, constant, mayOverflow, activation);
                    break;
                case (ConvOp.Forward, Winograd4x4) when panels == null && Winograd3x3.Exact(ctx, WeightMagnitude(w!, ctx.W, problem.WShape.ElementCount, constant), out bool mayOverflow):
                    if (mayOverflow) ctx.Activation = Activation.Identity;
                    if (ctx.Tier == GemmTier.Vector512) Winograd3x3.Forward<F4x4>(ctx, WinogradPanelsOf<F4x4>(ctx, w, _winograd4Weights, constant));
                    else Winograd3x3.Forward<F4x4Avx2>(ctx, WinogradPanelsOf<F4x4>(ctx, w, _winograd4Weights, constant));
                    RedoOverflowed(ctx, w, constant, mayOverflow, activation);
                    break;
                case (ConvOp.Forward, Winograd or Winograd4x4): ChannelTiledConv.Forward(ctx, panels != null ? panels : ChannelPanelsOf(ctx, w, constant: false)); break;
                case (ConvOp.Forward, _): CpuForward.Im2ColGemm(ctx, pointwise: false); break;
                case (ConvOp.BackwardData, DirectDepthwise): Cpu.Depthwise.DepthwiseBackwardDataStride2.Run(ctx); break;
                case (ConvOp.BackwardData, Gemm1x1): CpuBackwardData.Gemm1x1(ctx); break;
                case (ConvOp.BackwardData, WeightStream): WeightStreamBackwardData.Run(ctx, StreamWeightsOf(problem, pw, w, constant)); break;
                case (ConvOp.BackwardData, GemmShuffle): GemmPixelShuffle.Run(ctx, GemmPixelShuffle.TakesTransposed(problem) ? ShuffleWeightsOf(problem, pw, w, constant) : null); break;
                case (ConvOp.BackwardData, _): CpuBackwardData.GemmCol2Im(ctx); break;
                case (ConvOp.BackwardFilter, DirectDepthwise): DepthwiseFilterGradient.Run(ctx); break;
                case (ConvOp.BackwardFilter, ReductionSplit): ReductionSplitFilter.Run(ctx, problem.IsPointwise); break;
                case (ConvOp.BackwardFilter, Gemm1x1): CpuBackwardFilter.Im2ColGemm(ctx, pointwise: true); break;
                default: CpuBackwardFilter.Im2ColGemm(ctx, pointwise: false); break;
            }
        }
        finally { ctx.End(); }
    }

    /// <summary>
    /// Backward-data as forward runs of dy, one per phase (see <see cref="TransposedByPhases"/>): each phase's
    /// sub-kernel is transformed per call into scratch (a one-phase plan's channel-tiled forward writes its panel rows
    /// from W as it goes), or once per constant W and cached; each sub-run
    /// takes the forward algorithm the heuristic picks for it, with the bias of dx's channels; a strided
    /// problem's phases go into one temporary, scattered into dx in one pass.
    /// </summary>
    void RunPhases(TransposedByPhases plan, float* dx, float* pw, float* dy, float* bias, float[] w, bool constant)
    {
        float[]?[]? cached = constant ? PhaseWeightsOf(plan, w, pw) : null;
        float* temp = plan.Direct ? null : _phaseScratch.Get(WorkspaceSlot.Columns, plan.TempFloats);
        // One phase on channel-tiled, per-call weights: its forward writes its panel rows from W itself, a chunk at a time.
        var direct = plan.Phases[0];
        PhasePanelRows? rows = cached is null && plan.Direct && direct.Panels ? direct.Rows ??= new PhasePanelRows(plan, direct) : null;
        if (rows is not null) rows.W = pw;
        else if (cached is null)
        {
            float* scratchW = _phaseScratch.Get(WorkspaceSlot.PackA, plan.ScratchFloats);
            for (int i = 0; i < plan.Phases.Length; i++) plan.Destinations[i] = (nint)(scratchW + plan.Phases[i].ScratchOffset);
            plan.TransformWeights(_workers, pw, plan.Destinations, panels: true);
        }
        for (int i = 0; i < plan.Phases.Length; i++)
        {
            var ph = plan.Phases[i];
            if (ph.Sub is not { } sub) continue;
            float* output = plan.Direct ? dx : temp + ph.TempOffset;
            if (cached is not null)
            {
                fixed (float* pk = cached[i])
                    Execute(sub, ph.Algorithm, dy, pk, output, bias, cached[i], constant: true);
            }
            else if (rows is not null)
                Execute(sub, ph.Algorithm, dy, null, output, bias, null, constant: false, rows: rows);
            else if (ph.Panels)
                Execute(sub, ph.Algorithm, dy, null, output, bias, null, constant: false, (float*)plan.Destinations[i]);
            else
                Execute(sub, ph.Algorithm, dy, (float*)plan.Destinations[i], output, bias, null, constant: false);
        }
        if (!plan.Direct) plan.Scatter(_workers, temp, dx, bias);
    }

    /// <summary>Milliseconds of one <see cref="Run(ConvProblem, ConvAlgorithm, ConvTensors)"/>, by stopwatch.</summary>
    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        long start = Stopwatch.GetTimestamp();
        Run(problem, algorithm, tensors);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Stops the worker threads; later runs throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _workers.Dispose();
    }

    static float[] Host(Tensor t) => t is HostTensor h ? h.Data
        : throw new ArgumentException($"the cpu backend needs host tensors, got {t.GetType().Name}.", nameof(t));

    /// <summary>
    /// After a Winograd run whose inputs could overflow fp32: a non-finite y is computed again by channel-tiled (+Inf, not NaN).
    /// Such a run went without its activation (the check must see conv + bias: ReLU would turn a wrong -Inf into 0), so it is applied here, in one pass.
    /// </summary>
    void RedoOverflowed(CpuConvContext ctx, float[]? w, bool constant, bool mayOverflow, Activation activation)
    {
        if (!mayOverflow) return;
        if (!VectorOps.AllFinite(ctx.Y, ctx.Problem.YShape.ElementCount))
            ChannelTiledConv.Forward(ctx, ChannelPanelsOf(ctx, w, constant));
        CpuActivation.Apply(activation, ctx.Y, (nint)ctx.Problem.YShape.ElementCount);
    }
}
