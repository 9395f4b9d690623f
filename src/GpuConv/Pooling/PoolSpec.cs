using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The parameters of a max or average pool over 1–3 spatial dimensions, as PyTorch's
/// <c>max_pool{1,2,3}d(kernel_size, stride, padding, dilation, ceil_mode)</c> and
/// <c>avg_pool{1,2,3}d(kernel_size, stride, padding, ceil_mode, count_include_pad)</c>.
/// Every list but <see cref="Kernel"/> may be null (the default), hold one value (used for every dimension) or one
/// value per spatial dimension. <see cref="Validate"/> (called by every engine call before any work) names the field
/// and its values. The lists are copied on construction (and by <c>with</c>), as <see cref="Conv.ConvSpec"/> copies its
/// own: changing the caller's array afterwards changes neither the spec nor its hash.
/// </summary>
/// <param name="Kernel">Window size per spatial dimension (1 to 3 values, each at least 1).</param>
/// <param name="Stride">Step per dimension; null: the kernel size (PyTorch's default).</param>
/// <param name="Padding">Symmetric implicit padding per dimension, at most kernel/2 (PyTorch's rule). Max pooling pads with
/// −∞, average pooling with zeros (see <see cref="CountIncludePad"/>).</param>
/// <param name="Dilation">Spacing of the window's taps (max pooling only; average pooling has none).</param>
/// <param name="CeilMode">Round the output size up instead of down; a last window that would start past the input
/// and its left padding is dropped (PyTorch's rule).</param>
/// <param name="CountIncludePad">Average pooling: divide by the window's size clipped to the padded input (true, PyTorch's
/// default) or by the number of input elements in it (false).</param>
public sealed record PoolSpec(
    IReadOnlyList<int> Kernel,
    IReadOnlyList<int>? Stride = null,
    IReadOnlyList<int>? Padding = null,
    IReadOnlyList<int>? Dilation = null,
    bool CeilMode = false,
    bool CountIncludePad = true)
{
    // Each list is stored as an immutable copy (null stays null): a spec is a value, and an engine may keep it.
    /// <summary>Window size per spatial dimension (an immutable copy of the list given).</summary>
    public IReadOnlyList<int> Kernel { get; init => field = Copy(value); } = Copy(Kernel);
    /// <summary>Step per dimension, or null (an immutable copy of the list given).</summary>
    public IReadOnlyList<int>? Stride { get; init => field = Copy(value); } = Copy(Stride);
    /// <summary>Padding per dimension, or null (an immutable copy of the list given).</summary>
    public IReadOnlyList<int>? Padding { get; init => field = Copy(value); } = Copy(Padding);
    /// <summary>Dilation per dimension, or null (an immutable copy of the list given).</summary>
    public IReadOnlyList<int>? Dilation { get; init => field = Copy(value); } = Copy(Dilation);

    [return: NotNullIfNotNull(nameof(list))]
    static IReadOnlyList<int>? Copy(IReadOnlyList<int>? list) => list is null ? null : ImmutableArray.CreateRange(list);

    /// <summary>Largest number of spatial dimensions.</summary>
    public const int MaxRank = 3;

    /// <summary>Spatial dimensions (the kernel's length).</summary>
    public int Rank => Kernel?.Count ?? 0;

    /// <summary>The stride of dimension d (the kernel size when none is given).</summary>
    public int StrideOf(int d) => Stride is null or { Count: 0 } ? Kernel[d] : Value(Stride, d);
    /// <summary>The padding of dimension d (both sides).</summary>
    public int PaddingOf(int d) => Padding is null or { Count: 0 } ? 0 : Value(Padding, d);
    /// <summary>The dilation of dimension d.</summary>
    public int DilationOf(int d) => Dilation is null or { Count: 0 } ? 1 : Value(Dilation, d);

    static int Value(IReadOnlyList<int> list, int d) => list.Count == 1 ? list[0] : list[d];

    /// <summary>True when every dilation is 1 (what average pooling needs).</summary>
    public bool IsDense
    {
        get
        {
            for (int d = 0; d < Rank; d++)
                if (DilationOf(d) != 1) return false;
            return true;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field and its values when the spec is not one PyTorch accepts.</summary>
    public void Validate()
    {
        if (Kernel is null || Kernel.Count is < 1 or > MaxRank)
            throw new ArgumentException($"Kernel must have 1 to {MaxRank} spatial dimensions, got {(Kernel is null ? "null" : Show(Kernel))}.", nameof(Kernel));
        int rank = Kernel.Count;
        for (int d = 0; d < rank; d++)
            if (Kernel[d] < 1)
                throw new ArgumentException($"Kernel[{d}] must be at least 1, got {Kernel[d]} (Kernel = {Show(Kernel)}).", nameof(Kernel));
        CheckList(Stride, nameof(Stride), rank, min: 1);
        CheckList(Padding, nameof(Padding), rank, min: 0);
        CheckList(Dilation, nameof(Dilation), rank, min: 1);
        for (int d = 0; d < rank; d++)
        {
            // PyTorch: "pad should be at most half of kernel size" (the kernel, not its dilated extent).
            if (PaddingOf(d) > Kernel[d] / 2)
                throw new ArgumentException(
                    $"Padding[{d}] = {PaddingOf(d)} must be at most half of Kernel[{d}] = {Kernel[d]} (at most {Kernel[d] / 2}), as in PyTorch (Padding = {Show(Padding!)}, Kernel = {Show(Kernel)}).",
                    nameof(Padding));
            long extent = (long)DilationOf(d) * (Kernel[d] - 1) + 1;
            if (extent > int.MaxValue)
                throw new ArgumentException($"dilated window Dilation[{d}] * (Kernel[{d}] - 1) + 1 = {extent} exceeds {int.MaxValue}.", nameof(Dilation));
        }
    }

    static void CheckList(IReadOnlyList<int>? list, string name, int rank, int min)
    {
        if (list is null || list.Count == 0) return;
        if (list.Count != 1 && list.Count != rank)
            throw new ArgumentException($"{name} must hold 1 value or one per spatial dimension ({rank}), got {list.Count} ({Show(list)}).", name);
        for (int d = 0; d < list.Count; d++)
            if (list[d] < min)
                throw new ArgumentException($"{name}[{d}] must be at least {min}, got {list[d]} ({name} = {Show(list)}).", name);
    }

    /// <summary>
    /// The output size of dimension d for an input of <paramref name="inputSize"/>, as PyTorch's pooling_output_shape:
    /// floor or ceil of (in + 2·pad − dilation·(k − 1) − 1) / stride, plus 1; with ceil mode one less when the last
    /// window would start at or past in + pad. May be below 1 (the engine then refuses the input).
    /// </summary>
    public long OutputSize(int d, long inputSize)
    {
        long s = StrideOf(d), p = PaddingOf(d);
        long span = inputSize + 2 * p - (long)DilationOf(d) * (Kernel[d] - 1) - 1 + (CeilMode ? s - 1 : 0);
        long size = (span >= 0 ? span / s : -((-span + s - 1) / s)) + 1;
        if (CeilMode && (size - 1) * s >= inputSize + p) size--;
        return size;
    }

    /// <summary>
    /// The output shape for an input [N, C, spatial…] with <see cref="Rank"/> spatial dimensions: [N, C, out…].
    /// Throws <see cref="ArgumentException"/> (parameter <paramref name="inputName"/>) for another rank or an output size below 1 or above int.MaxValue.
    /// </summary>
    public TensorShape OutputShape(TensorShape input, string inputName = "x")
    {
        Validate();
        CheckInput(input, inputName);
        var dims = new int[input.Rank];
        dims[0] = input.Dims[0];
        dims[1] = input.Dims[1];
        for (int d = 0; d < Rank; d++) dims[2 + d] = (int)OutputSize(d, input.Dims[2 + d]);
        return new TensorShape(dims);
    }

    /// <summary>
    /// <see cref="OutputShape"/>'s checks of the input without building the shape (so a warm engine call allocates
    /// nothing), for a spec already validated: the input's rank, and every output size from 1 to int.MaxValue.
    /// </summary>
    internal void CheckInput(TensorShape input, string inputName)
    {
        ArgumentNullException.ThrowIfNull(input, inputName);
        if (input.Rank != Rank + 2)
            throw new ArgumentException($"{inputName} has shape {input} but a pool with a {Rank}-d kernel ({Show(Kernel)}) needs [N, C] and {Rank} spatial dimensions.", inputName);
        for (int d = 0; d < Rank; d++)
        {
            long size = OutputSize(d, input.Dims[2 + d]);
            // Too large happens too: stride 1 and padding k/2 give in + 1 for an even kernel, 2^31 for in = int.MaxValue.
            if (size is < 1 or > int.MaxValue)
                throw new ArgumentException(
                    $"{inputName} has shape {input}: spatial dimension {d} of size {input.Dims[2 + d]} gives output size {size} (kernel {Kernel[d]}, stride {StrideOf(d)}, padding {PaddingOf(d)}, dilation {DilationOf(d)}, ceil mode {CeilMode}); the output is too {(size < 1 ? "small" : "large")}.",
                    inputName);
        }
    }

    static string Show(IReadOnlyList<int> list) => "[" + string.Join(", ", list) + "]";

    /// <summary>
    /// Equal when every field holds the same values (lists compared element by element, as <see cref="Conv.ConvSpec"/>
    /// compares its own): a record's generated equality would compare the lists by reference, so two specs written
    /// alike would differ.
    /// </summary>
    public bool Equals(PoolSpec? other) =>
        other is not null && CeilMode == other.CeilMode && CountIncludePad == other.CountIncludePad
        && SameValues(Kernel, other.Kernel) && SameValues(Stride, other.Stride)
        && SameValues(Padding, other.Padding) && SameValues(Dilation, other.Dilation);

    /// <summary>A hash of the values <see cref="Equals(PoolSpec?)"/> compares.</summary>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var list in new[] { Kernel, Stride, Padding, Dilation })
        {
            h.Add(list?.Count ?? -1);
            if (list is not null) foreach (int v in list) h.Add(v);
        }
        h.Add(CeilMode);
        h.Add(CountIncludePad);
        return h.ToHashCode();
    }

    static bool SameValues(IReadOnlyList<int>? a, IReadOnlyList<int>? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.SequenceEqual(b));

    /// <summary>The spec in PyTorch's words, e.g. "kernel [3, 3], stride [2, 2], padding [1, 1]".</summary>
    public override string ToString()
    {
        if (Kernel is null) return "kernel null";
        var r = Enumerable.Range(0, Rank);
        return $"kernel {Show(Kernel)}, stride {Show([.. r.Select(StrideOf)])}, padding {Show([.. r.Select(PaddingOf)])}, dilation {Show([.. r.Select(DilationOf)])}, ceil_mode {CeilMode}, count_include_pad {CountIncludePad}";
    }
}
