namespace GpuConv.Tensors;

/// <summary>
/// The elements of a dense tensor (the "whole") whose index along one dimension lies in [start, start + length): one
/// input's place in a concatenation, or what a narrow reads. Row-major order makes it <see cref="Rows"/> rows of
/// <see cref="RowLength"/> contiguous elements (rows = the product of the dims before, a row = length · the product of
/// the dims after), row r at <see cref="WholeOffset"/> + r · <see cref="WholePitch"/> in the whole and at r · RowLength
/// in the dense "part" tensor of the slab's shape. Concat copies parts into slabs, Narrow and Split copy slabs out.
/// </summary>
internal readonly struct DimSlab
{
    /// <summary>How many dims a strided_copy_f32 launch takes (kernels/strided_copy.ptx).</summary>
    public const int KernelRank = 5;

    readonly TensorShape whole;
    readonly int dim;
    readonly int start;
    readonly int length;

    public long Rows { get; }
    public long RowLength { get; }
    public long WholePitch { get; }
    public long WholeOffset { get; }

    /// <summary>Elements in the slab (and in its part).</summary>
    public long Count => Rows * RowLength;

    DimSlab(TensorShape whole, int dim, int start, int length)
    {
        this.whole = whole;
        this.dim = dim;
        this.start = start;
        this.length = length;
        long rows = 1, inner = 1;
        for (int i = 0; i < dim; i++) rows *= whole[i];
        for (int i = dim + 1; i < whole.Rank; i++) inner *= whole[i];
        Rows = rows;
        RowLength = length * inner;
        WholePitch = whole[dim] * inner;
        WholeOffset = start * inner;
    }

    /// <summary>The slab [start, start + length) along <paramref name="dim"/> of <paramref name="whole"/>; the caller has checked the range.</summary>
    public static DimSlab Of(TensorShape whole, int dim, int start, int length)
    {
        if ((uint)dim >= (uint)whole.Rank || start < 0 || length < 1 || start > whole[dim] - length)
            throw new InvalidOperationException($"slab [{start}, {start}+{length}) of dim {dim} of {whole} reached the copy unchecked (the engine checks it first).");
        return new DimSlab(whole, dim, start, length);
    }

    /// <summary>
    /// The slab as a strided view for strided_copy_f32: the part's dims (outermost first) with the part's dense strides and
    /// the whole's strides, adjacent dims merged while both sides stay contiguous across them and the merged size fits the
    /// kernel's 32-bit dims; usually [Rows, RowLength]. Writes the view into spans long enough for it (<see cref="KernelViewRank"/>
    /// entries) and returns its rank, at most 4 (so within <see cref="KernelRank"/>): two neighbouring groups stay apart only at
    /// the slab's dim (where the pitches differ) or where their product passes 2^31 − 1, so five groups would need two such
    /// pairs beside a third group and the whole would hold 2^63 elements or more, which no <see cref="TensorShape"/> counts.
    /// </summary>
    public int KernelView(Span<int> dims, Span<long> partStrides, Span<long> wholeStrides)
    {
        int rank = whole.Rank;
        Span<long> d = stackalloc long[rank];
        Span<long> ps = stackalloc long[rank];
        Span<long> ws = stackalloc long[rank];
        long partStride = 1, wholeStride = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            d[i] = i == dim ? length : whole[i];
            ps[i] = partStride;
            ws[i] = wholeStride;
            partStride *= d[i];
            wholeStride *= whole[i];
        }
        // Merge from the innermost dim outwards into a reversed list. A dim (or group) of size 1 has one index, so its
        // strides do not matter: it merges with anything.
        Span<long> md = stackalloc long[rank];
        Span<long> mps = stackalloc long[rank];
        Span<long> mws = stackalloc long[rank];
        int n = 0;
        for (int i = rank - 1; i >= 0; i--)
        {
            if (n > 0 && md[n - 1] == 1)
            {
                (md[n - 1], mps[n - 1], mws[n - 1]) = (d[i], ps[i], ws[i]);
                continue;
            }
            if (n > 0 && (d[i] == 1 || (ps[i] == md[n - 1] * mps[n - 1] && ws[i] == md[n - 1] * mws[n - 1]))
                && md[n - 1] * d[i] <= int.MaxValue)
            {
                md[n - 1] *= d[i];
                continue;
            }
            md[n] = d[i];
            mps[n] = ps[i];
            mws[n] = ws[i];
            n++;
        }
        for (int k = 0; k < n; k++)
        {
            dims[k] = (int)md[n - 1 - k];
            partStrides[k] = mps[n - 1 - k];
            wholeStrides[k] = mws[n - 1 - k];
        }
        return n;
    }

    /// <summary>The rank of <see cref="KernelView"/>: at most <see cref="KernelRank"/> for a launch.</summary>
    public int KernelViewRank()
    {
        Span<int> dims = stackalloc int[whole.Rank];
        Span<long> ps = stackalloc long[whole.Rank];
        Span<long> ws = stackalloc long[whole.Rank];
        return KernelView(dims, ps, ws);
    }

    public override string ToString() => $"[{start}, {start + length}) of dim {dim} of {whole}";
}
