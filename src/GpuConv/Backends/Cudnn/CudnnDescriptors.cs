using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// The descriptors of one problem geometry. 1-d problems become 2-d with height 1; all descriptors are
/// set through the Nd calls (4 or 5 dims). With asymmetric padding the convolution descriptor has no
/// padding and the input is padded explicitly (see <see cref="CudnnPaddingPlan"/>): X here then
/// describes the padded input.
/// </summary>
internal sealed unsafe class CudnnDescriptors : IDisposable
{
    public CudnnTensorDescriptor X { get; } = new();
    public CudnnFilterDescriptor W { get; } = new();
    public CudnnTensorDescriptor Y { get; } = new();
    public CudnnConvolutionDescriptor Conv { get; } = new();
    /// <summary>Bias of the forward output: [1, K, 1, …].</summary>
    public CudnnTensorDescriptor BiasK { get; } = new();
    /// <summary>Bias of the backward-data output: [1, C, 1, …].</summary>
    public CudnnTensorDescriptor BiasC { get; } = new();
    public CudnnPaddingPlan Padding { get; }

    public CudnnDescriptors(ConvProblem p)
    {
        Padding = new CudnnPaddingPlan(p);
        var spec = p.Spec;
        bool lift = p.Rank == 1; // 1-d as 2-d with a unit height
        int[] Lift(IEnumerable<int> v, int unit) => lift ? [unit, .. v] : [.. v];

        int[] xSpatial = Lift(Padding.PaddedInSpatial, 1);
        int[] ySpatial = Lift(p.OutSpatial, 1);
        int[] kernel = Lift(spec.Kernel, 1);
        int[] pads = Lift(Padding.DescriptorPads, 0);
        int[] stride = Lift(spec.Stride, 1);
        int[] dilation = Lift(spec.Dilation, 1);

        SetTensor(X, [p.N, p.C, .. xSpatial]);
        SetTensor(Y, [p.N, p.K, .. ySpatial]);
        SetTensor(BiasK, [1, p.K, .. ySpatial.Select(_ => 1)]);
        SetTensor(BiasC, [1, p.C, .. xSpatial.Select(_ => 1)]);

        int[] wDims = [p.K, p.CPerGroup, .. kernel];
        fixed (int* d = wDims)
            CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnSetFilterNdDescriptor(W.Raw, CudnnDataType.Float, CudnnTensorFormat.Nchw, wDims.Length, d), "cudnnSetFilterNdDescriptor");

        fixed (int* pd = pads) fixed (int* sd = stride) fixed (int* dd = dilation)
            CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnSetConvolutionNdDescriptor(Conv.Raw, pads.Length, pd, sd, dd,
                CudnnConvolutionMode.CrossCorrelation, CudnnDataType.Float), "cudnnSetConvolutionNdDescriptor");
        if (p.Groups > 1)
            CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnSetConvolutionGroupCount(Conv.Raw, p.Groups), "cudnnSetConvolutionGroupCount");
    }

    public void SetMath(MathMode math) =>
        CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnSetConvolutionMathType(Conv.Raw, math == MathMode.TF32 ? CudnnMathType.TensorOp : CudnnMathType.Fma),
            "cudnnSetConvolutionMathType");

    /// <summary>Sets a packed (C-order) NC… float tensor descriptor.</summary>
    internal static void SetTensor(CudnnTensorDescriptor desc, int[] dims) => SetStrided(desc, dims, PackedStrides(dims));

    internal static void SetStrided(CudnnTensorDescriptor desc, int[] dims, int[] strides)
    {
        fixed (int* d = dims) fixed (int* s = strides)
            CuDnn.Check(NativeTrace.Start(), CuDnn.cudnnSetTensorNdDescriptor(desc.Raw, CudnnDataType.Float, dims.Length, d, s), "cudnnSetTensorNdDescriptor");
    }

    internal static int[] PackedStrides(int[] dims)
    {
        var s = new int[dims.Length];
        int acc = 1;
        for (int i = dims.Length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]; }
        return s;
    }

    public void Dispose()
    {
        X.Dispose(); W.Dispose(); Y.Dispose(); Conv.Dispose(); BiasK.Dispose(); BiasC.Dispose();
        Padding.Dispose();
    }
}
