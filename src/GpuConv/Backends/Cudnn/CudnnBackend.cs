using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// The "cudnn" backend: cuDNN 9's (legacy) convolution API. Every algorithm cuDNN's heuristic (Get_v7,
/// asked for cudnnGet*AlgorithmMaxCount entries) reports as usable for the op is a candidate, in cuDNN's
/// order, with its workspace and determinism; one whose workspace-size query fails is dropped.
/// Strict precision sets CUDNN_FMA_MATH (no TF32) and keeps the entries that are not tensor-op kernels;
/// with TF32 allowed, every successful entry of the query on a TENSOR_OP descriptor is a TF32 candidate
/// too (cuDNN tags some FP32 entries of that query DEFAULT_MATH). The candidate's math type is set on
/// the descriptor before every call (as PyTorch does). An algorithm cuDNN refuses when run (NOT_SUPPORTED,
/// BAD_PARAM, EXECUTION_FAILED) raises <see cref="AlgorithmDeclinedException"/>, so the planner moves on.
/// <para>
/// Strict and the transform algorithms: Strict means FP32 arithmetic with FP32 inputs — no TF32 or other
/// reduced-precision tensor-op inputs — as PyTorch's <c>allow_tf32 = False</c> does. Like PyTorch it keeps
/// cuDNN's FFT, FFT_TILING, WINOGRAD and WINOGRAD_NONFUSED algorithms: they compute in FP32 but through
/// a transform, so their error bound is looser (<see cref="CudnnAlgorithmNames.IsTransformBased"/>;
/// the GPU tests hold them to 1e-4 of the largest output instead of 1e-5). A caller that needs the
/// direct-sum error bound filters them by name.
/// </para>
/// Ranks 1–3 (1-d as 2-d with height 1), groups, dilation, stride; asymmetric padding through an
/// explicit padded copy (<see cref="CudnnPaddingPlan"/>). One cuDNN handle bound to the host's stream,
/// descriptors cached per problem geometry: cuDNN forbids using one handle from two threads at once, and
/// the math type lives on the shared descriptor, so every entry point holds one lock.
/// <para>
/// Graph-API candidates: after the legacy ones, the engine configs of cuDNN's backend API (the route PyTorch 2.x
/// takes) for problems with symmetric padding, named <c>GRAPH_E…</c> (<see cref="CudnnGraphCandidates"/>,
/// off with <c>GPUCONV_CUDNN_GRAPH=0</c>).
/// </para>
/// </summary>
internal sealed unsafe class CudnnBackend : IConvBackend, IFusedBiasActivation, IStreamOrderedBackend
{
    public const string BackendName = "cudnn";
    const int MaxCachedGeometries = 256;
    const long Alignment = 256;

    readonly ICudnnHost _host;
    readonly ICudnnApi _api;
    readonly CudnnHandle _handle;
    readonly Dictionary<ConvProblem, CudnnDescriptors> _descriptors = [];
    readonly Dictionary<TensorShape, (CudnnTensorDescriptor Dy, CudnnTensorDescriptor Db)> _biasGradientDescriptors = [];
    readonly object _gate = new();
    readonly CudnnGraphCandidates? _graph;
    bool _disposed;

