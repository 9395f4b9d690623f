using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// The "cudnn" backend: cuDNN 9's (legacy) convolution API. Every algorithm cuDNN reports as usable
/// for the op is a candidate, ranked by cuDNN's own heuristic (Get_v7), with its workspace and
/// determinism. Strict precision sets CUDNN_FMA_MATH (no TF32); TF32 candidates are the tensor-op
/// ones, offered only when the caller allows them. The winning candidate's math type is set on the
/// descriptor before every call (as PyTorch does). Ranks 1–3 (1-d as 2-d with height 1), groups,
/// dilation, stride; asymmetric padding through an explicit padded copy (<see cref="CudnnPaddingPlan"/>).
/// One cuDNN handle bound to the host's stream; descriptors cached per problem geometry.
/// </summary>
internal sealed unsafe class CudnnBackend : IConvBackend, IFusedBiasActivation
{
    public const string BackendName = "cudnn";
    const int MaxCachedGeometries = 256;
    const long Alignment = 256;

    readonly ICudnnHost _host;
    readonly CudnnHandle _handle;
    readonly Dictionary<ConvProblem, CudnnDescriptors> _descriptors = [];

    public CudnnBackend(ICudnnHost host)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _host.MakeCurrent();
        _handle = host.CreateCudnnHandle();
        Version = VersionString(CuDnn.cudnnGetVersion());
    }

    public string Name => BackendName;
    public IMemorySpace Memory => _host.Memory;
    public int Priority => 0;
    /// <summary>The loaded cuDNN's version, e.g. "9.10.2".</summary>
    public string Version { get; }

    public string? WhyUnsupported(ConvProblem problem)
    {
        // cuDNN's descriptors take int dims and strides.
        foreach (var (shape, name) in new[] { (problem.XShape, "x"), (problem.WShape, "w"), (problem.YShape, "y") })
            if (shape.ElementCount > int.MaxValue)
                return $"{name} has {shape.ElementCount} elements, more than cuDNN's int descriptors address (split the batch)";
        // cuDNN derives y's size from x's: it cannot state an x that ends in rows no output reaches.
        if (problem.HasUnreachedInput)
            return "output padding >= stride leaves input rows that no output reaches, which cuDNN's descriptors cannot state";
        return null;
    }

    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision)
    {
        if (WhyUnsupported(problem) is { } why) throw new ArgumentException($"cudnn cannot run {problem}: {why}", nameof(problem));
        _host.MakeCurrent();
        var d = Descriptors(problem);
        var result = Query(problem, d, MathMode.Strict);
        if (precision == ConvPrecision.AllowTF32)
            result.AddRange(Query(problem, d, MathMode.TF32));
        return result;
    }

    List<ConvAlgorithm> Query(ConvProblem p, CudnnDescriptors d, MathMode math)
    {
        d.SetMath(math);
        int max = CudnnAlgorithmNames.Count(p.Op);
        var perf = stackalloc CudnnConvolutionAlgoPerf[max];
        int returned;
        var h = _handle.Raw;
        switch (p.Op)
        {
            case ConvOp.Forward:
                CuDnn.Check(CuDnn.cudnnGetConvolutionForwardAlgorithm_v7(h, d.X.Raw, d.W.Raw, d.Conv.Raw, d.Y.Raw, max, out returned, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
                break;
            case ConvOp.BackwardData:
                CuDnn.Check(CuDnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.W.Raw, d.Y.Raw, d.Conv.Raw, d.X.Raw, max, out returned, perf), "cudnnGetConvolutionBackwardDataAlgorithm_v7");
                break;
            default:
                CuDnn.Check(CuDnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.X.Raw, d.Y.Raw, d.Conv.Raw, d.W.Raw, max, out returned, perf), "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
                break;
        }

        var list = new List<ConvAlgorithm>();
        for (int i = 0; i < returned; i++)
        {
            var r = perf[i];
            if (r.Status != CudnnStatus.Success) continue;
            bool tensorOp = r.MathType is CudnnMathType.TensorOp or CudnnMathType.TensorOpAllowConversion;
            // Strict keeps FMA/default kernels only; the TF32 query contributes its tensor-op kernels only.
            if (tensorOp != (math == MathMode.TF32)) continue;
            if (list.Any(a => a.Id == r.Algo)) continue;
            long? workspace = WorkspaceSize(p, d, r.Algo);
            if (workspace is null) continue;
            list.Add(new ConvAlgorithm(BackendName, CudnnAlgorithmNames.Of(p.Op, r.Algo), r.Algo,
                AlignUp(d.Padding.ScratchBytes) + workspace.Value, r.Determinism == CudnnDeterminism.Deterministic, math));
        }
        return list;
    }

    long? WorkspaceSize(ConvProblem p, CudnnDescriptors d, int algo)
    {
        nuint bytes;
        var h = _handle.Raw;
        var status = p.Op switch
        {
            ConvOp.Forward => CuDnn.cudnnGetConvolutionForwardWorkspaceSize(h, d.X.Raw, d.W.Raw, d.Conv.Raw, d.Y.Raw, (CudnnConvolutionFwdAlgo)algo, out bytes),
            ConvOp.BackwardData => CuDnn.cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.W.Raw, d.Y.Raw, d.Conv.Raw, d.X.Raw, (CudnnConvolutionBwdDataAlgo)algo, out bytes),
            _ => CuDnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.X.Raw, d.Y.Raw, d.Conv.Raw, d.W.Raw, (CudnnConvolutionBwdFilterAlgo)algo, out bytes),
        };
        // A configuration cuDNN will not size is not a candidate; anything else is a real error.
        if (Category(status) == 3) return null; // NOT_SUPPORTED family
        CuDnn.Check(status, "cudnnGetConvolution*WorkspaceSize");
        return (long)bytes;
    }

    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        RunOnStream(problem, algorithm, tensors);
        // Outputs are read by copies that may not be ordered after this stream: finish here.
        _host.Synchronize();
    }

    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) =>
        _host.TimeMs(() => RunOnStream(problem, algorithm, tensors));

    void RunOnStream(ConvProblem p, ConvAlgorithm algorithm, ConvTensors t)
    {
        if (algorithm.Backend != BackendName)
            throw new ArgumentException($"algorithm {algorithm.Key} is not a cudnn algorithm.", nameof(algorithm));
        t.Validate(p, MemoryKind.Device);
        _host.MakeCurrent();
        var d = Descriptors(p);
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
        var h = _handle.Raw;

        switch (p.Op)
        {
            case ConvOp.Forward:
            {
                ulong xIn = pad.IsExplicit ? PadInput(x, padBuffer, pad) : x;
                CuDnn.Check(CuDnn.cudnnConvolutionForward(h, &one, d.X.Raw, xIn, d.W.Raw, w, d.Conv.Raw,
                    (CudnnConvolutionFwdAlgo)algorithm.Id, work, workBytes, &zero, d.Y.Raw, y), "cudnnConvolutionForward");
                if (bias != 0)
                    CuDnn.Check(CuDnn.cudnnAddTensor(h, &one, d.BiasK.Raw, bias, &one, d.Y.Raw, y), "cudnnAddTensor");
                break;
            }
            case ConvOp.BackwardData:
            {
                ulong dxOut = pad.IsExplicit ? padBuffer : x;
                CuDnn.Check(CuDnn.cudnnConvolutionBackwardData(h, &one, d.W.Raw, w, d.Y.Raw, y, d.Conv.Raw,
                    (CudnnConvolutionBwdDataAlgo)algorithm.Id, work, workBytes, &zero, d.X.Raw, dxOut), "cudnnConvolutionBackwardData");
                if (pad.IsExplicit)
                    CuDnn.Check(CuDnn.cudnnTransformTensor(h, &one, pad.Interior!.Raw, padBuffer + (ulong)(pad.InteriorOffsetElements * sizeof(float)),
                        &zero, pad.Dense!.Raw, x), "cudnnTransformTensor(crop)");
                if (bias != 0)
                    CuDnn.Check(CuDnn.cudnnAddTensor(h, &one, d.BiasC.Raw, bias, &one, pad.IsExplicit ? pad.Dense!.Raw : d.X.Raw, x), "cudnnAddTensor");
                break;
            }
            default:
            {
                ulong xIn = pad.IsExplicit ? PadInput(x, padBuffer, pad) : x;
                CuDnn.Check(CuDnn.cudnnConvolutionBackwardFilter(h, &one, d.X.Raw, xIn, d.Y.Raw, y, d.Conv.Raw,
                    (CudnnConvolutionBwdFilterAlgo)algorithm.Id, work, workBytes, &zero, d.W.Raw, w), "cudnnConvolutionBackwardFilter");
                break;
            }
        }
    }

    /// <summary>Zeroes the padded buffer and copies x into its interior; returns the buffer.</summary>
    ulong PadInput(ulong x, ulong padded, CudnnPaddingPlan pad)
    {
        float one = 1f, zero = 0f;
        var h = _handle.Raw;
        CuDnn.Check(CuDnn.cudnnSetTensor(h, pad.Padded!.Raw, padded, &zero), "cudnnSetTensor(zero padding)");
        CuDnn.Check(CuDnn.cudnnTransformTensor(h, &one, pad.Dense!.Raw, x, &zero, pad.Interior!.Raw,
            padded + (ulong)(pad.InteriorOffsetElements * sizeof(float))), "cudnnTransformTensor(pad)");
        return padded;
    }

    /// <summary>db[c] = sum of dy over batch and space (cudnnConvolutionBackwardBias); dy is NC… in device memory.</summary>
    public void BackwardBias(Tensor dy, Tensor db)
    {
        if (db.Shape.ElementCount != dy.Shape.C)
            throw new ArgumentException($"db has {db.Shape.ElementCount} elements but dy {dy.Shape} has {dy.Shape.C} channels.", nameof(db));
        _host.MakeCurrent();
        using var dyDesc = new CudnnTensorDescriptor();
        using var dbDesc = new CudnnTensorDescriptor();
        int[] dims = dy.Shape.Rank == 3 ? [dy.Shape.N, dy.Shape.C, 1, dy.Shape[2]] : [.. dy.Shape.Dims];
        CudnnDescriptors.SetTensor(dyDesc, dims);
        CudnnDescriptors.SetTensor(dbDesc, [1, dy.Shape.C, .. dims.Skip(2).Select(_ => 1)]);
        float one = 1f, zero = 0f;
        CuDnn.Check(CuDnn.cudnnConvolutionBackwardBias(_handle.Raw, &one, dyDesc.Raw, _host.PointerOf(dy), &zero, dbDesc.Raw, _host.PointerOf(db)),
            "cudnnConvolutionBackwardBias");
        _host.Synchronize();
    }

    /// <summary>
    /// y = act(conv(x, w) + bias) in one cuDNN call (cudnnConvolutionBiasActivationForward). Returns false when
    /// cuDNN rejects the configuration as not supported (the caller then runs forward + bias + activation).
    /// </summary>
    public bool TryRunBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation) =>
        TryForwardBiasActivation(problem, algorithm, tensors, activation == Activation.Relu);

    public bool TryForwardBiasActivation(ConvProblem p, ConvAlgorithm algorithm, ConvTensors t, bool relu)
    {
        if (p.Op != ConvOp.Forward || t.Bias is null) return false;
        var d = Descriptors(p);
        if (d.Padding.IsExplicit) return false;
        t.Validate(p, MemoryKind.Device);
        _host.MakeCurrent();
        d.SetMath(algorithm.Math);
        using var act = new CudnnActivationDescriptor();
        CuDnn.Check(CuDnn.cudnnSetActivationDescriptor(act.Raw, relu ? CudnnActivationMode.Relu : CudnnActivationMode.Identity,
            CudnnNanPropagation.NotPropagateNan, 0.0), "cudnnSetActivationDescriptor");
        using var scratch = algorithm.WorkspaceBytes > 0 ? _host.AllocateScratch(algorithm.WorkspaceBytes, algorithm.Key) : null;
        float one = 1f, zero = 0f;
        ulong y = _host.PointerOf(t.Y);
        var status = CuDnn.cudnnConvolutionBiasActivationForward(_handle.Raw, &one, d.X.Raw, _host.PointerOf(t.X), d.W.Raw, _host.PointerOf(t.W),
            d.Conv.Raw, (CudnnConvolutionFwdAlgo)algorithm.Id, scratch?.Pointer ?? 0, (nuint)algorithm.WorkspaceBytes,
            &zero, d.Y.Raw, y, d.BiasK.Raw, _host.PointerOf(t.Bias), act.Raw, d.Y.Raw, y);
        if (Category(status) is 2 or 3) return false; // BAD_PARAM / NOT_SUPPORTED: not fusable here
        CuDnn.Check(status, "cudnnConvolutionBiasActivationForward");
        _host.Synchronize();
        return true;
    }

    CudnnDescriptors Descriptors(ConvProblem problem)
    {
        var key = problem.WithOp(ConvOp.Forward);
        if (_descriptors.TryGetValue(key, out var d)) return d;
        if (_descriptors.Count >= MaxCachedGeometries)
        {
            foreach (var old in _descriptors.Values) old.Dispose();
            _descriptors.Clear();
        }
        d = new CudnnDescriptors(key);
        _descriptors[key] = d;
        return d;
    }

    /// <summary>cuDNN 9 status category: code / 1000 (2 bad parameter, 3 not supported, …).</summary>
    static int Category(CudnnStatus status) => (int)status / 1000;

    /// <summary>cudnnGetVersion as major.minor.patch (cuDNN 9 encodes 9.6.0 as 90600).</summary>
    internal static string VersionString(nuint v) =>
        v >= 90000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";

    static long AlignUp(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    public void Dispose()
    {
        foreach (var d in _descriptors.Values) d.Dispose();
        _descriptors.Clear();
        _handle.Dispose();
    }
}
