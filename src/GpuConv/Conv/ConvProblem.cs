using GpuConv.Tensors;

namespace GpuConv.Conv;

/// <summary>
/// One convolution to run: the geometry of the underlying convolution y = conv(x, w) and the op.
/// X is [N, C, in…], W is [K, C/groups, k…], Y is [N, K, out…]. A transposed convolution is stored
/// as this underlying convolution (see <see cref="Create"/>), so backends see one shape of problem.
/// Immutable; equality covers everything that changes the answer (it keys the plan cache).
/// </summary>
public sealed class ConvProblem : IEquatable<ConvProblem>
{
    ConvProblem(ConvSpec spec, TensorShape x, TensorShape w, TensorShape y, ConvOp op, bool constantWeights = false)
    {
        Spec = spec;
        XShape = x;
        WShape = w;
        YShape = y;
        Op = op;
        // W is what backward-filter writes: there is nothing to keep prepared.
        ConstantWeights = constantWeights && op != ConvOp.BackwardFilter;
    }

    /// <summary>The underlying convolution's spec (never transposed).</summary>
    public ConvSpec Spec { get; }
    /// <summary>Shape of X: [N, C, in…] of the underlying convolution.</summary>
    public TensorShape XShape { get; }
    /// <summary>Shape of W: [K, C/groups, k…].</summary>
    public TensorShape WShape { get; }
    /// <summary>Shape of Y: [N, K, out…] of the underlying convolution.</summary>
    public TensorShape YShape { get; }
    /// <summary>Which pass to run: forward, backward-data or backward-filter.</summary>
    public ConvOp Op { get; }
    /// <summary>
    /// Whether the calls this problem is planned for keep W unchanged (inference, a frozen layer), as
    /// <see cref="Backends.ConvTensors.ConstantWeights"/> promises; false (the default) when W changes between
    /// calls (training). A planning input: a backend that prepares W once is fast only when the promise
    /// holds, so exhaustive planning times the candidates that way and plans are kept per value. The engine
    /// sets it from each call; always false for backward-filter, which writes W.
    /// </summary>
    public bool ConstantWeights { get; }

    /// <summary>Spatial dimensions (1–3).</summary>
    public int Rank => Spec.Rank;
    /// <summary>Batch size.</summary>
    public int N => XShape.N;
    /// <summary>Input channels of the underlying convolution.</summary>
    public int C => XShape.C;
    /// <summary>Output channels of the underlying convolution.</summary>
    public int K => YShape.C;
    /// <summary>Channel groups (<see cref="ConvSpec.Groups"/>).</summary>
    public int Groups => Spec.Groups;
    /// <summary>Input channels per group.</summary>
    public int CPerGroup => C / Groups;
    /// <summary>Output channels per group.</summary>
    public int KPerGroup => K / Groups;
    /// <summary>Spatial sizes of X (a new array each call).</summary>
    public int[] InSpatial => XShape.Spatial;
    /// <summary>Spatial sizes of Y (a new array each call).</summary>
    public int[] OutSpatial => YShape.Spatial;
    /// <summary>Taps per filter: the product of the kernel sizes.</summary>
    public long KernelVolume => Spec.Kernel.Aggregate(1L, (a, b) => a * b);
    /// <summary>True when groups == input channels and groups > 1.</summary>
    public bool IsDepthwise => Spec.IsDepthwise(C);

    /// <summary>
    /// A 1x1, unit-stride, unpadded convolution whose X and Y have the same spatial size: one GEMM per
    /// image. (<see cref="ConvSpec.IsPointwise"/> alone is not enough: with <see cref="HasUnreachedInput"/>
    /// X is longer than Y.)
    /// </summary>
    public bool IsPointwise => Spec.IsPointwise && !HasUnreachedInput;

    /// <summary>
    /// True when X ends in positions that no output reads (Y is shorter than the convolution of X would be):
    /// a transposed convolution whose output padding is &gt;= stride (allowed when &lt; dilation, as in PyTorch).
    /// Backward data leaves those positions at zero (+ bias); backends whose descriptors derive Y from X decline it.
    /// </summary>
    public bool HasUnreachedInput
    {
        get
        {
            for (int d = 0; d < Rank; d++)
                if (Spec.ConvOutputSizeLong(d, XShape[2 + d]) != YShape[2 + d]) return true;
            return false;
        }
    }

