using System.Collections.Immutable;
using System.Globalization;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The parameters of <see cref="ConvEngine.Upsample"/>: PyTorch's <c>F.interpolate(x, size | scale_factor, mode,
/// align_corners, recompute_scale_factor)</c> (nn.Upsample) on an NC[D]HW tensor with 1 to 3 spatial dimensions, the
/// sizes or factors given per spatial dimension, outermost first. Build one with <see cref="ToSize"/> or <see cref="ByScale"/>.
/// <para>
/// PyTorch 1.13's CPU semantics for NCHW tensors, to the bit (see <see cref="UpsampleGeometry"/> for the index arithmetic):
/// with a scale factor the output size is floor(in · factor) (in float64), and unless <see cref="RecomputeScaleFactor"/>
/// the factor itself (as float32 1/factor) maps output to input positions, so 2.1 on 5 elements gives 10 outputs that
/// are not 5 × 2 (in/out) ones. One corner differs from PyTorch 1.13, whose 'nearest' is not consistent with itself there:
/// with a factor whose output is in or 2·in (1.1 or 2.1 on 5), its NCHW forward uses the factor but its backward (and its
/// channels-last forward, which a C = 1 input takes) copies or halves the index; here the forward uses the factor as
/// PyTorch's NCHW forward does, and the backward is that forward's adjoint.
/// Immutable; validated on construction, and against the input by every engine call.
/// </para>
/// </summary>
public sealed class UpsampleSpec : IEquatable<UpsampleSpec>
{
    /// <summary>Largest number of spatial dimensions.</summary>
    public const int MaxRank = 3;

    /// <summary>
    /// Largest input or output extent of <see cref="UpsampleMode.NearestExact"/> and the linear modes, whose positions
    /// PyTorch computes from dst + ½ in float64: below 2^23 every dst + ½ and every index + ½ is a float32, so the float32
    /// arithmetic of the CPU loops and kernels/upsample.ptx (which has no float64) gives PyTorch's values exactly.
    /// </summary>
    public const int MaxInterpolatedExtent = (1 << 23) - 1;

    UpsampleSpec(UpsampleMode mode, ImmutableArray<int> size, ImmutableArray<double> scale, bool alignCorners, bool recompute)
    {
        Mode = mode;
        Size = size;
        ScaleFactor = scale;
        AlignCorners = alignCorners;
        RecomputeScaleFactor = recompute;
    }

    /// <summary>F.interpolate(x, size=<paramref name="size"/>, mode, align_corners): one output extent per spatial dimension (outermost first).</summary>
    /// <exception cref="ArgumentException">A size below 1, a count that does not fit the mode (linear 1, bilinear 2,
    /// trilinear 3, nearest 1 to 3), or align_corners with a nearest mode.</exception>
    public static UpsampleSpec ToSize(UpsampleMode mode, IReadOnlyList<int> size, bool alignCorners = false)
    {
        ArgumentNullException.ThrowIfNull(size);
        CheckMode(mode, size.Count, nameof(size), Show(size));
        for (int d = 0; d < size.Count; d++)
            if (size[d] < 1)
                throw new ArgumentException($"size[{d}] must be >= 1, got {size[d]} (size = {Show(size)}); PyTorch: output sizes should be greater than 0.", nameof(size));
        CheckAlignCorners(mode, alignCorners);
        return new UpsampleSpec(mode, [.. size], default, alignCorners, recompute: false);
    }

    /// <summary>
    /// F.interpolate(x, scale_factor=<paramref name="scaleFactor"/>, mode, align_corners, recompute_scale_factor): one
    /// factor per spatial dimension (outermost first); output extent floor(in · factor). With
    /// <paramref name="recomputeScaleFactor"/> the factor only sizes the output, and positions map by in/out as with a size.
    /// </summary>
    /// <exception cref="ArgumentException">A factor that is not finite and positive, a count that does not fit the mode,
    /// or align_corners with a nearest mode.</exception>
    public static UpsampleSpec ByScale(UpsampleMode mode, IReadOnlyList<double> scaleFactor, bool alignCorners = false, bool recomputeScaleFactor = false)
    {
        ArgumentNullException.ThrowIfNull(scaleFactor);
        CheckMode(mode, scaleFactor.Count, nameof(scaleFactor), Show(scaleFactor));
        for (int d = 0; d < scaleFactor.Count; d++)
            if (!double.IsFinite(scaleFactor[d]) || scaleFactor[d] <= 0)
                throw new ArgumentException($"scaleFactor[{d}] must be finite and > 0, got {Show(scaleFactor[d])} (scaleFactor = {Show(scaleFactor)}).", nameof(scaleFactor));
        CheckAlignCorners(mode, alignCorners);
        return new UpsampleSpec(mode, default, [.. scaleFactor], alignCorners, recomputeScaleFactor);
    }

    /// <summary>The interpolation.</summary>
    public UpsampleMode Mode { get; }
    /// <summary>The output's spatial extents when given by size (outermost first); default (IsDefault) when given by scale.</summary>
    public ImmutableArray<int> Size { get; }
    /// <summary>The scale factors when given by scale (outermost first); default (IsDefault) when given by size.</summary>
    public ImmutableArray<double> ScaleFactor { get; }
    /// <summary>PyTorch's align_corners (linear modes only): the corner elements of input and output are aligned, scale = (in − 1)/(out − 1).</summary>
    public bool AlignCorners { get; }
    /// <summary>PyTorch's recompute_scale_factor: the factors size the output only; positions map by in/out.</summary>
    public bool RecomputeScaleFactor { get; }
    /// <summary>Spatial dimensions.</summary>
    public int Rank => Size.IsDefault ? ScaleFactor.Length : Size.Length;

