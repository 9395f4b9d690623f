using System.Collections.Immutable;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The parameters of <see cref="ConvEngine.Pad"/>: a mode, per-side padding of each spatial dimension of an NC[D]HW tensor
/// (1 to 3 spatial dimensions, outermost first, as <see cref="ConvSpec.PadBegin"/>), and the constant's value.
/// <para>
/// PyTorch's <c>F.pad(x, pad)</c> lists the <em>last</em> dimension first, in (begin, end) pairs: for a 2-d input
/// <c>pad = (left, right, top, bottom)</c> is <c>new PadSpec(mode, padBegin: [top, left], padEnd: [bottom, right])</c>;
/// <see cref="FromTorch"/> converts. Immutable; validated on construction, and against the input by every engine call
/// (reflect needs each pad &lt; the input size, circular each pad ≤ it, as PyTorch).
/// </para>
/// </summary>
public sealed class PadSpec : IEquatable<PadSpec>
{
    /// <summary>Largest number of spatial dimensions.</summary>
    public const int MaxRank = 3;

    /// <summary>
    /// A spec from per-dimension lists, outermost spatial dimension first. <paramref name="padEnd"/> null: the same as
    /// <paramref name="padBegin"/> (symmetric, as nn.ReflectionPad2d(p)). <paramref name="value"/> only for
    /// <see cref="PadMode.Constant"/> (PyTorch refuses a value with the other modes).
    /// </summary>
    public PadSpec(PadMode mode, IReadOnlyList<int> padBegin, IReadOnlyList<int>? padEnd = null, float value = 0f)
    {
        ArgumentNullException.ThrowIfNull(padBegin);
        if (mode is not (PadMode.Constant or PadMode.Reflect or PadMode.Replicate or PadMode.Circular))
            throw new ArgumentException($"mode {(int)mode} is not a PadMode (Constant, Reflect, Replicate or Circular).", nameof(mode));
        if (padBegin.Count is < 1 or > MaxRank)
            throw new ArgumentException($"padBegin must hold one value per spatial dimension (1 to {MaxRank}), got {padBegin.Count} ({Show(padBegin)}).", nameof(padBegin));
        padEnd ??= padBegin;
        if (padEnd.Count != padBegin.Count)
            throw new ArgumentException($"padEnd has {padEnd.Count} values ({Show(padEnd)}) but padBegin has {padBegin.Count} ({Show(padBegin)}); give one per spatial dimension in both.", nameof(padEnd));
        for (int d = 0; d < padBegin.Count; d++)
        {
            if (padBegin[d] < 0)
                throw new ArgumentException($"padBegin[{d}] must be >= 0, got {padBegin[d]} (padBegin = {Show(padBegin)}); cropping (PyTorch's negative pads) is not supported.", nameof(padBegin));
            if (padEnd[d] < 0)
                throw new ArgumentException($"padEnd[{d}] must be >= 0, got {padEnd[d]} (padEnd = {Show(padEnd)}); cropping (PyTorch's negative pads) is not supported.", nameof(padEnd));
        }
        if (mode != PadMode.Constant && value != 0f)
            throw new ArgumentException($"value {value} applies to mode Constant only (PyTorch: padding mode \"{mode.ToString().ToLowerInvariant()}\" doesn't take in value argument), got mode {mode}.", nameof(value));
        Mode = mode;
        PadBegin = [.. padBegin];
        PadEnd = [.. padEnd];
        Value = value;
    }

    /// <summary>
    /// PyTorch's <c>F.pad(x, pad, mode, value)</c> for an input with <paramref name="spatialRank"/> spatial dimensions:
    /// <paramref name="pad"/> in torch's order (last dimension first, (begin, end) pairs), covering the last
    /// pad.Count / 2 dimensions; those before it get no padding.
    /// </summary>
    public static PadSpec FromTorch(IReadOnlyList<int> pad, int spatialRank, PadMode mode = PadMode.Constant, float value = 0f)
    {
        ArgumentNullException.ThrowIfNull(pad);
        if (spatialRank is < 1 or > MaxRank)
            throw new ArgumentException($"spatialRank must be 1 to {MaxRank}, got {spatialRank}.", nameof(spatialRank));
        if (pad.Count % 2 != 0 || pad.Count == 0 || pad.Count > 2 * spatialRank)
            throw new ArgumentException($"pad must hold (begin, end) pairs for 1 to {spatialRank} trailing dimensions (an even count from 2 to {2 * spatialRank}), got {pad.Count} ({Show(pad)}).", nameof(pad));
        var begin = new int[spatialRank];
        var end = new int[spatialRank];
        for (int k = 0; k < pad.Count / 2; k++)
        {
            begin[spatialRank - 1 - k] = pad[2 * k];
            end[spatialRank - 1 - k] = pad[2 * k + 1];
        }
        return new PadSpec(mode, begin, end, value);
    }

