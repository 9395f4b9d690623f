using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace GpuConv.Tensors;

/// <summary>
/// A dense row-major (C order) shape: for convolution data NC[D]HW (batch, channels, spatial…),
/// for filters K C/g k… . Element counts are checked for overflow.
/// </summary>
public sealed class TensorShape : IEquatable<TensorShape>
{
    /// <summary>The dimensions, outermost first.</summary>
    public ImmutableArray<int> Dims { get; }
    /// <summary>Number of dimensions.</summary>
    public int Rank => Dims.Length;
    /// <summary>Product of the dimensions.</summary>
    public long ElementCount { get; }

    /// <summary>A shape of the given dimensions; <see cref="ArgumentException"/> when there are none, one is below 1, or the element count overflows 64 bits.</summary>
    public TensorShape(params IReadOnlyList<int> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Count == 0)
            throw new ArgumentException("a tensor shape needs at least one dimension.", nameof(dims));
        long count = 1;
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] < 1)
                throw new ArgumentException($"dims[{i}] must be >= 1, got {dims[i]} (shape {Show(dims)}).", nameof(dims));
            try { count = checked(count * dims[i]); }
            catch (OverflowException) { throw new ArgumentException($"element count of shape {Show(dims)} overflows a 64-bit integer.", nameof(dims)); }
        }
        Dims = [.. dims];
        ElementCount = count;
    }

    /// <summary>Dimension <paramref name="index"/>.</summary>
    public int this[int index] => Dims[index];

    /// <summary>Batch size (first dimension of an activation tensor).</summary>
    public int N => Dims[0];
    /// <summary>Channels (second dimension).</summary>
    public int C => Dims[1];
    /// <summary>Spatial dimensions (everything after batch and channels).</summary>
    public int[] Spatial => Dims.AsSpan()[2..].ToArray();
    /// <summary>Product of the spatial dimensions (allocates nothing: kernels ask for it on every call).</summary>
    public long SpatialSize
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // a loop: inlined only if asked (the CPU bias gradient's task reads it)
        get
        {
            long size = 1;
            for (int i = 2; i < Dims.Length; i++) size *= Dims[i];
            return size;
        }
    }

    /// <summary>Element count as an int, for buffers that must fit a .NET array.</summary>
    public int ElementCountInt => ElementCount <= Array.MaxLength
        ? (int)ElementCount
        : throw new InvalidOperationException($"shape {this} has {ElementCount} elements, more than a .NET array holds ({Array.MaxLength}).");

    /// <summary>A copy with dimension <paramref name="index"/> set to <paramref name="value"/> (validated as in the constructor).</summary>
    public TensorShape WithDim(int index, int value)
    {
        if ((uint)index >= (uint)Rank)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index {index} is outside shape {this} (0 to {Rank - 1}).");
        var dims = Dims.ToArray();
        dims[index] = value;
        return new TensorShape(dims);
    }

    /// <summary>True when the dimensions are equal.</summary>
    public bool Equals(TensorShape? other) => ReferenceEquals(this, other) || other is not null && Dims.SequenceEqual(other.Dims);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TensorShape);
    /// <inheritdoc/>
    public override int GetHashCode()
    {
        if (hash != 0) return hash;
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return hash = h.ToHashCode();
    }

    /// <summary>The hash, computed once (the shape is immutable): engine calls look problems up by their shapes.</summary>
    int hash;
    /// <summary>Dimension-wise equality; two nulls are equal.</summary>
    public static bool operator ==(TensorShape? a, TensorShape? b) => a is null ? b is null : a.Equals(b);
    /// <summary>Negation of ==.</summary>
    public static bool operator !=(TensorShape? a, TensorShape? b) => !(a == b);

    /// <summary>The dimensions in brackets, e.g. "[1, 3, 224, 224]".</summary>
    public override string ToString() => "[" + string.Join(", ", Dims) + "]";
    static string Show(IReadOnlyList<int> dims) => "[" + string.Join(", ", dims) + "]";
}
