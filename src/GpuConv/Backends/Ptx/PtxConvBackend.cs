using GpuConv.Conv;
using GpuConv.Cpu.Columns;
using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// The "ptx" backend: hand-written PTX kernels (kernels/*.ptx) for data movement plus cuBLAS for the
/// arithmetic, Caffe's scheme. Column layout is <see cref="Im2Col"/>'s: per image and group a row-major
/// [R = C/g·kvol, S = out volume] matrix.
/// <list type="bullet">
/// <item>forward: im2col per batch chunk, then Y[n,g] (K/g×S) = W[g] (K/g×R) · col[n,g] (R×S), batched over
/// groups (or over the chunk's images when groups = 1); bias (+ReLU) by bias_add_f32. A 1×1, stride-1,
/// unpadded convolution skips im2col: x[n] already is the column matrix. Depthwise (groups = C) may run the
/// direct kernel depthwise_fwd_f32 instead.</item>
/// <item>backward-data (and so transposed convolution): dcol[n,g] (R×S) = W[g]ᵀ · dY[n,g], then col2im_f32
/// (gather, deterministic); 1×1 writes dx directly.</item>
/// <item>backward-filter: im2col, then dW[g] (K/g×R) += dY[n,g] · col[n,g]ᵀ image after image
/// (beta = 0 for the first image, 1 after): a fixed order, deterministic.</item>
/// </list>
/// The batch is processed in chunks so the column buffer stays within the workspace limit; a candidate
/// reports the column buffer it will allocate. Strict FP32 by default; a TF32 twin of each GEMM candidate
/// is listed when the caller allows TF32.
/// </summary>
public sealed class PtxConvBackend : IConvBackend, IStreamOrderedBackend
{
    /// <summary>The backend's name, "ptx".</summary>
    public const string BackendName = "ptx";
    /// <summary>Default cap on a run's column buffer: 256 MiB.</summary>
    public const long DefaultMaxWorkspaceBytes = 256L << 20;
    internal const uint BlockSize = 256;
    // At most 2^14 blocks (about 16 waves of resident blocks on an H200: 132 SMs x 8 blocks of 256):
    // larger launches loop grid-stride, so a thread's ~40-instruction prologue (parameters, index path
    // choice) is paid once per several elements rather than once per element. The grid stride is at
    // most MaxBlocks·BlockSize = 2^22 threads (PtxKernelArguments.MaxFastElements).
    internal const uint MaxBlocks = 1u << 14;

    // Algorithm ids (stable: they key cached plans).
    internal const int Im2ColGemm = 0, Pointwise = 1, DepthwiseDirect = 2;

    readonly IPtxRuntime _runtime;
    readonly IDisposable? _ownedRuntime;
    readonly long _maxWorkspaceBytes;

