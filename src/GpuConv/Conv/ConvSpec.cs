using System.Collections.Immutable;

namespace GpuConv.Conv;

/// <summary>
/// The hyper-parameters of an N-d convolution (rank 1–3), immutable and validated on construction.
/// Semantics follow PyTorch/ONNX: cross-correlation, per-dimension (begin, end) padding,
/// groups (depthwise when groups == channels), transposed convolution with output padding, and PyTorch's
/// padding modes (<see cref="Conv.PaddingMode"/>: zeros, reflect, replicate, circular).
/// </summary>
public sealed class ConvSpec : IEquatable<ConvSpec>
{
    /// <summary>Largest supported number of spatial dimensions.</summary>
    public const int MaxRank = 3;

    /// <summary>Spatial dimensions (1–3).</summary>
    public int Rank => Kernel.Length;
    /// <summary>Kernel size per spatial dimension.</summary>
    public ImmutableArray<int> Kernel { get; }
    /// <summary>Stride per spatial dimension (for a transposed convolution, the upsampling factor).</summary>
    public ImmutableArray<int> Stride { get; }
    /// <summary>Dilation per spatial dimension (1 = dense taps).</summary>
    public ImmutableArray<int> Dilation { get; }
    /// <summary>Padding before each spatial dimension, in elements (filled as <see cref="PaddingMode"/> says).</summary>
    public ImmutableArray<int> PadBegin { get; }
    /// <summary>Padding after each spatial dimension, in elements (filled as <see cref="PaddingMode"/> says).</summary>
    public ImmutableArray<int> PadEnd { get; }
    /// <summary>
    /// What the padding holds (PyTorch's <c>padding_mode</c>): zeros (the default), or the input reflected, replicated or
    /// wrapped around. Transposed convolutions take zeros only, as in PyTorch.
    /// </summary>
    public PaddingMode PaddingMode { get; }
    /// <summary>Channel groups; input and output channels must both be divisible by it.</summary>
    public int Groups { get; }
    /// <summary>True for a transposed convolution (the gradient of a convolution with respect to its input).</summary>
    public bool Transposed { get; }
    /// <summary>Extra size added at the end of each dimension of a transposed convolution's output.</summary>
    public ImmutableArray<int> OutputPadding { get; }

