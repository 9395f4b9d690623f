using GpuConv.Conv;

using GpuConv.Cuda;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// How the cuDNN backend handles padding. Symmetric padding goes into the convolution descriptor.
/// Asymmetric padding (which the legacy descriptor cannot express) is applied explicitly, once per
/// call, in workspace: forward and backward-filter copy x into a zeroed buffer of size in + pb + pe
/// (cudnnSetTensor + cudnnTransformTensor through a strided view) and convolve it with no padding;
/// backward-data computes the padded gradient and crops it back into dx the same way. Exact, at the
/// cost of one copy of x (or dx) — the PTX and CPU backends handle asymmetric padding natively.
/// </summary>
internal sealed class CudnnPaddingPlan : IDisposable
{
    public CudnnPaddingPlan(ICudnnApi api, ConvProblem p)
    {
        var spec = p.Spec;
        IsExplicit = !spec.IsSymmetricPadding;
        var inS = p.InSpatial;
        PaddedInSpatial = IsExplicit ? [.. inS.Select((s, d) => s + spec.PadBegin[d] + spec.PadEnd[d])] : inS;
        DescriptorPads = IsExplicit ? new int[p.Rank] : [.. spec.PadBegin];
        if (!IsExplicit) return;

        bool lift = p.Rank == 1;
        int[] padded = [p.N, p.C, .. (lift ? [1, .. PaddedInSpatial] : PaddedInSpatial)];
        int[] inner = [p.N, p.C, .. (lift ? [1, .. inS] : inS)];
        int[] begin = [0, 0, .. (lift ? [0, .. spec.PadBegin] : spec.PadBegin.ToArray())];
        int[] strides = CudnnDescriptors.PackedStrides(padded);
        PaddedElements = (long)padded.Aggregate(1L, (a, b) => a * b);
        InnerDims = inner;
        PaddedStrides = [.. strides.Select(s => (long)s)];
        DenseStrides = [.. CudnnDescriptors.PackedStrides(inner).Select(s => (long)s)];
        InteriorOffsetElements = begin.Select((b, i) => (long)b * strides[i]).Sum();
        Padded = new CudnnTensorDescriptor(api);
        CudnnDescriptors.SetStrided(api, Padded, padded, strides);
        Interior = new CudnnTensorDescriptor(api);
        CudnnDescriptors.SetStrided(api, Interior, inner, strides);
        Dense = new CudnnTensorDescriptor(api);
        CudnnDescriptors.SetTensor(api, Dense, inner);
    }

    /// <summary>x's dims as cuDNN sees them (1-d lifted), and the strides of the padded buffer and of dense x, for plan B's copies.</summary>
    public int[] InnerDims { get; } = [];
    public long[] PaddedStrides { get; } = [];
    public long[] DenseStrides { get; } = [];

    /// <summary>Whether x is padded explicitly (asymmetric padding).</summary>
    public bool IsExplicit { get; }
    public int[] PaddedInSpatial { get; }
    /// <summary>The padding put in the convolution descriptor (zero when explicit).</summary>
    public int[] DescriptorPads { get; }
    public long PaddedElements { get; }

    /// <summary>
    /// Elements of the padded copy of x for <paramref name="p"/> (0 with symmetric padding): over
    /// int.MaxValue it cannot be described to cuDNN, so the backend refuses such problems up front.
    /// </summary>
    public static long PaddedElementsOf(ConvProblem p)
    {
        if (p.Spec.IsSymmetricPadding) return 0;
        long n = (long)p.N * p.C;
        var inS = p.InSpatial;
        for (int d = 0; d < inS.Length; d++)
            n = checked(n * (inS[d] + p.Spec.PadBegin[d] + p.Spec.PadEnd[d]));
        return n;
    }
    /// <summary>Bytes of the padded copy of x (0 when padding is in the descriptor).</summary>
    public long ScratchBytes => IsExplicit ? PaddedElements * sizeof(float) : 0;
    /// <summary>Element offset of x[0,0,pb…] inside the padded buffer.</summary>
    public long InteriorOffsetElements { get; }

    /// <summary>The whole padded buffer (dense).</summary>
    public CudnnTensorDescriptor? Padded { get; }
    /// <summary>x's dims with the padded buffer's strides: the view of the unpadded interior.</summary>
    public CudnnTensorDescriptor? Interior { get; }
    /// <summary>x's dims, packed: the user's x / dx.</summary>
    public CudnnTensorDescriptor? Dense { get; }

    public void Dispose()
    {
        Padded?.Dispose(); Interior?.Dispose(); Dense?.Dispose();
    }
}