    /// <summary>What fills the border.</summary>
    public PadMode Mode { get; }
    /// <summary>Padding before each spatial dimension (outermost first).</summary>
    public ImmutableArray<int> PadBegin { get; }
    /// <summary>Padding after each spatial dimension (outermost first).</summary>
    public ImmutableArray<int> PadEnd { get; }
    /// <summary>The constant of <see cref="PadMode.Constant"/> (0 for the other modes).</summary>
    public float Value { get; }
    /// <summary>Spatial dimensions.</summary>
    public int Rank => PadBegin.Length;

    /// <summary>The pads in PyTorch's F.pad order: last dimension first, (begin, end) pairs.</summary>
    public int[] ToTorch()
    {
        var pad = new int[2 * Rank];
        for (int k = 0; k < Rank; k++)
        {
            pad[2 * k] = PadBegin[Rank - 1 - k];
            pad[2 * k + 1] = PadEnd[Rank - 1 - k];
        }
        return pad;
    }

    /// <summary>
    /// The padded shape of <paramref name="input"/> ([N, C, in + padBegin + padEnd …]); throws <see cref="ArgumentException"/>
    /// (parameter <paramref name="inputName"/>) for another rank, a pad the mode does not allow on that size, or a size past int.MaxValue.
    /// </summary>
    public TensorShape OutputShape(TensorShape input, string inputName = "x")
    {
        CheckInput(input, inputName);
        var dims = new int[input.Rank];
        dims[0] = input.Dims[0];
        dims[1] = input.Dims[1];
        for (int d = 0; d < Rank; d++) dims[2 + d] = input.Dims[2 + d] + PadBegin[d] + PadEnd[d];
        return new TensorShape(dims);
    }

    /// <summary><see cref="OutputShape"/>'s checks without building the shape.</summary>
    internal void CheckInput(TensorShape input, string inputName)
    {
        ArgumentNullException.ThrowIfNull(input, inputName);
        if (input.Rank != Rank + 2)
            throw new ArgumentException($"{inputName} has shape {input} but the pad spec has {Rank} spatial dimension(s) ({this}); it needs [N, C] and {Rank} spatial dimension(s).", inputName);
        for (int d = 0; d < Rank; d++)
        {
            int n = input.Dims[2 + d];
            if (PaddingModes.PadLimitError(AsPaddingMode(Mode), PadBegin[d], PadEnd[d], n) is { } why)
                throw new ArgumentException($"{why}: PadBegin[{d}] = {PadBegin[d]}, PadEnd[{d}] = {PadEnd[d]}, {inputName} {input} (spatial dimension {d} of size {n}).", inputName);
            long size = (long)n + PadBegin[d] + PadEnd[d];
            if (size > int.MaxValue)
                throw new ArgumentException($"{inputName} {input} padded by ({PadBegin[d]}, {PadEnd[d]}) in spatial dimension {d} would be {size} long, more than {int.MaxValue}.", inputName);
        }
    }

    /// <summary>The convolution padding mode that reads the same positions (Constant: zeros, its value aside).</summary>
    internal static PaddingMode AsPaddingMode(PadMode mode) => mode switch
    {
        PadMode.Reflect => PaddingMode.Reflect,
        PadMode.Replicate => PaddingMode.Replicate,
        PadMode.Circular => PaddingMode.Circular,
        _ => PaddingMode.Zeros,
    };

    /// <summary>The pad a convolution with padding mode <paramref name="spec"/> applies to its input (its pads, its mode).</summary>
    internal static PadSpec Of(ConvSpec spec) => new(spec.PaddingMode switch
    {
        PaddingMode.Reflect => PadMode.Reflect,
        PaddingMode.Replicate => PadMode.Replicate,
        PaddingMode.Circular => PadMode.Circular,
        _ => PadMode.Constant,
    }, spec.PadBegin, spec.PadEnd);

    /// <summary>True when mode, pads and value are equal (the value compared by bits, so NaN equals NaN).</summary>
    public bool Equals(PadSpec? other) =>
        other is not null && Mode == other.Mode && PadBegin.SequenceEqual(other.PadBegin) && PadEnd.SequenceEqual(other.PadEnd)
        && BitConverter.SingleToInt32Bits(Value) == BitConverter.SingleToInt32Bits(other.Value);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PadSpec);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Mode);
        foreach (int v in PadBegin) h.Add(v);
        foreach (int v in PadEnd) h.Add(v);
        h.Add(BitConverter.SingleToInt32Bits(Value));
        return h.ToHashCode();
    }

    /// <summary>E.g. "reflect pad=(1x2)-(1x2)" or "constant pad=(0x1)-(0x1) value=-1".</summary>
    public override string ToString() =>
        $"{Mode.ToString().ToLowerInvariant()} pad=({string.Join("x", PadBegin)})-({string.Join("x", PadEnd)})" + (Mode == PadMode.Constant && Value != 0f ? $" value={Value}" : "");

    static string Show(IReadOnlyList<int> values) => "[" + string.Join(", ", values) + "]";
}