    /// <summary>Multiply-adds × 2 of the op (the same count for all three ops).</summary>
    public double Flops => 2.0 * N * K * YShape.SpatialSize * CPerGroup * KernelVolume;

    /// <summary>The tensor the op writes: Y for forward, X for backward-data, W for backward-filter.</summary>
    public TensorShape OutputShape => Op switch
    {
        ConvOp.Forward => YShape,
        ConvOp.BackwardData => XShape,
        _ => WShape,
    };

    /// <summary>Channels of the tensor a bias is added to (Y's K for forward, X's C for backward-data).</summary>
    public int BiasLength => Op == ConvOp.BackwardData ? C : K;

    /// <summary>
    /// Builds the problem for <paramref name="spec"/> applied to an input of shape <paramref name="input"/>
    /// with filters <paramref name="filter"/> in PyTorch layout, for the user-level <paramref name="op"/>.
    /// Plain conv: input is x [N, C, …], filter [K, C/g, k…]. Transposed conv: input is [N, Cin, …],
    /// filter [Cin, Cout/g, k…]; it is stored as the convolution it is the adjoint of (K = Cin, C = Cout),
    /// so its forward is BackwardData, its input gradient is Forward, its filter gradient BackwardFilter.
    /// Throws <see cref="ArgumentException"/> naming the field and values for every inconsistency.
    /// </summary>
    public static ConvProblem Create(ConvSpec spec, TensorShape input, TensorShape filter, ConvOp op = ConvOp.Forward)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(filter);
        CheckOp(op);
        int rank = spec.Rank;
        if (input.Rank != rank + 2)
            throw new ArgumentException($"input must have rank {rank + 2} (N, C and {rank} spatial) for a {rank}-d spec, got shape {input}.", nameof(input));
        if (filter.Rank != rank + 2)
            throw new ArgumentException($"filter must have rank {rank + 2} for a {rank}-d spec, got shape {filter}.", nameof(filter));
        for (int d = 0; d < rank; d++)
            if (filter[2 + d] != spec.Kernel[d])
                throw new ArgumentException($"filter spatial size {ConvSpec.Show(filter.Dims.Skip(2))} does not match spec kernel {ConvSpec.Show(spec.Kernel)} (dimension {d}).", nameof(filter));
        int g = spec.Groups;
        var conv = spec.AsConvolution();

        if (!spec.Transposed)
        {
            int c = input.C, k = filter[0];
            if (c % g != 0)
                throw new ArgumentException($"input channels {c} must be divisible by groups {g}.", nameof(input));
            if (k % g != 0)
                throw new ArgumentException($"output channels (filter[0]) {k} must be divisible by groups {g}.", nameof(filter));
            if (filter[1] != c / g)
                throw new ArgumentException($"filter[1] = {filter[1]} must equal input channels / groups = {c}/{g} = {c / g} (filter {filter}, input {input}).", nameof(filter));
            CheckPaddingModeFits(spec, input);
            var y = new TensorShape([input.N, k, .. spec.OutputSpatial(input.Spatial)]);
            return Checked(conv, input, filter, y, op);
        }