    public CudnnBackend(ICudnnHost host)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        using var current = _host.EnterContext();
        _handle = host.CreateCudnnHandle();
        _api = _handle.Api;
        Version = VersionString(_api.GetVersion());
        _graph = CudnnGraphCandidates.TryCreate(_handle, out string? graphOff);
        GraphCandidatesOff = graphOff;
    }

    /// <summary>Why the backend offers no graph-API candidates (environment, library), or null when it does.</summary>
    public string? GraphCandidatesOff { get; }

    public string Name => BackendName;
    public IMemorySpace Memory => _host.Memory;
    public int Priority => 0;
    /// <summary>The loaded cuDNN's version, e.g. "9.10.2".</summary>
    public string Version { get; }

    /// <summary>Why the last fused call was declined (cuDNN's status and message), for reports; null if none was.</summary>
    public string? LastFusedDecline { get; private set; }

    public string? WhyUnsupported(ConvProblem problem)
    {
        if (problem.Spec.HasPaddingMode) return $"padding mode {problem.Spec.PaddingMode}: zero padding only (the engine pads the input and plans the unpadded convolution)";
        // cuDNN's descriptors take int dims and strides.
        foreach (var (shape, name) in new[] { (problem.XShape, "x"), (problem.WShape, "w"), (problem.YShape, "y") })
            if (shape.ElementCount > int.MaxValue)
                return $"{name} has {shape.ElementCount} elements, more than cuDNN's int descriptors address (split the batch)";
        long padded;
        try { padded = CudnnPaddingPlan.PaddedElementsOf(problem); }
        catch (OverflowException) { padded = long.MaxValue; }
        if (padded > int.MaxValue)
            return $"the padded copy of x that asymmetric padding needs has {padded} elements, more than cuDNN's int descriptors address (split the batch)";
        // cuDNN derives y's size from x's: it cannot state an x that ends in rows no output reaches.
        if (problem.HasUnreachedInput)
            return "output padding >= stride leaves input rows that no output reaches, which cuDNN's descriptors cannot state";
        return null;
    }

    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision)
    {
        if (WhyUnsupported(problem) is { } why) throw new ArgumentException($"cudnn cannot run {problem}: {why}", nameof(problem));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var current = _host.EnterContext();
            var d = Descriptors(problem);
            var result = Query(problem, d, MathMode.Strict, table: null);
            if (precision == ConvPrecision.AllowTF32)
                result.AddRange(Query(problem, d, MathMode.TF32, table: null));
            if (_graph is not null) result.AddRange(OfferGraph(problem, precision));
            return result;
        }
    }

    /// <summary>Why the graph candidates of the last problem that had none failed unexpectedly (cuDNN's status and message), or null.</summary>
    public string? LastGraphFailure { get; private set; }

    /// <summary>
    /// The graph candidates; an unexpected cuDNN failure there (e.g. an internal error in the heuristics) costs only
    /// those candidates, never the legacy ones: it is traced and kept in <see cref="LastGraphFailure"/>.
    /// </summary>
    List<ConvAlgorithm> OfferGraph(ConvProblem problem, ConvPrecision precision)
    {
        try { return _graph!.Offer(problem, precision); }
        catch (CudnnException e)
        {
            LastGraphFailure = $"{problem}: {e.Message}";
            NativeTrace.Note($"cudnn graph candidates failed for {problem}: {e.Message}");
            return [];
        }
    }

    /// <summary>
    /// cuDNN's raw heuristic tables for <paramref name="problem"/>, strict (FMA) and TF32 (TENSOR_OP)
    /// queries, one line per entry with what became of it — for the GPU check's log.
    /// </summary>
    public string DescribeHeuristics(ConvProblem problem)
    {
        if (WhyUnsupported(problem) is { } why) return $"cudnn cannot run {problem}: {why}";
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var current = _host.EnterContext();
            var d = Descriptors(problem);
            var table = new List<string> { $"cuDNN {Version} heuristics (Get_v7) for {problem}:" };
            foreach (var math in new[] { MathMode.Strict, MathMode.TF32 })
            {
                table.Add($"  {(math == MathMode.Strict ? "strict query (FMA math)" : "TF32 query (TENSOR_OP math)")}:");
                Query(problem, d, math, table);
            }
            table.Add($"  graph API engine configs (heuristics A + FALLBACK, cap {_graph?.MaxConfigs ?? 0} per math mode), TF32 allowed:");
            if (_graph is null) table.Add($"    off: {GraphCandidatesOff}");
            else _graph.Offer(problem, ConvPrecision.AllowTF32, table);
            return string.Join(Environment.NewLine, table);
        }
    }

    int MaxCount(ConvOp op)
    {
        CuDnn.Check(NativeTrace.Start(), _api.GetAlgorithmMaxCount(op, _handle.Raw, out int count), $"cudnnGetConvolution{OpName(op)}AlgorithmMaxCount", $"-> {count}");
        return Math.Max(count, 1);
    }

    List<ConvAlgorithm> Query(ConvProblem p, CudnnDescriptors d, MathMode math, List<string>? table)
    {
        d.SetMath(math);
        int max = MaxCount(p.Op);
        var perf = new CudnnConvolutionAlgoPerf[max];
        int returned;
        fixed (CudnnConvolutionAlgoPerf* pp = perf)
            CuDnn.Check(NativeTrace.Start(), _api.GetAlgorithm_v7(p.Op, _handle.Raw, d.X.Raw, d.W.Raw, d.Conv.Raw, d.Y.Raw, max, out returned, pp),
                $"cudnnGetConvolution{OpName(p.Op)}Algorithm_v7", $"{math} requested={max} -> {returned}");

        var list = new List<ConvAlgorithm>();
        for (int i = 0; i < Math.Min(returned, max); i++)
        {
            var r = perf[i];
            string name = CudnnAlgorithmNames.Of(p.Op, r.Algo);
            string Outcome()
            {
                if (r.Status != CudnnStatus.Success) return "not a candidate: status " + r.Status;
                bool tensorOp = r.MathType is CudnnMathType.TensorOp or CudnnMathType.TensorOpAllowConversion;
                // Strict keeps the FMA/default kernels; the TENSOR_OP query's successful entries are all TF32 candidates.
                if (math == MathMode.Strict && tensorOp) return "not a candidate: tensor-op kernel in the strict query";
                if (list.Any(a => a.Id == r.Algo)) return "duplicate";
                if (WorkspaceSize(p, d, r.Algo) is not { } workspace) return "dropped: its workspace-size query failed";
                list.Add(new ConvAlgorithm(BackendName, name, r.Algo,
                    AlignUp(d.Padding.ScratchBytes) + workspace, r.Determinism == CudnnDeterminism.Deterministic, math));
                return $"candidate, workspace {workspace} B";
            }
            string outcome = Outcome();
            table?.Add($"    {name,-22} status {r.Status} time {r.Time:0.###} ms memory {r.Memory} B {r.Determinism} {r.MathType}: {outcome}");
        }
        return list;
    }

    /// <summary>The algorithm's workspace in bytes, or null when cuDNN will not size it (then it is no candidate).</summary>
    long? WorkspaceSize(ConvProblem p, CudnnDescriptors d, int algo)
    {
        long started = NativeTrace.Start();
        var status = _api.GetWorkspaceSize(p.Op, _handle.Raw, d.X.Raw, d.W.Raw, d.Conv.Raw, d.Y.Raw, algo, out nuint bytes);
        NativeTrace.Record(started, $"cudnnGetConvolution{OpName(p.Op)}WorkspaceSize", NativeText.StatusLabel(status), $"{CudnnAlgorithmNames.Of(p.Op, algo)} -> {bytes} B");
        return status == CudnnStatus.Success ? (long)bytes : null;
    }

    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        lock (_gate)
        {
            RunOnStream(problem, algorithm, tensors);
            // Outputs are read by copies that may not be ordered after this stream: finish here.
            _host.Synchronize();
        }
    }

    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        lock (_gate)
            return _host.TimeMs(() => RunOnStream(problem, algorithm, tensors));
    }

    /// <summary>Issues the run on the host's stream without waiting (device-resident engine calls).</summary>
    public void Enqueue(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        lock (_gate) RunOnStream(problem, algorithm, tensors);
    }

    public bool TryEnqueueBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation) =>
        TryForwardBiasActivation(problem, algorithm, tensors, activation, synchronize: false);

    void RunOnStream(ConvProblem p, ConvAlgorithm algorithm, ConvTensors t)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (algorithm.Backend != BackendName)
            throw new ArgumentException($"algorithm {algorithm.Key} is not a cudnn algorithm.", nameof(algorithm));
        t.Validate(p, MemoryKind.Device, paddingModes: false);
        using var current = _host.EnterContext();
        var d = Descriptors(p);
        if (CudnnGraphEngineChoice.IsGraphName(algorithm.Name))
        {
            RunGraph(p, algorithm, t, d);
            return;
        }
        d.SetMath(algorithm.Math);
        var pad = d.Padding;

        using var scratch = algorithm.WorkspaceBytes > 0 ? _host.AllocateScratch(algorithm.WorkspaceBytes, algorithm.Key) : null;
        ulong padBuffer = scratch?.Pointer ?? 0;
        long padBytes = AlignUp(pad.ScratchBytes);
        ulong work = scratch is null ? 0 : scratch.Pointer + (ulong)padBytes;
        nuint workBytes = (nuint)(algorithm.WorkspaceBytes - padBytes);

        ulong x = _host.PointerOf(t.X), w = _host.PointerOf(t.W), y = _host.PointerOf(t.Y);
        ulong bias = t.Bias is null ? 0 : _host.PointerOf(t.Bias);
        float one = 1f, zero = 0f;
        // Accumulate: cuDNN's output = alpha·result + beta·output with beta = 1 (beta = 0 does not read the output).
        float* beta = t.Accumulate ? &one : &zero;
        var h = _handle.Raw;

        switch (p.Op)
        {
            case ConvOp.Forward:
            {
                ulong xIn = pad.IsExplicit ? PadInput(x, padBuffer, pad) : x;
                Execute(p, algorithm, h, &one, d.X.Raw, xIn, d.W.Raw, w, d.Conv.Raw, work, workBytes, beta, d.Y.Raw, y);
                if (bias != 0)
                    CuDnn.Check(NativeTrace.Start(), _api.AddTensor(h, &one, d.BiasK.Raw, bias, &one, d.Y.Raw, y), "cudnnAddTensor", $"bias 0x{bias:x} -> y 0x{y:x}");
                break;
            }
            case ConvOp.BackwardData:
            {
                // Padded: the full gradient goes into the scratch (overwritten), its interior is then cropped into dx:
                // copied, or added when accumulating.
                ulong dxOut = pad.IsExplicit ? padBuffer : x;
                Execute(p, algorithm, h, &one, d.X.Raw, dxOut, d.W.Raw, w, d.Conv.Raw, work, workBytes, pad.IsExplicit ? &zero : beta, d.Y.Raw, y);
                if (pad.IsExplicit)
                {
                    ulong interior = InteriorPointer(padBuffer, pad, "crop");
                    if (t.Accumulate) AddView("crop", pad, interior, x);
                    else CopyView("crop", pad.Interior!.Raw, interior, pad.PaddedStrides, pad.Dense!.Raw, x, pad.DenseStrides, pad.InnerDims);
                }
                if (bias != 0)
                    CuDnn.Check(NativeTrace.Start(), _api.AddTensor(h, &one, d.BiasC.Raw, bias, &one, pad.IsExplicit ? pad.Dense!.Raw : d.X.Raw, x),
                        "cudnnAddTensor", $"bias 0x{bias:x} -> dx 0x{x:x}");
                break;
            }
            default:
            {
                ulong xIn = pad.IsExplicit ? PadInput(x, padBuffer, pad) : x;
                Execute(p, algorithm, h, &one, d.X.Raw, xIn, d.W.Raw, w, d.Conv.Raw, work, workBytes, beta, d.Y.Raw, y);
                break;
            }
        }
    }

    /// <summary>
    /// A graph-API engine config: its execution plan (cached, or rebuilt from the name) with beta 1 when accumulating,
    /// run through a variant pack, then the bias added as on the legacy path.
    /// </summary>
    void RunGraph(ConvProblem p, ConvAlgorithm algorithm, ConvTensors t, CudnnDescriptors d)
    {
        if (_graph is null) throw new AlgorithmDeclinedException(algorithm.Key, $"graph-API candidates are off: {GraphCandidatesOff}");
        var plan = _graph.PlanFor(p, algorithm, t.Accumulate);
        // The beta-1 graph's plan may need more than the beta-0 one the candidate was offered with.
        long bytes = Math.Max(algorithm.WorkspaceBytes, plan.WorkspaceBytes);
        using var scratch = bytes > 0 ? _host.AllocateScratch(bytes, algorithm.Key) : null;
        ulong x = _host.PointerOf(t.X), w = _host.PointerOf(t.W), y = _host.PointerOf(t.Y);
        try { _graph.Execute(algorithm, plan, x, w, y, scratch?.Pointer ?? 0); }
        catch (AlgorithmDeclinedException e) when (e.InnerException is CudnnException c)
        {
            // As for the legacy calls: EXECUTION_FAILED from a broken context is the device's failure, not a decline.
            ThrowIfTheDeviceFailed(c.Status, "cudnnBackendExecute");
            throw;
        }
        if (t.Bias is null) return;
        float one = 1f;
        ulong bias = _host.PointerOf(t.Bias);
        if (p.Op == ConvOp.Forward)
            CuDnn.Check(NativeTrace.Start(), _api.AddTensor(_handle.Raw, &one, d.BiasK.Raw, bias, &one, d.Y.Raw, y), "cudnnAddTensor", $"bias 0x{bias:x} -> y 0x{y:x}");
        else if (p.Op == ConvOp.BackwardData)
            CuDnn.Check(NativeTrace.Start(), _api.AddTensor(_handle.Raw, &one, d.BiasC.Raw, bias, &one, d.X.Raw, x), "cudnnAddTensor", $"bias 0x{bias:x} -> dx 0x{x:x}");
    }

    /// <summary>The convolution call itself; a refusal of the algorithm becomes <see cref="AlgorithmDeclinedException"/>.</summary>
    void Execute(ConvProblem p, ConvAlgorithm algorithm, nint h, float* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv,
        ulong work, nuint workBytes, float* beta, nint yDesc, ulong y)
    {
        // Constant names: a concatenation here allocated a string on every call.
        string call = p.Op switch { ConvOp.Forward => "cudnnConvolutionForward", ConvOp.BackwardData => "cudnnConvolutionBackwardData", _ => "cudnnConvolutionBackwardFilter" };
        long started = NativeTrace.Start();
        var status = _api.Convolution(p.Op, h, alpha, xDesc, x, wDesc, w, conv, algorithm.Id, work, workBytes, beta, yDesc, y);
        NativeTrace.Record(started, call, NativeText.StatusLabel(status),
            $"{algorithm.Key} x=0x{x:x} w=0x{w:x} y=0x{y:x} ws={workBytes} B");
        if (status == CudnnStatus.Success) return;
        var error = new CudnnException(status, call);
        ThrowIfTheDeviceFailed(status, call);
        if (IsRefusal(status)) throw new AlgorithmDeclinedException(algorithm.Key, error.StatusName, error);
        throw error;
    }

    /// <summary>
    /// EXECUTION_FAILED is also how cuDNN reports a kernel that broke the context (an illegal address is sticky):
    /// then the stream's synchronisation throws the driver's <see cref="CudaException"/>, and the call fails with it
    /// instead of the planner moving to the next candidate — which would fail too, and be remembered as a refusal.
    /// The message names the cuDNN call that met the error.
    /// </summary>
    void ThrowIfTheDeviceFailed(CudnnStatus status, string call)
    {
        if (Category(status) != 5) return;
        try { _host.Synchronize(); }
        catch (CudaException e)
        {
            throw new CudaException(e.Status, e.Call, $"{CudaDriver.Describe(e.Status).Text} (reported after {call} returned {CuDnn.Describe(status).Name})");
        }
    }

    /// <summary>A status that means "not this algorithm here" (PyTorch's search skips these too): bad parameter, not supported, execution failed.</summary>
    internal static bool IsRefusal(CudnnStatus status) => Category(status) is 2 or 3 or 5;

    /// <summary>Zeroes the padded buffer and copies x into its interior; returns the buffer.</summary>
    ulong PadInput(ulong x, ulong padded, CudnnPaddingPlan pad)
    {
        float zero = 0f;
        var h = _handle.Raw;
        CuDnn.Check(NativeTrace.Start(), _api.SetTensor(h, pad.Padded!.Raw, padded, &zero), "cudnnSetTensor(zero padding)", $"0x{padded:x}");
        ulong interior = InteriorPointer(padded, pad, "pad");
        CopyView("pad", pad.Dense!.Raw, x, pad.DenseStrides, pad.Interior!.Raw, interior, pad.PaddedStrides, pad.InnerDims);
        return padded;
    }

    /// <summary>Number of padded copies done by plan B (cuDNN refused the strided view), for reports and tests.</summary>
    public int StridedCopyFallbacks { get; private set; }

    /// <summary>
    /// dst view = src view through cudnnTransformTensor; if cuDNN refuses it with a BAD_PARAM status (e.g. a
    /// misaligned pointer into the padded buffer), through plan B's kernel instead, and the trace says so.
    /// </summary>
    void CopyView(string purpose, nint srcDesc, ulong src, long[] srcStrides, nint dstDesc, ulong dst, long[] dstStrides, int[] dims)
    {
        float one = 1f, zero = 0f;
        string call = TransformCall(purpose, added: false);
        long started = NativeTrace.Start();
        var status = _api.TransformTensor(_handle.Raw, &one, srcDesc, src, &zero, dstDesc, dst);
        NativeTrace.Record(started, call, NativeText.StatusLabel(status), $"src 0x{src:x} -> dst 0x{dst:x}");
        if (status == CudnnStatus.Success) return;
        if (Category(status) != 2) throw new CudnnException(status, call);
        NativeTrace.Note($"{purpose}: cuDNN refused the strided copy ({status}); plan B: {StridedCopy.Module}");
        _host.StridedCopy(src, dst, dims, srcStrides, dstStrides);
        StridedCopyFallbacks++;
    }

    /// <summary>
    /// dx += the interior view of the padded gradient: cudnnTransformTensor with beta = 1. If cuDNN refuses the
    /// strided view (BAD_PARAM, as in <see cref="CopyView"/>), plan B copies the interior densely into a scratch
    /// and cudnnAddTensor adds that (same dims, beta = 1).
    /// </summary>
    void AddView(string purpose, CudnnPaddingPlan pad, ulong interior, ulong dx)
    {
        float one = 1f;
        string call = TransformCall(purpose, added: true);
        long started = NativeTrace.Start();
        var status = _api.TransformTensor(_handle.Raw, &one, pad.Interior!.Raw, interior, &one, pad.Dense!.Raw, dx);
        NativeTrace.Record(started, call, NativeText.StatusLabel(status), $"src 0x{interior:x} -> dst 0x{dx:x} (added)");
        if (status == CudnnStatus.Success) return;
        if (Category(status) != 2) throw new CudnnException(status, call);
        NativeTrace.Note($"{purpose}: cuDNN refused the strided add ({status}); plan B: {StridedCopy.Module} into a scratch, then cudnnAddTensor");
        using var dense = _host.AllocateScratch(StridedCopy.ElementCount(pad.InnerDims) * sizeof(float), $"{purpose} (accumulate)");
        _host.StridedCopy(interior, dense.Pointer, pad.InnerDims, pad.PaddedStrides, pad.DenseStrides);
        StridedCopyFallbacks++;
        CuDnn.Check(NativeTrace.Start(), _api.AddTensor(_handle.Raw, &one, pad.Dense.Raw, dense.Pointer, &one, pad.Dense.Raw, dx),
            "cudnnAddTensor(accumulate)", $"0x{dense.Pointer:x} -> dx 0x{dx:x}");
    }

    /// <summary>The transform's name in traces and errors: constants for the backend's own purposes, so a warm call formats none.</summary>
    static string TransformCall(string purpose, bool added) => (purpose, added) switch
    {
        ("pad", false) => "cudnnTransformTensor(pad)",
        ("crop", false) => "cudnnTransformTensor(crop)",
        ("crop", true) => "cudnnTransformTensor(crop, beta = 1)",
        _ => added ? $"cudnnTransformTensor({purpose}, beta = 1)" : $"cudnnTransformTensor({purpose})",
    };

    /// <summary>
    /// x[0,0,pb…] inside the padded buffer: only 4-byte aligned in general. Whether cuDNN 9 accepts such
    /// pointers is unknown until a GPU run shows it, so the trace names the pointer and its alignment
    /// (a refusal would be BAD_PARAM_MISALIGNED_POINTER on the transform; plan B is kernels/strided_copy.ptx).
    /// </summary>
    static ulong InteriorPointer(ulong buffer, CudnnPaddingPlan pad, string purpose)
    {
        ulong offset = (ulong)(pad.InteriorOffsetElements * sizeof(float));
        ulong pointer = buffer + offset;
        NativeTrace.Note($"{purpose}: interior of the padded buffer at 0x{pointer:x} = 0x{buffer:x} + {offset} B, aligned to {AlignmentOf(pointer)} B");
        return pointer;
    }

    /// <summary>The largest power of two (up to 256) dividing <paramref name="pointer"/>.</summary>
    internal static int AlignmentOf(ulong pointer) => pointer == 0 ? 256 : (int)Math.Min(256UL, pointer & (~pointer + 1));

    /// <summary>
    /// db[c] = sum of dy over batch and space (cudnnConvolutionBackwardBias), or db[c] += it when <paramref name="accumulate"/> (beta = 1); dy is NC… in device memory.
    /// Finished on return unless <paramref name="synchronize"/> is false (the engine's device-resident call: ordered on the stream).
    /// </summary>
    public void BackwardBias(Tensor dy, Tensor db, bool accumulate = false, bool synchronize = true)
    {
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(db);
        if (db.Shape.ElementCount != dy.Shape.C)
            throw new ArgumentException($"db has {db.Shape.ElementCount} elements but dy {dy.Shape} has {dy.Shape.C} channels.", nameof(db));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var current = _host.EnterContext();
            var (dyDesc, dbDesc) = BiasGradientDescriptors(dy.Shape);
            float one = 1f, zero = 0f;
            CuDnn.Check(NativeTrace.Start(), _api.ConvolutionBackwardBias(_handle.Raw, &one, dyDesc.Raw, _host.PointerOf(dy), accumulate ? &one : &zero, dbDesc.Raw, _host.PointerOf(db)),
                "cudnnConvolutionBackwardBias", $"dy={dy.Shape} beta={(accumulate ? 1 : 0)}");
            if (synchronize) _host.Synchronize();
        }
    }

    /// <summary>dy's and db's descriptors for a dy shape, kept (as the convolution descriptors are): a warm call makes none. Under the lock.</summary>
    (CudnnTensorDescriptor Dy, CudnnTensorDescriptor Db) BiasGradientDescriptors(TensorShape dyShape)
    {
        if (_biasGradientDescriptors.TryGetValue(dyShape, out var kept)) return kept;
        if (_biasGradientDescriptors.Count >= MaxCachedGeometries) DisposeBiasGradientDescriptors();
        var dyDesc = new CudnnTensorDescriptor(_api);
        var dbDesc = new CudnnTensorDescriptor(_api);
        try
        {
            var (dyDims, dbDims) = BiasGradientDims(dyShape);
            CudnnDescriptors.SetTensor(_api, dyDesc, dyDims);
            CudnnDescriptors.SetTensor(_api, dbDesc, dbDims);
        }
        catch
        {
            dyDesc.Dispose();
            dbDesc.Dispose();
            throw;
        }
        return _biasGradientDescriptors[dyShape] = (dyDesc, dbDesc);
    }

    void DisposeBiasGradientDescriptors()
    {
        foreach (var (dyDesc, dbDesc) in _biasGradientDescriptors.Values)
        {
            dyDesc.Dispose();
            dbDesc.Dispose();
        }
        _biasGradientDescriptors.Clear();
    }

    /// <summary>dy's dims and db's [1, C, 1, …], each with at least the 4 dims cuDNN's tensor descriptors need ([N, C] becomes [N, C, 1, 1]).</summary>
    internal static (int[] Dy, int[] Db) BiasGradientDims(TensorShape dy)
    {
        var dims = dy.Dims.ToList();
        while (dims.Count < 4) dims.Add(1);
        int[] db = [1, dy.C, .. Enumerable.Repeat(1, dims.Count - 2)];
        return ([.. dims], db);
    }

    /// <summary>
    /// y = act(conv(x, w) + bias), or act(conv(x, w) + y + bias) when accumulating (z = y, alpha2 = 1), in one cuDNN call
    /// (cudnnConvolutionBiasActivationForward). Returns false when
    /// cuDNN rejects the configuration (the caller then runs forward + bias + activation); the reason is kept
    /// in <see cref="LastFusedDecline"/>. ReLU6 is declined before any native call: cuDNN's documentation names only
    /// RELU and IDENTITY for this call (CLIPPED_RELU is listed for cudnnActivationForward), and nothing here can try
    /// CLIPPED_RELU on a GPU, so the engine runs conv + bias and then ReLU6 as a PTX kernel on the stream. SiLU likewise
    /// (CUDNN_ACTIVATION_SWISH is not among the fused call's modes either, and cuDNN's exponential would not give the
    /// bits every other device gives): the plain convolution, then the PTX bias kernel with the SiLU code. Hardswish, sigmoid
    /// and hardsigmoid likewise (no fused mode for them; CUDNN_ACTIVATION_SIGMOID's bits are cuDNN's own): the bias kernel
    /// with their codes, bit for bit the element-wise ops. GELU in both forms likewise (cuDNN's legacy activation modes
    /// have no GELU at all).
    /// </summary>
    public bool TryRunBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation) =>
        TryForwardBiasActivation(problem, algorithm, tensors, activation);

    public bool TryForwardBiasActivation(ConvProblem p, ConvAlgorithm algorithm, ConvTensors t, Activation activation, bool synchronize = true)
    {
        if (p.Op != ConvOp.Forward || t.Bias is null) return false;
        if (activation is not (Activation.Identity or Activation.Relu))
        {
            // Constants: a warm ReLU6, SiLU, ... layer passes here on every call and must not allocate.
            LastFusedDecline = activation switch
            {
                Activation.Silu => "SiLU: the fused call is documented for RELU and IDENTITY only",
                Activation.Hardswish => "Hardswish: the fused call is documented for RELU and IDENTITY only",
                Activation.Sigmoid => "Sigmoid: the fused call is documented for RELU and IDENTITY only",
                Activation.Hardsigmoid => "Hardsigmoid: the fused call is documented for RELU and IDENTITY only",
                Activation.Gelu => "Gelu: the fused call is documented for RELU and IDENTITY only",
                Activation.GeluTanh => "GeluTanh: the fused call is documented for RELU and IDENTITY only",
                _ => "ReLU6: the fused call is documented for RELU and IDENTITY only",
            };
            return false;
        }
        bool relu = activation == Activation.Relu;
        lock (_gate)
        {
            if (CudnnGraphEngineChoice.IsGraphName(algorithm.Name)) { LastFusedDecline = $"{algorithm.Key}: the fused legacy call takes legacy algorithms only"; return false; }
            ObjectDisposedException.ThrowIf(_disposed, this);
            var d = Descriptors(p);
            if (d.Padding.IsExplicit) { LastFusedDecline = "asymmetric padding (the fused call has no padded copy)"; return false; }
            t.Validate(p, MemoryKind.Device, paddingModes: false);
            using var current = _host.EnterContext();
            d.SetMath(algorithm.Math);
            var act = ActivationDescriptor(relu);
            using var scratch = algorithm.WorkspaceBytes > 0 ? _host.AllocateScratch(algorithm.WorkspaceBytes, algorithm.Key) : null;
            float one = 1f, zero = 0f;
            ulong y = _host.PointerOf(t.Y);
            // z is y: alpha2 = 1 adds what y holds (accumulate: a residual block's skip tensor). Otherwise alpha2 = 0,
            // but cuDNN does not promise not to read z, and 0 * NaN is NaN: y comes from the pool with whatever it
            // held, so zero it first.
            float alpha2 = t.Accumulate ? 1f : 0f;
            if (!t.Accumulate)
                CuDnn.Check(NativeTrace.Start(), _api.SetTensor(_handle.Raw, d.Y.Raw, y, &zero), "cudnnSetTensor(zero z)", $"0x{y:x}");
            long started = NativeTrace.Start();
            var status = _api.ConvolutionBiasActivationForward(_handle.Raw, &one, d.X.Raw, _host.PointerOf(t.X), d.W.Raw, _host.PointerOf(t.W),
                d.Conv.Raw, algorithm.Id, scratch?.Pointer ?? 0, (nuint)algorithm.WorkspaceBytes,
                &alpha2, d.Y.Raw, y, d.BiasK.Raw, _host.PointerOf(t.Bias), act.Raw, d.Y.Raw, y);
            NativeTrace.Record(started, "cudnnConvolutionBiasActivationForward", NativeText.StatusLabel(status), $"{algorithm.Key} relu={relu} alpha2={alpha2}");
            ThrowIfTheDeviceFailed(status, "cudnnConvolutionBiasActivationForward");
            if (IsRefusal(status)) // BAD_PARAM / NOT_SUPPORTED / EXECUTION_FAILED: not fusable here, the caller runs it unfused
            {
                var (name, text) = CuDnn.Describe(status);
                LastFusedDecline = $"{algorithm.Key}: {name}" + (text.Length > 0 ? $": {text}" : "");
                return false;
            }
            CuDnn.Check(status, "cudnnConvolutionBiasActivationForward");
            if (synchronize) _host.Synchronize();
            return true;
        }
    }

    // The fused call's two activations, made on first use and kept (three native calls each, otherwise on every call).
    CudnnActivationDescriptor? _relu, _identity;

    CudnnActivationDescriptor ActivationDescriptor(bool relu)
    {
        ref var kept = ref relu ? ref _relu : ref _identity;
        if (kept is not null) return kept;
        var act = new CudnnActivationDescriptor(_api);
        try
        {
            // PROPAGATE_NAN: a NaN reaching the activation stays NaN, as on the unfused path and in PyTorch.
            CuDnn.Check(NativeTrace.Start(), _api.SetActivationDescriptor(act.Raw, relu ? CudnnActivationMode.Relu : CudnnActivationMode.Identity,
                CudnnNanPropagation.PropagateNan, 0.0), "cudnnSetActivationDescriptor", $"{(relu ? "RELU" : "IDENTITY")} PROPAGATE_NAN");
        }
        catch
        {
            act.Dispose();
            throw;
        }
        return kept = act;
    }

    /// <summary>
    /// The descriptors of the problem's geometry, shared by its three ops: built from the forward problem, and also
    /// filed under the problem as called, so that a warm backward call finds them without making its forward
    /// problem (a new ConvProblem per call, 72 B).
    /// </summary>
    CudnnDescriptors Descriptors(ConvProblem problem)
    {
        if (_descriptors.TryGetValue(problem, out var d)) return d;
        var forward = problem.WithOp(ConvOp.Forward);
        if (!_descriptors.TryGetValue(forward, out d))
        {
            if (_descriptors.Count >= MaxCachedGeometries) DisposeDescriptors();
            d = new CudnnDescriptors(_api, forward);
            _descriptors[forward] = d;
        }
        _descriptors[problem] = d;
        return d;
    }

    /// <summary>Disposes every cached descriptor set (each once: one may be filed under several ops). Under the lock: no call is using one.</summary>
    void DisposeDescriptors()
    {
        foreach (var d in _descriptors.Values.Distinct()) d.Dispose();
        _descriptors.Clear();
    }

    /// <summary>The op as cuDNN's function names spell it: Forward, BackwardData, BackwardFilter.</summary>
    static string OpName(ConvOp op) => op switch
    {
        ConvOp.Forward => "Forward",
        ConvOp.BackwardData => "BackwardData",
        _ => "BackwardFilter",
    };

    /// <summary>cuDNN 9 status category: code / 1000 (2 bad parameter, 3 not supported, …).</summary>
    static int Category(CudnnStatus status) => (int)status / 1000;

    /// <summary>cudnnGetVersion as major.minor.patch (cuDNN 9 encodes 9.6.0 as 90600).</summary>
    internal static string VersionString(nuint v) =>
        v >= 90000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";

    static long AlignUp(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            DisposeDescriptors();
            DisposeBiasGradientDescriptors();
            _graph?.Dispose();
            _relu?.Dispose();
            _identity?.Dispose();
            _handle.Dispose();
        }
    }
}
