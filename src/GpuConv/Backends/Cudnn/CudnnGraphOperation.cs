using GpuConv.Conv;
using GpuConv.Cuda.Native;
using A = GpuConv.Cuda.Native.CudnnBackendAttributeName;
using T = GpuConv.Cuda.Native.CudnnBackendAttributeType;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// The finalized operation graph of one convolution in cuDNN's backend API: three FLOAT tensors (packed
/// NC…, 1-d lifted to 2-d with height 1, uids <see cref="XUid"/>, <see cref="WUid"/>, <see cref="YUid"/>
/// for x/dx, w/dw, y/dy), a convolution descriptor (FLOAT compute, cross-correlation, pre = post padding,
/// strides, dilations; groups are implied by x's C over w's C), and the op's operation node with alpha 1
/// and beta 0, or beta 1 to accumulate into the output (alpha and beta are part of the graph, so the two
/// are separate graphs). Asymmetric padding is not built here: the backend offers no graph candidate for it
/// (the legacy candidates run it through the padded copy).
/// </summary>
internal sealed class CudnnGraphOperation : IDisposable
{
    public const long XUid = 1, WUid = 2, YUid = 3;

    /// <summary>
    /// Byte alignment declared for every tensor: engines may use vector loads up to it, so a pointer that is
    /// not aligned to it is refused before the call (<see cref="CudnnGraphCandidates"/>). GpuConv's device
    /// allocations are 256-byte aligned.
    /// </summary>
    public const long ByteAlignment = 16;

    readonly List<CudnnBackendDescriptor> _owned = [];

    public CudnnGraphOperation(ICudnnGraphApi api, nint cudnnHandle, ConvProblem p, bool accumulate)
    {
        if (!p.Spec.IsSymmetricPadding) throw new ArgumentException($"graph operations take symmetric padding only; {p} is asymmetric.", nameof(p));
        Accumulate = accumulate;
        try
        {
            bool lift = p.Rank == 1;
            long[] Lift(IEnumerable<int> v, long unit) => lift ? [unit, .. v.Select(i => (long)i)] : [.. v.Select(i => (long)i)];

            var x = Tensor(api, XUid, [p.N, p.C, .. Lift(p.InSpatial, 1)]);
            var w = Tensor(api, WUid, [p.K, p.CPerGroup, .. Lift(p.Spec.Kernel, 1)]);
            var y = Tensor(api, YUid, [p.N, p.K, .. Lift(p.OutSpatial, 1)]);

            var spec = p.Spec;
            long[] pads = Lift(spec.PadBegin, 0);
            var conv = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.ConvolutionDescriptor));
            conv.SetEnum(A.ConvolutionCompType, T.DataType, (int)CudnnDataType.Float);
            conv.SetEnum(A.ConvolutionConvMode, T.ConvolutionMode, (int)CudnnConvolutionMode.CrossCorrelation);
            conv.SetInt64(A.ConvolutionSpatialDims, pads.Length);
            conv.SetInt64(A.ConvolutionPrePaddings, pads);
            conv.SetInt64(A.ConvolutionPostPaddings, pads);
            conv.SetInt64(A.ConvolutionFilterStrides, Lift(spec.Stride, 1));
            conv.SetInt64(A.ConvolutionDilations, Lift(spec.Dilation, 1));
            conv.FinalizeOrThrow();

            var (type, alpha, beta, desc, xName, wName, yName) = p.Op switch
            {
                ConvOp.Forward => (CudnnBackendDescriptorType.OperationConvolutionForwardDescriptor, A.OperationConvolutionForwardAlpha,
                    A.OperationConvolutionForwardBeta, A.OperationConvolutionForwardConvDesc, A.OperationConvolutionForwardX,
                    A.OperationConvolutionForwardW, A.OperationConvolutionForwardY),
                ConvOp.BackwardData => (CudnnBackendDescriptorType.OperationConvolutionBackwardDataDescriptor, A.OperationConvolutionBwdDataAlpha,
                    A.OperationConvolutionBwdDataBeta, A.OperationConvolutionBwdDataConvDesc, A.OperationConvolutionBwdDataDx,
                    A.OperationConvolutionBwdDataW, A.OperationConvolutionBwdDataDy),
                _ => (CudnnBackendDescriptorType.OperationConvolutionBackwardFilterDescriptor, A.OperationConvolutionBwdFilterAlpha,
                    A.OperationConvolutionBwdFilterBeta, A.OperationConvolutionBwdFilterConvDesc, A.OperationConvolutionBwdFilterX,
                    A.OperationConvolutionBwdFilterDw, A.OperationConvolutionBwdFilterDy),
            };
            var op = Own(new CudnnBackendDescriptor(api, type));
            op.SetDescriptors(xName, x);
            op.SetDescriptors(wName, w);
            op.SetDescriptors(yName, y);
            op.SetDescriptors(desc, conv);
            // FLOAT data: alpha and beta as FLOAT scalars (the backend API takes FLOAT or DOUBLE).
            op.SetFloat(alpha, 1f);
            op.SetFloat(beta, accumulate ? 1f : 0f);
            op.FinalizeOrThrow();

            Graph = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.OperationGraphDescriptor));
            Graph.SetDescriptors(A.OperationGraphOps, op);
            Graph.SetHandleAttribute(A.OperationGraphHandle, cudnnHandle);
            Graph.FinalizeOrThrow();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The finalized operation graph.</summary>
    public CudnnBackendDescriptor Graph { get; } = null!;

    /// <summary>Whether the op's beta is 1 (the result is added to the output).</summary>
    public bool Accumulate { get; }

    CudnnBackendDescriptor Tensor(ICudnnGraphApi api, long uid, long[] dims)
    {
        var t = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.TensorDescriptor));
        t.SetEnum(A.TensorDataType, T.DataType, (int)CudnnDataType.Float);
        t.SetInt64(A.TensorDimensions, dims);
        t.SetInt64(A.TensorStrides, PackedStrides(dims));
        t.SetInt64(A.TensorUniqueId, uid);
        t.SetInt64(A.TensorByteAlignment, ByteAlignment);
        t.FinalizeOrThrow();
        return t;
    }

    internal static long[] PackedStrides(long[] dims)
    {
        var s = new long[dims.Length];
        long acc = 1;
        for (int i = dims.Length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]; }
        return s;
    }

    CudnnBackendDescriptor Own(CudnnBackendDescriptor d)
    {
        _owned.Add(d);
        return d;
    }

    public void Dispose()
    {
        // Graph first, tensors last: the reverse of creation.
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}