    internal PtxConvBackend(IPtxRuntime runtime, long maxWorkspaceBytes = DefaultMaxWorkspaceBytes, IDisposable? ownedRuntime = null)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        if (maxWorkspaceBytes < 0)
            throw new ArgumentException($"maxWorkspaceBytes must be >= 0, got {maxWorkspaceBytes}.", nameof(maxWorkspaceBytes));
        _maxWorkspaceBytes = maxWorkspaceBytes;
        _ownedRuntime = ownedRuntime;
    }

    /// <summary>
    /// The backend on a GPU context: kernels and cuBLAS on the context's own stream. The column buffer of a run is kept under <paramref name="maxWorkspaceBytes"/>
    /// by processing the batch in chunks (one image at a time at least). Throws when cuBLAS cannot be loaded.
    /// </summary>
    public static PtxConvBackend Create(Cuda.CudaContext context, long maxWorkspaceBytes = DefaultMaxWorkspaceBytes)
    {
        var runtime = new Cuda.CudaGpuRuntime(context);
        return new PtxConvBackend(runtime, maxWorkspaceBytes, runtime);
    }

    /// <inheritdoc/>
    public string Name => BackendName;
    /// <inheritdoc/>
    public IMemorySpace Memory => _runtime.Memory;
    /// <inheritdoc/>
    public int Priority => 20;

    /// <inheritdoc/>
    public string? WhyUnsupported(ConvProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Spec.HasPaddingMode) return $"padding mode {problem.Spec.PaddingMode}: zero padding only (the engine pads the input and plans the unpadded convolution)";
        // The kernels index a spatial volume with 32-bit arithmetic and cuBLAS takes int sizes.
        if (problem.XShape.SpatialSize > int.MaxValue || problem.YShape.SpatialSize > int.MaxValue)
            return $"spatial volume above 2^31-1 (input {problem.XShape.SpatialSize}, output {problem.YShape.SpatialSize})";
        long rows = Im2Col.Rows(problem);
        if (rows > int.MaxValue)
            return $"column matrix has {rows} rows, more than cuBLAS's int sizes allow";
        return null;
    }

    /// <inheritdoc/>
    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision)
    {
        if (WhyUnsupported(problem) is { } why) throw new ArgumentException($"ptx backend cannot run {problem}: {why}", nameof(problem));
        var list = new List<ConvAlgorithm>();
        bool tf32 = precision == ConvPrecision.AllowTF32;
        if (problem.Op == ConvOp.Forward && problem.IsDepthwise)
            list.Add(new ConvAlgorithm(BackendName, "depthwise-direct", DepthwiseDirect, 0, Deterministic: true));
        if (problem.IsPointwise)
            AddGemm("gemm-1x1", Pointwise, 0);
        else
            AddGemm(problem.Op switch { ConvOp.Forward => "im2col-gemm", ConvOp.BackwardData => "gemm-col2im", _ => "im2col-gemm-acc" },
                Im2ColGemm, ChunkImages(problem) * ColumnBytesPerImage(problem));
        return list;

        void AddGemm(string name, int id, long workspace)
        {
            list.Add(new ConvAlgorithm(BackendName, name, id, workspace, Deterministic: true));
            if (tf32) list.Add(new ConvAlgorithm(BackendName, name, id, workspace, Deterministic: true, MathMode.TF32));
        }
    }

    /// <summary>Bytes of one image's column buffer (all groups).</summary>
    internal static long ColumnBytesPerImage(ConvProblem p) => (long)p.C * p.KernelVolume * p.YShape.SpatialSize * sizeof(float);

    /// <summary>
    /// Images per chunk: as many as fit the workspace limit, at least one, and no more than keep the chunk's
    /// column buffer at most <see cref="PtxKernelArguments.MaxFastElements"/> elements, so that im2col and
    /// col2im run their 32-bit index path (only a single image above that takes the 64-bit one; tensors
    /// themselves stay below 2^31 elements).
    /// </summary>
    internal int ChunkImages(ConvProblem p)
    {
        long bytes = Math.Max(1, ColumnBytesPerImage(p));
        long fit = Math.Min(_maxWorkspaceBytes / bytes, PtxKernelArguments.MaxFastElements * sizeof(float) / bytes);
        return (int)Math.Clamp(fit, 1, p.N);
    }

    /// <summary>Runs the op and synchronises the backend's stream, so the outputs are complete on return.</summary>
    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        Enqueue(problem, algorithm, tensors);
        // Outputs are complete when Run returns: host copies of device tensors are not ordered with the
        // backend's (non-blocking) stream.
        _runtime.Synchronize();
    }

    /// <summary>
    /// Issues the run on the runtime's stream and returns without waiting for it.
    /// </summary>
    public void Enqueue(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(tensors);
        if (algorithm.Backend != BackendName)
            throw new ArgumentException($"algorithm {algorithm.Key} belongs to backend {algorithm.Backend}, not {BackendName}.", nameof(algorithm));
        if (WhyUnsupported(problem) is { } why) throw new ArgumentException($"ptx backend cannot run {problem}: {why}", nameof(problem));
        tensors.Validate(problem, _runtime.Memory.Kind, paddingModes: false);
        if (algorithm.Id == Pointwise && !problem.IsPointwise)
            throw new ArgumentException($"algorithm {algorithm.Key} needs a 1x1, stride-1, unpadded convolution; got {problem.Spec}.", nameof(algorithm));
        if (algorithm.Id == DepthwiseDirect && !(problem.IsDepthwise && problem.Op == ConvOp.Forward))
            throw new ArgumentException($"algorithm {algorithm.Key} runs depthwise forward only; got {problem}.", nameof(algorithm));
        if (algorithm.Id is not (Im2ColGemm or Pointwise or DepthwiseDirect))
            throw new ArgumentException($"unknown ptx algorithm id {algorithm.Id} ({algorithm.Key}).", nameof(algorithm));

        try
        {
            var ptr = new Pointers(
                _runtime.PointerOf(tensors.X), _runtime.PointerOf(tensors.W), _runtime.PointerOf(tensors.Y),
                tensors.Bias is null ? 0UL : _runtime.PointerOf(tensors.Bias));
            var math = algorithm.Math;
            // Accumulate: where a GEMM writes the output, its beta = 1 adds to it; where a kernel writes it (depthwise
            // direct, col2im), the result goes into a scratch that is then added to the output.
            bool gemmAdds = tensors.Accumulate && GemmWritesOutput(problem, algorithm);
            if (tensors.Accumulate && !gemmAdds)
            {
                long count = problem.OutputShape.ElementCount;
                using var result = _runtime.AllocateScratch(count * sizeof(float), AccumulatePurpose(algorithm));
                var (into, output) = problem.Op switch
                {
                    ConvOp.Forward => (ptr with { Y = result.Pointer }, ptr.Y),
                    ConvOp.BackwardData => (ptr with { X = result.Pointer }, ptr.X),
                    _ => (ptr with { W = result.Pointer }, ptr.W),
                };
                Dispatch(problem, into, algorithm, math, gemmAdds: false);
                AddInto(output, result.Pointer, count);
                return;
            }
            Dispatch(problem, ptr, algorithm, math, gemmAdds);
        }
        catch (Exception e) when (CannotRunHere(e))
        {
            throw new AlgorithmDeclinedException(algorithm.Key, e.Message, e);
        }
    }

    /// <summary>
    /// The algorithm's kernels would not load on this device (the JIT refused the PTX; the message carries its log) or
    /// cuBLAS would not create its handle: the algorithm cannot run here though the device is fine, so the planner
    /// moves to the next candidate. A sticky device error is never one of these: it fails the call.
    /// </summary>
    static bool CannotRunHere(Exception e) => e switch
    {
        Cuda.CudaException c => !c.ContextUnusable
            && (c.Call.StartsWith("cuModuleLoadDataEx", StringComparison.Ordinal) || c.Call.StartsWith("cuModuleGetFunction", StringComparison.Ordinal)),
        Cuda.CublasException b => b.Call == "cublasCreate_v2",
        _ => false,
    };

    /// <summary>Whether the op's output is written by GEMMs alone (so beta = 1 accumulates): all but depthwise-direct and col2im.</summary>
    static bool GemmWritesOutput(ConvProblem p, ConvAlgorithm algorithm) => p.Op switch
    {
        ConvOp.Forward => algorithm.Id != DepthwiseDirect,
        ConvOp.BackwardData => algorithm.Id == Pointwise,
        _ => true,
    };

    void Dispatch(ConvProblem problem, Pointers ptr, ConvAlgorithm algorithm, MathMode math, bool gemmAdds)
    {
        float beta = gemmAdds ? 1f : 0f;
        switch (problem.Op)
        {
            case ConvOp.Forward when algorithm.Id == DepthwiseDirect: DepthwiseForward(problem, ptr); break;
            case ConvOp.Forward: Forward(problem, ptr, algorithm, math, beta); break;
            case ConvOp.BackwardData: BackwardData(problem, ptr, algorithm, math, beta); break;
            default: BackwardFilter(problem, ptr, algorithm, math, beta); break;
        }
    }

    /// <summary>
    /// target[i] += source[i] for i &lt; count, on the stream: bias_add_f32 with one "channel" per element
    /// (spatial = 1, so channel = index), in pieces whose count fits its u32 channel count.
    /// </summary>
    void AddInto(ulong target, ulong source, long count)
    {
        const long Piece = 1L << 30;
        for (long done = 0; done < count; done += Piece)
        {
            long n = Math.Min(Piece, count - done);
            _runtime.Launch("bias.ptx", "bias_add_f32", Grid(n), BlockSize,
                BiasAddPack(target + Bytes(done), source + Bytes(done), n, channels: n, spatial: 1, Activation.Identity));
        }
    }

    /// <summary>
    /// Milliseconds of one run on the device, by events around its work on the stream — how the cudnn
    /// backend and PyTorch time, so ratios between them compare kernels, not the host's wait for a
    /// synchronisation (tens of microseconds against layers of tens of microseconds at batch 1).
    /// </summary>
    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) =>
        _runtime.TimeMs(() => Enqueue(problem, algorithm, tensors));

    /// <summary>
    /// db[c] = sum of dy[n, c, …] over batch and space (kernel bias_grad_f32, deterministic); with
    /// <paramref name="accumulate"/> the sums go into a scratch and are added to db.
    /// </summary>
    public void BackwardBias(Tensor dy, Tensor db, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(db);
        if (dy.Shape.Rank < 2)
            throw new ArgumentException($"dy must be [N, C, …], got shape {dy.Shape}.", nameof(dy));
        if (db.Shape.ElementCount != dy.Shape.C)
            throw new ArgumentException($"db has {db.Shape.ElementCount} elements but dy {dy.Shape} has {dy.Shape.C} channels.", nameof(db));
        uint blocks = (uint)Math.Min(dy.Shape.C, 65535);
        using var sums = accumulate ? _runtime.AllocateScratch(dy.Shape.C * sizeof(float), "bias gradient (accumulate)") : null;
        ulong target = sums?.Pointer ?? _runtime.PointerOf(db);
        var args = new KernelArgumentPack();
        args.Add(_runtime.PointerOf(dy)).Add(target).Add((uint)dy.Shape.N).Add((uint)dy.Shape.C).Add((ulong)dy.Shape.SpatialSize);
        _runtime.Launch("bias.ptx", "bias_grad_f32", blocks, 256, args);
        if (sums is not null) AddInto(_runtime.PointerOf(db), sums.Pointer, dy.Shape.C);
        _runtime.Synchronize();
    }

    /// <summary>
    /// y[n, c, …] += bias[c], then <paramref name="activation"/> (kernel bias_add_f32; fused bias + activation), with the
    /// same operations as the CPU element-wise ops (<see cref="ElementwiseOp.Relu"/>, <see cref="ElementwiseOp.Relu6"/>,
    /// <see cref="ElementwiseOp.Silu"/>).
    /// Finished on return unless <paramref name="synchronize"/> is false (the engine's device-resident calls: ordered on the stream).
    /// </summary>
    public void AddBias(Tensor y, Tensor bias, Activation activation = Activation.Identity, bool synchronize = true)
    {
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(bias);
        if (y.Shape.Rank < 2)
            throw new ArgumentException($"y must be [N, C, …], got shape {y.Shape}.", nameof(y));
        if (bias.Shape.ElementCount != y.Shape.C)
            throw new ArgumentException($"bias has {bias.Shape.ElementCount} elements but y {y.Shape} has {y.Shape.C} channels.", nameof(bias));
        BiasAdd(_runtime.PointerOf(y), _runtime.PointerOf(bias), y.Shape, activation);
        if (synchronize) _runtime.Synchronize();
    }

    /// <summary>Releases the GPU runtime when this backend created it (<see cref="Create"/>).</summary>
    public void Dispose() => _ownedRuntime?.Dispose();

    readonly record struct Pointers(ulong X, ulong W, ulong Y, ulong Bias);

    // ---- ops ----

    // The chunk loops below are plain loops, not helpers taking lambdas: a lambda capturing the run's state was a closure
    // and a delegate per call (~290 B of a warm 1x1 forward).

    void Forward(ConvProblem p, Pointers ptr, ConvAlgorithm algorithm, MathMode math, float beta)
    {
        var s = Sizes.Of(p);
        using var columns = RentColumns(p, algorithm, out int chunk);
        for (int n0 = 0; n0 < p.N; n0 += chunk)
        {
            int count = Math.Min(chunk, p.N - n0);
            ulong x = ptr.X + Bytes(n0 * s.XImage);
            // 1×1: x itself is the column matrix.
            ulong colBase = columns is null ? x : columns.Pointer;
            if (columns is not null) Im2ColLaunch(p, x, colBase, count);
            // Y[n,g] (Kg×S) = W[g] (Kg×R) · col[n,g] (R×S).
            if (p.Groups == 1) // one call over the chunk's images, W shared (stride 0)
                RowMajorGemm.Run(_runtime, false, false, s.Kg, s.S, s.R, ptr.W, s.R, 0, colBase, s.S, s.ColImage, beta,
                    ptr.Y + Bytes(n0 * s.YImage), s.S, s.YImage, count, math);
            else // one call per image, batched over groups
                for (int i = 0; i < count; i++)
                    RowMajorGemm.Run(_runtime, false, false, s.Kg, s.S, s.R, ptr.W, s.R, (long)s.Kg * s.R,
                        colBase + Bytes(i * s.ColImage), s.S, (long)s.R * s.S, beta,
                        ptr.Y + Bytes((n0 + i) * s.YImage), s.S, (long)s.Kg * s.S, p.Groups, math);
        }
        if (ptr.Bias != 0) BiasAdd(ptr.Y, ptr.Bias, p.YShape);
    }

    // beta = 1 adds the GEMM's result to its target: only where that target is dx itself (1×1).
    void BackwardData(ConvProblem p, Pointers ptr, ConvAlgorithm algorithm, MathMode math, float beta)
    {
        var s = Sizes.Of(p);
        if (beta != 0 && algorithm.Id != Pointwise)
            throw new InvalidOperationException("beta = 1 would add into the column buffer, not dx: col2im's output is accumulated through a scratch.");
        using var columns = RentColumns(p, algorithm, out int chunk);
        for (int n0 = 0; n0 < p.N; n0 += chunk)
        {
            int count = Math.Min(chunk, p.N - n0);
            // dcol[n,g] (R×S) = W[g]ᵀ (R×Kg) · dY[n,g] (Kg×S); for 1×1 dcol is dx itself.
            ulong target = columns is null ? ptr.X + Bytes(n0 * s.XImage) : columns.Pointer;
            if (p.Groups == 1)
                RowMajorGemm.Run(_runtime, true, false, s.R, s.S, s.Kg, ptr.W, s.R, 0, ptr.Y + Bytes(n0 * s.YImage), s.S, s.YImage, beta,
                    target, s.S, s.ColImage, count, math);
            else
                for (int i = 0; i < count; i++)
                    RowMajorGemm.Run(_runtime, true, false, s.R, s.S, s.Kg, ptr.W, s.R, (long)s.Kg * s.R,
                        ptr.Y + Bytes((n0 + i) * s.YImage), s.S, (long)s.Kg * s.S, beta,
                        target + Bytes(i * s.ColImage), s.S, (long)s.R * s.S, p.Groups, math);
            if (columns is not null) Col2ImLaunch(p, columns.Pointer, ptr.X + Bytes(n0 * s.XImage), count);
        }
        if (ptr.Bias != 0) BiasAdd(ptr.X, ptr.Bias, p.XShape);
    }

    // firstBeta: the first image's GEMM beta: 0 overwrites dW, 1 accumulates into it; later images always add.
    void BackwardFilter(ConvProblem p, Pointers ptr, ConvAlgorithm algorithm, MathMode math, float firstBeta)
    {
        var s = Sizes.Of(p);
        using var columns = RentColumns(p, algorithm, out int chunk);
        for (int n0 = 0; n0 < p.N; n0 += chunk)
        {
            int count = Math.Min(chunk, p.N - n0);
            ulong x = ptr.X + Bytes(n0 * s.XImage);
            ulong colBase = columns is null ? x : columns.Pointer;
            if (columns is not null) Im2ColLaunch(p, x, colBase, count);
            // dW[g] (Kg×R) (+)= dY[n,g] (Kg×S) · col[n,g]ᵀ (S×R), one image at a time in batch order.
            for (int i = 0; i < count; i++)
            {
                float beta = n0 + i == 0 ? firstBeta : 1f;
                RowMajorGemm.Run(_runtime, false, true, s.Kg, s.R, s.S,
                    ptr.Y + Bytes((n0 + i) * s.YImage), s.S, (long)s.Kg * s.S,
                    colBase + Bytes(i * s.ColImage), s.S, (long)s.R * s.S, beta,
                    ptr.W, s.R, (long)s.Kg * s.R, p.Groups, math);
            }
        }
    }

    void DepthwiseForward(ConvProblem p, Pointers ptr)
    {
        // One thread per row group of 4 outputs (PtxKernelArguments.DepthwiseThreads).
        _runtime.Launch("depthwise.ptx", "depthwise_fwd_f32", Grid(PtxKernelArguments.DepthwiseThreads(p)), BlockSize,
            PtxKernelArguments.DepthwisePack(p, ptr.X, ptr.W, ptr.Bias, ptr.Y));
    }

    // ---- helpers ----

    /// <summary>Sizes in elements: R rows and S columns of a group's column matrix, Kg = K/g, per-image strides.</summary>
    readonly record struct Sizes(int R, int S, int Kg, long ColImage, long XImage, long YImage)
    {
        public static Sizes Of(ConvProblem p) => new(
            (int)Im2Col.Rows(p), (int)Im2Col.Cols(p), p.KPerGroup,
            (long)p.C * p.KernelVolume * p.YShape.SpatialSize,
            (long)p.C * p.XShape.SpatialSize, (long)p.K * p.YShape.SpatialSize);
    }

    /// <summary>
    /// The column buffer of a run, sized for <paramref name="chunk"/> images: the batch is processed in workspace-sized
    /// chunks. None for 1×1, whose whole batch is one chunk.
    /// The buffer goes back to the pool when the work is issued, not when it has run (as the cudnn backend's
    /// workspaces do): whatever is issued with it later runs after it on the same stream, and the pool waits
    /// for the device before it frees a block (IDeviceAllocator.WaitForPendingWork). So no wait per call.
    /// </summary>
    IDeviceScratch? RentColumns(ConvProblem p, ConvAlgorithm algorithm, out int chunk)
    {
        if (algorithm.Id == Pointwise)
        {
            chunk = p.N;
            return null;
        }
        chunk = ChunkImages(p);
        return _runtime.AllocateScratch(chunk * ColumnBytesPerImage(p), algorithm.Key);
    }

    // The purpose of an accumulate run's result scratch, built once per algorithm rather than concatenated per call.
    sealed record Purpose(ConvAlgorithm Algorithm, string Text);
    Purpose? _accumulatePurpose;

    string AccumulatePurpose(ConvAlgorithm algorithm)
    {
        var known = _accumulatePurpose;
        if (known is not null && ReferenceEquals(known.Algorithm, algorithm)) return known.Text;
        var made = new Purpose(algorithm, algorithm.Key + " (accumulate)");
        _accumulatePurpose = made;
        return made.Text;
    }

    void Im2ColLaunch(ConvProblem p, ulong x, ulong col, int images) => LaunchIm2Col(_runtime, p, x, col, images);

    /// <summary>im2col_f32 for <paramref name="images"/> images from <paramref name="x"/> into <paramref name="col"/>, launched as the backend launches it (the probe times this).</summary>
    internal static void LaunchIm2Col(IPtxRuntime runtime, ConvProblem p, ulong x, ulong col, int images) =>
        runtime.Launch("im2col.ptx", "im2col_f32", Grid(PtxKernelArguments.Im2ColThreads(p, images)), BlockSize,
            PtxKernelArguments.Im2ColPack(p, x, col, images));

    void Col2ImLaunch(ConvProblem p, ulong col, ulong dx, int images) =>
        _runtime.Launch("col2im.ptx", "col2im_f32", Grid((long)images * p.C * p.XShape.SpatialSize), BlockSize,
            PtxKernelArguments.Col2ImPack(p, col, dx, images));

    void BiasAdd(ulong y, ulong bias, TensorShape shape, Activation activation = Activation.Identity) =>
        _runtime.Launch("bias.ptx", "bias_add_f32", Grid(shape.ElementCount), BlockSize,
            BiasAddPack(y, bias, shape.ElementCount, shape.C, shape.SpatialSize, activation));

    /// <summary>bias_add_f32(y, bias, count .u64, channels .u32, spatial .u64, activation .u32).</summary>
    internal static KernelArgumentPack BiasAddPack(ulong y, ulong bias, long count, long channels, long spatial, Activation activation)
    {
        var args = new KernelArgumentPack();
        args.Add(y).Add(bias).Add((ulong)count).Add((uint)channels).Add((ulong)spatial).Add(BiasActivationCode(activation));
        return args;
    }

    /// <summary>bias_add_f32's activation parameter: 0 none, 1 ReLU, 2 ReLU6, 3 SiLU, 4 hardswish, 5 sigmoid,
    /// 6 hardsigmoid, 7 GELU, 8 GELU (tanh) (kernels/bias.ptx): the member's own value.</summary>
    internal static uint BiasActivationCode(Activation activation) => activation switch
    {
        Activation.Identity => 0u,
        Activation.Relu => 1u,
        Activation.Relu6 => 2u,
        Activation.Silu => 3u,
        Activation.Hardswish => 4u,
        Activation.Sigmoid => 5u,
        Activation.Hardsigmoid => 6u,
        Activation.Gelu => 7u,
        Activation.GeluTanh => 8u,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "not an Activation"),
    };

    static uint Grid(long elements) => (uint)Math.Clamp((elements + BlockSize - 1) / BlockSize, 1, MaxBlocks);

    static ulong Bytes(long elements) => (ulong)elements * sizeof(float);
}