    /// <summary>
    /// Builds a spec. Every list but <paramref name="kernel"/> may be null (default), hold one value
    /// (used for every dimension) or one value per spatial dimension. <paramref name="paddingMode"/> is PyTorch's
    /// <c>padding_mode</c>; the input-size rules of reflect (pad &lt; size) and circular (pad ≤ size) are checked
    /// against the input when a problem is built (<see cref="ConvProblem.Create"/>).
    /// </summary>
    public ConvSpec(
        IReadOnlyList<int> kernel,
        IReadOnlyList<int>? stride = null,
        IReadOnlyList<int>? dilation = null,
        IReadOnlyList<int>? padBegin = null,
        IReadOnlyList<int>? padEnd = null,
        int groups = 1,
        bool transposed = false,
        IReadOnlyList<int>? outputPadding = null,
        PaddingMode paddingMode = PaddingMode.Zeros)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.Count < 1 || kernel.Count > MaxRank)
            throw new ArgumentException($"kernel must have 1 to {MaxRank} spatial dimensions, got {kernel.Count} ({Show(kernel)}).", nameof(kernel));
        int rank = kernel.Count;
        Kernel = Positive(kernel, "kernel");
        Stride = Positive(Expand(stride, rank, 1, nameof(stride)), "stride");
        Dilation = Positive(Expand(dilation, rank, 1, nameof(dilation)), "dilation");
        PadBegin = NonNegative(Expand(padBegin, rank, 0, nameof(padBegin)), "padBegin");
        // A single padding list means symmetric padding, as PyTorch's `padding=`.
        PadEnd = NonNegative(Expand(padEnd ?? padBegin, rank, 0, nameof(padEnd)), "padEnd");
        if (groups < 1)
            throw new ArgumentException($"groups must be >= 1, got {groups}.", nameof(groups));
        Groups = groups;
        Transposed = transposed;
        if (paddingMode is not (PaddingMode.Zeros or PaddingMode.Reflect or PaddingMode.Replicate or PaddingMode.Circular))
            throw new ArgumentException($"paddingMode {(int)paddingMode} is not a PaddingMode (Zeros, Reflect, Replicate or Circular).", nameof(paddingMode));
        if (transposed && paddingMode != PaddingMode.Zeros)
            throw new ArgumentException($"paddingMode {paddingMode} applies only to a plain convolution: a transposed convolution pads with zeros only (PyTorch's ConvTranspose takes padding_mode='zeros' only), got transposed = true.", nameof(paddingMode));
        PaddingMode = paddingMode;
        // Every extent later derived from these values is computed here once, in 64-bit arithmetic,
        // so that no kernel ever sees a size that wrapped around (issue 14, item 1).
        var dilated = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            long extent = (long)Dilation[d] * (Kernel[d] - 1) + 1;
            if (extent > int.MaxValue)
                throw new ArgumentException($"dilated kernel extent dilation[{d}] * (kernel[{d}] - 1) + 1 = {Dilation[d]} * ({Kernel[d]} - 1) + 1 = {extent} exceeds {int.MaxValue}.", nameof(dilation));
            dilated[d] = (int)extent;
        }
        dilatedKernel = dilated;
        OutputPadding = NonNegative(Expand(outputPadding, rank, 0, nameof(outputPadding)), "outputPadding");
        for (int d = 0; d < rank; d++)
        {
            if (!transposed && OutputPadding[d] != 0)
                throw new ArgumentException($"outputPadding applies only to transposed convolution, got outputPadding[{d}] = {OutputPadding[d]} with transposed = false.", nameof(outputPadding));
            // PyTorch: output padding must be smaller than either stride or dilation.
            if (OutputPadding[d] != 0 && OutputPadding[d] >= Stride[d] && OutputPadding[d] >= Dilation[d])
                throw new ArgumentException($"outputPadding[{d}] = {OutputPadding[d]} must be smaller than stride[{d}] = {Stride[d]} or dilation[{d}] = {Dilation[d]}.", nameof(outputPadding));
        }
    }

    /// <summary>
    /// PyTorch's padding='same': stride 1 only; the odd extra padding goes at the end. The parameters come in the
    /// constructor's (and PyTorch's) order, as in <see cref="Valid"/>; <paramref name="stride"/> is there so that a
    /// stride other than 1 is refused with a pointer to <see cref="SameUpper"/>.
    /// </summary>
    public static ConvSpec Same(IReadOnlyList<int> kernel, IReadOnlyList<int>? stride = null, IReadOnlyList<int>? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        int rank = kernel.Count;
        var strides = Expand(stride, rank, 1, nameof(stride));
        for (int d = 0; d < rank; d++)
            if (strides[d] != 1)
                throw new ArgumentException($"padding 'same' requires stride 1 (as in PyTorch), got stride[{d}] = {strides[d]}; use SameUpper/SameLower for ONNX auto_pad with strides.", nameof(stride));
        var dil = Expand(dilation, rank, 1, nameof(dilation));
        // Validate kernel, dilation and groups first: a negative dilation would otherwise be blamed on the padding.
        _ = new ConvSpec(kernel, strides, dil, groups: groups);
        var begin = new int[rank];
        var end = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            long total = (long)dil[d] * (kernel[d] - 1);
            if (total > int.MaxValue)
                throw new ArgumentException($"padding 'same' needs dilation[{d}] * (kernel[{d}] - 1) = {dil[d]} * ({kernel[d]} - 1) = {total} in total, more than {int.MaxValue}.", nameof(dilation));
            begin[d] = (int)(total / 2);
            end[d] = (int)(total - begin[d]);
        }
        return new ConvSpec(kernel, strides, dil, begin, end, groups);
    }

    /// <summary>PyTorch's padding='valid': no padding.</summary>
    public static ConvSpec Valid(IReadOnlyList<int> kernel, IReadOnlyList<int>? stride = null, IReadOnlyList<int>? dilation = null, int groups = 1) =>
        new(kernel, stride, dilation, [0], [0], groups);

    /// <summary>ONNX auto_pad SAME_UPPER (extra padding at the end) for the given input spatial size.</summary>
    public static ConvSpec SameUpper(IReadOnlyList<int> kernel, IReadOnlyList<int> inputSpatial, IReadOnlyList<int>? stride = null, IReadOnlyList<int>? dilation = null, int groups = 1) =>
        OnnxSame(kernel, inputSpatial, stride, dilation, groups, upper: true);

    /// <summary>ONNX auto_pad SAME_LOWER (extra padding at the beginning) for the given input spatial size.</summary>
    public static ConvSpec SameLower(IReadOnlyList<int> kernel, IReadOnlyList<int> inputSpatial, IReadOnlyList<int>? stride = null, IReadOnlyList<int>? dilation = null, int groups = 1) =>
        OnnxSame(kernel, inputSpatial, stride, dilation, groups, upper: false);

    static ConvSpec OnnxSame(IReadOnlyList<int> kernel, IReadOnlyList<int> inputSpatial, IReadOnlyList<int>? stride, IReadOnlyList<int>? dilation, int groups, bool upper)
    {
        ArgumentNullException.ThrowIfNull(inputSpatial);
        // Validate kernel, stride, dilation and groups first: a zero stride would otherwise divide by zero below.
        var probe = new ConvSpec(kernel, stride, dilation, groups: groups);
        int rank = kernel.Count;
        if (inputSpatial.Count != rank)
            throw new ArgumentException($"inputSpatial has {inputSpatial.Count} dimensions ({Show(inputSpatial)}) but kernel has {rank} ({Show(kernel)}).", nameof(inputSpatial));
        var st = Expand(stride, rank, 1, nameof(stride));
        var dil = Expand(dilation, rank, 1, nameof(dilation));
        var begin = new int[rank];
        var end = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            if (inputSpatial[d] < 1)
                throw new ArgumentException($"inputSpatial[{d}] must be >= 1, got {inputSpatial[d]} (inputSpatial = {Show(inputSpatial)}).", nameof(inputSpatial));
            long outSize = ((long)inputSpatial[d] + st[d] - 1) / st[d];
            long total = Math.Max(0, (outSize - 1) * st[d] + probe.DilatedKernel(d) - inputSpatial[d]);
            if (total > int.MaxValue)
                throw new ArgumentException($"auto_pad needs {total} padding in spatial dimension {d} (input {inputSpatial[d]}, kernel {kernel[d]}, stride {st[d]}, dilation {dil[d]}), more than {int.MaxValue}.", nameof(inputSpatial));
            int small = (int)(total / 2), large = (int)total - small;
            (begin[d], end[d]) = upper ? (small, large) : (large, small);
        }
        return new ConvSpec(kernel, st, dil, begin, end, groups);
    }

    /// <summary>
    /// Splits ONNX's pads attribute <c>[x1_begin, x2_begin, …, x1_end, x2_end, …]</c> into begin and end lists.
    /// </summary>
    public static (int[] Begin, int[] End) SplitOnnxPads(IReadOnlyList<int> pads, int rank)
    {
        ArgumentNullException.ThrowIfNull(pads);
        if (rank < 1 || rank > MaxRank)
            throw new ArgumentException($"rank must be 1 to {MaxRank} (spatial dimensions), got {rank}.", nameof(rank));
        if (pads.Count != 2 * rank)
            throw new ArgumentException($"pads must hold 2 values per spatial dimension (ONNX order begin…, end…): expected {2 * rank} for rank {rank}, got {pads.Count} ({Show(pads)}).", nameof(pads));
        return (pads.Take(rank).ToArray(), pads.Skip(rank).ToArray());
    }

    /// <summary>
    /// The same spec with transposed = true and the given output padding: PyTorch's ConvTranspose with these kernel,
    /// stride, padding, dilation and groups, whose weight is [C_in, C_out/groups, k…] (PyTorch's layout).
    /// </summary>
    public ConvSpec AsTransposed(IReadOnlyList<int>? outputPadding = null) =>
        new(Kernel, Stride, Dilation, PadBegin, PadEnd, Groups, transposed: true, outputPadding, PaddingMode);

    /// <summary>
    /// The same spec with another padding mode, e.g. <c>ConvSpec.Same([3, 3]).WithPaddingMode(PaddingMode.Reflect)</c> for
    /// PyTorch's <c>Conv2d(…, padding='same', padding_mode='reflect')</c>.
    /// </summary>
    public ConvSpec WithPaddingMode(PaddingMode paddingMode) =>
        paddingMode == PaddingMode ? this : new(Kernel, Stride, Dilation, PadBegin, PadEnd, Groups, Transposed, OutputPadding, paddingMode);

    /// <summary>The same spec with the given strides (kept: padding mode and everything else).</summary>
    internal ConvSpec WithStride(IReadOnlyList<int> stride) =>
        new(Kernel, stride, Dilation, PadBegin, PadEnd, Groups, Transposed, OutputPadding, PaddingMode);

    /// <summary>The same kernel, stride, dilation and groups with no padding at all: what runs on an explicitly padded input.</summary>
    internal ConvSpec Unpadded() => new(Kernel, Stride, Dilation, [0], [0], Groups);

    /// <summary>The same geometry as a plain convolution (what a transposed convolution is the adjoint of).</summary>
    public ConvSpec AsConvolution() =>
        Transposed ? new(Kernel, Stride, Dilation, PadBegin, PadEnd, Groups) : this;

    /// <summary>Effective (dilated) kernel extent in dimension d.</summary>
    public int DilatedKernel(int d) => dilatedKernel[CheckDimension(d)];

    /// <summary>
    /// Convolution output size: floor((in + pb + pe - dil*(k-1) - 1) / stride) + 1; may be &lt; 1 (invalid).
    /// Throws <see cref="ArgumentException"/> when it exceeds <see cref="int.MaxValue"/>.
    /// </summary>
    public int ConvOutputSize(int d, int inputSize) => FitsInt(ConvOutputSizeLong(CheckDimension(d), inputSize), d, inputSize);

    /// <summary>Transposed-convolution output size: (in - 1)*stride - pb - pe + dil*(k-1) + 1 + output_padding.</summary>
    public int TransposedOutputSize(int d, int inputSize) => FitsInt(TransposedOutputSizeLong(CheckDimension(d), inputSize), d, inputSize);

    // The public per-dimension members name the bad index instead of an IndexOutOfRangeException.
    int CheckDimension(int d) => (uint)d < (uint)Rank ? d
        : throw new ArgumentOutOfRangeException(nameof(d), d, $"spatial dimension {d} is outside this spec's rank {Rank} (0 to {Rank - 1}).");

    /// <summary><see cref="ConvOutputSize"/> in 64-bit arithmetic (cannot overflow for int inputs).</summary>
    internal long ConvOutputSizeLong(int d, long inputSize) =>
        FloorDiv(inputSize + PadBegin[d] + PadEnd[d] - DilatedKernel(d), Stride[d]) + 1;

    /// <summary><see cref="TransposedOutputSize"/> in 64-bit arithmetic (cannot overflow for int inputs).</summary>
    internal long TransposedOutputSizeLong(int d, long inputSize) =>
        (inputSize - 1) * Stride[d] - PadBegin[d] - PadEnd[d] + DilatedKernel(d) + OutputPadding[d];

    static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    int FitsInt(long size, int d, int inputSize) => size <= int.MaxValue ? (int)size
        : throw new ArgumentException(
            $"output size in spatial dimension {d} would be {size} (> {int.MaxValue}): input {inputSize}, kernel {Kernel[d]}, dilation {Dilation[d]}, stride {Stride[d]}, padding ({PadBegin[d]}, {PadEnd[d]})" +
            (Transposed ? $", output padding {OutputPadding[d]}." : "."), "inputSpatial");

    /// <summary>Output spatial sizes for this spec (transposed or not); throws if any is below 1.</summary>
    public int[] OutputSpatial(IReadOnlyList<int> inputSpatial)
    {
        ArgumentNullException.ThrowIfNull(inputSpatial);
        if (inputSpatial.Count != Rank)
            throw new ArgumentException($"input has {inputSpatial.Count} spatial dimensions ({Show(inputSpatial)}) but the spec has rank {Rank} (kernel {Show(Kernel)}).", nameof(inputSpatial));
        var result = new int[Rank];
        for (int d = 0; d < Rank; d++)
        {
            long size = Transposed ? TransposedOutputSizeLong(d, inputSpatial[d]) : ConvOutputSizeLong(d, inputSpatial[d]);
            result[d] = FitsInt(size, d, inputSpatial[d]);
            if (size < 1)
                throw new ArgumentException(
                    $"output size in spatial dimension {d} would be {size} (< 1): input {inputSpatial[d]}, kernel {Kernel[d]}, dilation {Dilation[d]}, stride {Stride[d]}, padding ({PadBegin[d]}, {PadEnd[d]})" +
                    (Transposed ? $", output padding {OutputPadding[d]}." : "."), nameof(inputSpatial));
        }
        return result;
    }

    /// <summary>True when groups > 1 and groups == <paramref name="inputChannels"/>.</summary>
    public bool IsDepthwise(int inputChannels) => Groups > 1 && Groups == inputChannels;
    /// <summary>True when every stride is 1.</summary>
    public bool IsUnitStride => Stride.All(s => s == 1);
    /// <summary>True when the padding mode is not <see cref="PaddingMode.Zeros"/>: the engine pads the input explicitly, then convolves.</summary>
    public bool HasPaddingMode => PaddingMode != PaddingMode.Zeros;
    /// <summary>True when every begin and end padding is 0.</summary>
    public bool IsUnpadded => PadBegin.All(p => p == 0) && PadEnd.All(p => p == 0);
    /// <summary>True when each dimension pads the same at begin and end.</summary>
    public bool IsSymmetricPadding => PadBegin.SequenceEqual(PadEnd);
    /// <summary>A 1x1 kernel with unit stride and no padding.</summary>
    public bool IsPointwise => Kernel.All(k => k == 1) && IsUnitStride && IsUnpadded;

    readonly int[] dilatedKernel;

    /// <summary>The hash, computed once (every field is immutable).</summary>
    int hash;

    /// <summary>True when every field is equal.</summary>
    public bool Equals(ConvSpec? other) =>
        ReferenceEquals(this, other) ||
        other is not null && Groups == other.Groups && Transposed == other.Transposed && PaddingMode == other.PaddingMode &&
        Kernel.SequenceEqual(other.Kernel) && Stride.SequenceEqual(other.Stride) && Dilation.SequenceEqual(other.Dilation) &&
        PadBegin.SequenceEqual(other.PadBegin) && PadEnd.SequenceEqual(other.PadEnd) && OutputPadding.SequenceEqual(other.OutputPadding);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ConvSpec);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        // Called on every engine call (the planner's memo is keyed by problem): no array of the lists, and computed once.
        if (hash != 0) return hash;
        var h = new HashCode();
        h.Add(Groups); h.Add(Transposed); h.Add(PaddingMode);
        Add(ref h, Kernel); Add(ref h, Stride); Add(ref h, Dilation); Add(ref h, PadBegin); Add(ref h, PadEnd); Add(ref h, OutputPadding);
        return hash = h.ToHashCode();

        static void Add(ref HashCode h, ImmutableArray<int> list)
        {
            foreach (var v in list) h.Add(v);
        }
    }

    /// <summary>Compact form, e.g. "conv2d k=3x3 s=1x1 d=1x1 pad=(1x1)-(1x1) g=1" (" mode=reflect" added for a padding mode).</summary>
    public override string ToString() =>
        $"{(Transposed ? "convT" : "conv")}{Rank}d k={Show(Kernel)} s={Show(Stride)} d={Show(Dilation)} pad=({Show(PadBegin)})-({Show(PadEnd)}) g={Groups}" +
        (Transposed ? $" op={Show(OutputPadding)}" : "") + (HasPaddingMode ? $" mode={PaddingModes.TorchName(PaddingMode)}" : "");

    internal static string Show(IEnumerable<int> values) => string.Join("x", values);

    static int[] Expand(IReadOnlyList<int>? values, int rank, int defaultValue, string field)
    {
        if (values is null || values.Count == 0) return Enumerable.Repeat(defaultValue, rank).ToArray();
        if (values.Count == 1) return Enumerable.Repeat(values[0], rank).ToArray();
        if (values.Count != rank)
            throw new ArgumentException($"{field} must have 1 or {rank} values (one per spatial dimension), got {values.Count} ({Show(values)}).", field);
        return values.ToArray();
    }

    static ImmutableArray<int> Positive(IReadOnlyList<int> values, string field)
    {
        for (int d = 0; d < values.Count; d++)
            if (values[d] < 1)
                throw new ArgumentException($"{field}[{d}] must be >= 1, got {values[d]} ({field} = {Show(values)}).", field);
        return [.. values];
    }

    static ImmutableArray<int> NonNegative(IReadOnlyList<int> values, string field)
    {
        for (int d = 0; d < values.Count; d++)
            if (values[d] < 0)
                throw new ArgumentException($"{field}[{d}] must be >= 0, got {values[d]} ({field} = {Show(values)}).", field);
        return [.. values];
    }
}