        int cin = input.C;
        if (filter[0] != cin)
            throw new ArgumentException($"transposed filter[0] = {filter[0]} must equal input channels {cin} (filter layout [Cin, Cout/groups, k…], filter {filter}, input {input}).", nameof(filter));
        if (cin % g != 0)
            throw new ArgumentException($"input channels {cin} must be divisible by groups {g}.", nameof(input));
        int cout = filter[1] * g;
        var x = new TensorShape([input.N, cout, .. spec.OutputSpatial(input.Spatial)]);
        // The convolution that maps x back covers at least the transposed input: with output padding
        // >= stride (allowed when < dilation, as in PyTorch) x ends in rows that no input reaches,
        // which the underlying convolution's y then stops short of (see ConvBounds).
        for (int d = 0; d < rank; d++)
            if (conv.ConvOutputSizeLong(d, x[2 + d]) < input[2 + d])
                throw new ArgumentException($"transposed geometry is inconsistent in dimension {d}: output {x[2 + d]} does not convolve back to input {input[2 + d]}.", nameof(spec));
        var underlyingOp = op switch
        {
            ConvOp.Forward => ConvOp.BackwardData,
            ConvOp.BackwardData => ConvOp.Forward,
            _ => ConvOp.BackwardFilter,
        };
        return Checked(conv, x, filter, input, underlyingOp);
    }

    /// <summary>
    /// The last step of every construction: bounds every size a kernel derives from the geometry
    /// (see <see cref="ConvBounds.Check"/>) and normalises strides that cannot matter. With a padding mode, the
    /// explicitly padded problem is checked too (its X is larger), so a problem that builds also runs.
    /// </summary>
    static ConvProblem Checked(ConvSpec conv, TensorShape x, TensorShape w, TensorShape y, ConvOp op)
    {
        var problem = new ConvProblem(ConvBounds.Check(conv, x, w, y), x, w, y, op);
        if (conv.HasPaddingMode) _ = problem.ExplicitlyPadded;
        return problem;
    }

    /// <summary>
    /// PyTorch's input-size rules of the padding modes, per spatial dimension: reflect needs each pad &lt; the input
    /// size, circular each pad ≤ it (replicate only a non-empty input, which every shape is).
    /// </summary>
    static void CheckPaddingModeFits(ConvSpec spec, TensorShape input)
    {
        if (!spec.HasPaddingMode) return;
        for (int d = 0; d < spec.Rank; d++)
            if (PaddingModes.PadLimitError(spec.PaddingMode, spec.PadBegin[d], spec.PadEnd[d], input[2 + d]) is { } why)
                throw new ArgumentException($"{why}: padBegin[{d}] = {spec.PadBegin[d]}, padEnd[{d}] = {spec.PadEnd[d]}, input {input} (spatial dimension {d} of size {input[2 + d]}).", nameof(input));
    }

    /// <summary>
    /// The convolution that runs for a padding mode other than zeros: the same W and Y, X padded explicitly
    /// (<see cref="PaddedXShape"/>: [N, C, in + padBegin + padEnd …]) and no padding of its own. This problem itself when the
    /// mode is zeros. The planner plans, and the backends run, this one; the engine pads X into it (forward,
    /// backward-filter) or folds its X gradient back (backward-data) with <see cref="ConvEngine.Pad"/>'s loops and kernels.
    /// </summary>
    public ConvProblem ExplicitlyPadded
    {
        get
        {
            if (!Spec.HasPaddingMode) return this;
            if (explicitlyPadded is { } known) return known;
            var dims = new int[XShape.Rank];
            dims[0] = XShape.N;
            dims[1] = XShape.C;
            for (int d = 0; d < Rank; d++)
            {
                long padded = (long)XShape[2 + d] + Spec.PadBegin[d] + Spec.PadEnd[d];
                if (padded > int.MaxValue)
                    throw new ArgumentException($"spatial dimension {d} padded explicitly would be {padded} (> {int.MaxValue}): input {XShape[2 + d]}, padding ({Spec.PadBegin[d]}, {Spec.PadEnd[d]}).", "input");
                dims[2 + d] = (int)padded;
            }
            var x = new TensorShape(dims);
            var unpadded = Spec.Unpadded();
            return explicitlyPadded = new ConvProblem(ConvBounds.Check(unpadded, x, WShape, YShape), x, WShape, YShape, Op, ConstantWeights);
        }
    }

    ConvProblem? explicitlyPadded;

    /// <summary>The shape of X padded explicitly (<see cref="ExplicitlyPadded"/>'s X); X's own shape when the mode is zeros.</summary>
    public TensorShape PaddedXShape => ExplicitlyPadded.XShape;

    /// <summary>The same geometry with another op (e.g. the backward passes of a forward problem).</summary>
    public ConvProblem WithOp(ConvOp op) => op == Op ? this : new ConvProblem(Spec, XShape, WShape, YShape, CheckOp(op), ConstantWeights);

    /// <summary>This problem planned for calls whose W is (true) or is not (false) constant; see <see cref="ConstantWeights"/>.</summary>
    public ConvProblem WithConstantWeights(bool constant)
    {
        bool want = constant && Op != ConvOp.BackwardFilter;
        if (want == ConstantWeights) return this;
        // The constant-weights twin is made once: inference calls ask for it on every call.
        return want ? constantTwin ??= new ConvProblem(Spec, XShape, WShape, YShape, Op, true) : new ConvProblem(Spec, XShape, WShape, YShape, Op, false);
    }

    ConvProblem? constantTwin;

    // A cast integer is not an op: without this check it would be planned and run as nothing at all.
    static ConvOp CheckOp(ConvOp op) => Enum.IsDefined(op) ? op
        : throw new ArgumentException($"op {(int)op} is not a ConvOp (Forward, BackwardData or BackwardFilter).", nameof(op));

    /// <summary>The same problem with another batch size.</summary>
    public ConvProblem WithBatch(int n)
    {
        if (n < 1)
            throw new ArgumentException($"batch must be >= 1, got {n}.", "batch");
        return n == N ? this : Checked(Spec, XShape.WithDim(0, n), WShape, YShape.WithDim(0, n), Op).WithConstantWeights(ConstantWeights);
    }

    /// <summary>
    /// Bytes this problem needs at least on the backend that runs it: the three float32 tensors plus one
    /// zero-padded copy of X (what the im2col-free CPU algorithms and explicit-padding GPU paths make).
    /// A backend's workspace comes on top; the planner bounds that by its workspace limit.
    /// </summary>
    public long EstimatedBytes => ConvBounds.EstimatedBytes(this);

    /// <summary>
    /// Refuses (before anything is allocated) a problem whose <see cref="EstimatedBytes"/>, times
    /// <paramref name="copies"/>, exceed <paramref name="availableBytes"/>; <paramref name="where"/> names the memory.
    /// </summary>
    public void EnsureFits(long availableBytes, string where, int copies = 1)
    {
        double need = (double)EstimatedBytes * copies;
        if (need > availableBytes)
            throw new ProblemTooLargeException(this, (long)Math.Min(need, long.MaxValue), availableBytes, where);
    }

    /// <summary><see cref="EnsureFits"/> against the memory this process may still take (physical or container limit, less what is in use).</summary>
    public void EnsureFitsInProcess(int copies = 1) => EnsureFits(AvailableInProcess(), "this process", copies);

    /// <summary>
    /// Bytes this process may still take: physical memory (or the container limit) less what is in use (GC's memory load);
    /// under a GC heap hard limit (DOTNET_GCHeapHardLimit or GCHeapHardLimitPercent), that limit less the heap's committed bytes.
    /// </summary>
    public static long AvailableInProcess()
    {
        var info = GC.GetGCMemoryInfo();
        // With a hard limit, TotalAvailableMemoryBytes is the limit but MemoryLoadBytes is still the whole machine's memory
        // in use: a 1 GiB limit on a machine using 1.7 GB read as 0 bytes available and refused every call of 64 MiB or more.
        long used = HeapHardLimit > 0 ? info.TotalCommittedBytes : info.MemoryLoadBytes;
        return Math.Max(0, info.TotalAvailableMemoryBytes - used);
    }

    /// <summary>The GC's heap hard limit in bytes (0: none), read once: it is fixed when the runtime starts.</summary>
    static readonly long HeapHardLimit = ReadHeapHardLimit();

    static long ReadHeapHardLimit()
    {
        try
        {
            return GC.GetConfigurationVariables().TryGetValue("GCHeapHardLimit", out var v) && v is long limit ? limit : 0;
        }
        catch (PlatformNotSupportedException)
        {
            return 0;
        }
    }

    /// <summary>True when op, spec and all three shapes are equal.</summary>
    public bool Equals(ConvProblem? other) =>
        ReferenceEquals(this, other) || // the engine's calls meet the same instance again (remembered problems)
        other is not null && Op == other.Op && Spec.Equals(other.Spec) &&
        XShape.Equals(other.XShape) && WShape.Equals(other.WShape) && YShape.Equals(other.YShape) &&
        ConstantWeights == other.ConstantWeights;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ConvProblem);
    /// <inheritdoc/>
    public override int GetHashCode() => hash != 0 ? hash : hash = HashCode.Combine(Op, Spec, XShape, WShape, YShape, ConstantWeights);

    /// <summary>The hash, computed once (every part is immutable): the planner and backends look problems up on every call.</summary>
    int hash;

    /// <summary>Op, the three shapes and the spec, e.g. "Forward x[1, 3, 8, 8] w[4, 3, 3, 3] y[1, 4, 6, 6] conv2d k=3x3 …".</summary>
    public override string ToString() => $"{Op} x{XShape} w{WShape} y{YShape} {Spec}{(ConstantWeights ? " constant-weights" : "")}";
}