    /// <summary>
    /// The factor the index arithmetic uses for dimension <paramref name="d"/> (PyTorch's <c>scales</c> argument), or null
    /// when it uses in/out: given by size, or with <see cref="RecomputeScaleFactor"/>.
    /// </summary>
    public double? IndexScale(int d) => Size.IsDefault && !RecomputeScaleFactor ? ScaleFactor[d] : null;

    /// <summary>
    /// The output extent of spatial dimension <paramref name="d"/> for an input extent <paramref name="inputSize"/>: the
    /// size, or floor(in · factor) in float64 (PyTorch's compute_output_size); may be out of range (CheckInput refuses it).
    /// </summary>
    public long OutputSize(int d, int inputSize) => Size.IsDefault ? (long)Math.Min(inputSize * ScaleFactor[d], 1e18) : Size[d];

    /// <summary>
    /// [N, C, out…] for <paramref name="input"/>; throws <see cref="ArgumentException"/> (parameter <paramref name="inputName"/>)
    /// for another rank, an empty or oversized output extent.
    /// </summary>
    public TensorShape OutputShape(TensorShape input, string inputName = "x")
    {
        CheckInput(input, inputName);
        var dims = new int[input.Rank];
        dims[0] = input.Dims[0];
        dims[1] = input.Dims[1];
        for (int d = 0; d < Rank; d++) dims[2 + d] = (int)OutputSize(d, input.Dims[2 + d]);
        return new TensorShape(dims);
    }

    /// <summary><see cref="OutputShape"/>'s checks without building the shape.</summary>
    internal void CheckInput(TensorShape input, string inputName)
    {
        ArgumentNullException.ThrowIfNull(input, inputName);
        if (input.Rank != Rank + 2)
            throw new ArgumentException($"{inputName} has shape {input} but the upsample spec has {Rank} spatial dimension(s) ({this}); it needs [N, C] and {Rank} spatial dimension(s).", inputName);
        for (int d = 0; d < Rank; d++)
        {
            int n = input.Dims[2 + d];
            long o = OutputSize(d, n);
            if (n < 1 || o < 1)
                throw new ArgumentException($"{inputName} {input} gives spatial dimension {d} input size {n} and output size {o}; both must be > 0 (PyTorch: input and output sizes should be greater than 0). Spec: {this}.", inputName);
            bool fractional = Mode != UpsampleMode.Nearest;
            long limit = fractional ? MaxInterpolatedExtent : int.MaxValue;
            if (o > limit || (fractional && n > limit))
                throw new ArgumentException($"{inputName} {input} gives spatial dimension {d} input size {n} and output size {o}; mode {Mode} allows at most {limit}{(fractional ? " (MaxInterpolatedExtent)" : "")} on each side. Spec: {this}.", inputName);
        }
    }

    static void CheckMode(UpsampleMode mode, int count, string name, string values)
    {
        (int lo, int hi) = mode switch
        {
            UpsampleMode.Nearest or UpsampleMode.NearestExact => (1, MaxRank),
            UpsampleMode.Linear => (1, 1),
            UpsampleMode.Bilinear => (2, 2),
            UpsampleMode.Trilinear => (3, 3),
            _ => throw new ArgumentException($"mode {(int)mode} is not an UpsampleMode (Nearest, NearestExact, Linear, Bilinear or Trilinear).", nameof(mode)),
        };
        if (count < lo || count > hi)
            throw new ArgumentException(lo == hi
                ? $"mode {mode} interpolates {lo} spatial dimension(s), so {name} needs {lo} value(s), got {count} ({values})."
                : $"{name} must hold one value per spatial dimension ({lo} to {hi}) for mode {mode}, got {count} ({values}).", name);
    }

    static void CheckAlignCorners(UpsampleMode mode, bool alignCorners)
    {
        if (alignCorners && mode is UpsampleMode.Nearest or UpsampleMode.NearestExact)
            throw new ArgumentException($"alignCorners applies to the linear modes only (PyTorch: align_corners option can only be set with the interpolating modes), got mode {mode}.", nameof(alignCorners));
    }

    /// <summary>True when mode, sizes or factors (by bits) and both flags are equal.</summary>
    public bool Equals(UpsampleSpec? other) =>
        other is not null && Mode == other.Mode && AlignCorners == other.AlignCorners && RecomputeScaleFactor == other.RecomputeScaleFactor
        && Size.IsDefault == other.Size.IsDefault
        && (Size.IsDefault ? ScaleFactor.SequenceEqual(other.ScaleFactor) : Size.SequenceEqual(other.Size));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as UpsampleSpec);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Mode);
        h.Add(AlignCorners);
        h.Add(RecomputeScaleFactor);
        if (Size.IsDefault) foreach (double v in ScaleFactor) h.Add(v);
        else foreach (int v in Size) h.Add(v);
        return h.ToHashCode();
    }

    /// <summary>E.g. "nearest size=(32x32)" or "bilinear scale=(2x2) align_corners".</summary>
    public override string ToString() =>
        $"{Mode.ToString().ToLowerInvariant()} " + (Size.IsDefault ? $"scale=({string.Join("x", ScaleFactor.Select(Show))})" : $"size=({string.Join("x", Size)})")
        + (AlignCorners ? " align_corners" : "") + (RecomputeScaleFactor ? " recompute_scale_factor" : "");

    static string Show(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    static string Show(IReadOnlyList<int> values) => "[" + string.Join(", ", values) + "]";
    static string Show(IReadOnlyList<double> values) => "[" + string.Join(", ", values.Select(Show)) + "]";
}
