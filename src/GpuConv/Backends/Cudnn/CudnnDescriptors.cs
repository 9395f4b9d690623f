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
    readonly ICudnnApi _api;

    public CudnnTensorDescriptor X { get; }
    public CudnnFilterDescriptor W { get; }
    public CudnnTensorDescriptor Y { get; }
    public CudnnConvolutionDescriptor Conv { get; }
    /// <summary>Bias of the forward output: [1, K, 1, …].</summary>
    public CudnnTensorDescriptor BiasK { get; }
    /// <summary>Bias of the backward-data output: [1, C, 1, …].</summary>
    public CudnnTensorDescriptor BiasC { get; }
    public CudnnPaddingPlan Padding { get; }

    public CudnnDescriptors(ICudnnApi api, ConvProblem p)
    {
        _api = api;
        (X, W, Y, Conv, BiasK, BiasC) = (new(api), new(api), new(api), new(api), new(api), new(api));
        Padding = new CudnnPaddingPlan(api, p);
        var spec = p.Spec;
        bool lift = p.Rank == 1; // 1-d as 2-d with a unit height
        int[] Lift(IEnumerable<int> v, int unit) => lift ? [unit, .. v] : [.. v];

        int[] xSpatial = Lift(Padding.PaddedInSpatial, 1);
        int[] ySpatial = Lift(p.OutSpatial, 1);
        int[] kernel = Lift(spec.Kernel, 1);
        int[] pads = Lift(Padding.DescriptorPads, 0);
        int[] stride = Lift(spec.Stride, 1);
        int[] dilation = Lift(spec.Dilation, 1);

        SetTensor(api, X, [p.N, p.C, .. xSpatial]);
        SetTensor(api, Y, [p.N, p.K, .. ySpatial]);
        SetTensor(api, BiasK, [1, p.K, .. ySpatial.Select(_ => 1)]);
        SetTensor(api, BiasC, [1, p.C, .. xSpatial.Select(_ => 1)]);

        int[] wDims = [p.K, p.CPerGroup, .. kernel];
        fixed (int* d = wDims)
            CuDnn.Check(NativeTrace.Start(), api.SetFilterNdDescriptor(W.Raw, CudnnDataType.Float, CudnnTensorFormat.Nchw, wDims.Length, d),
                "cudnnSetFilterNdDescriptor", $"dims=[{string.Join(",", wDims)}]");

        fixed (int* pd = pads) fixed (int* sd = stride) fixed (int* dd = dilation)
            CuDnn.Check(NativeTrace.Start(), api.SetConvolutionNdDescriptor(Conv.Raw, pads.Length, pd, sd, dd,
                CudnnConvolutionMode.CrossCorrelation, CudnnDataType.Float), "cudnnSetConvolutionNdDescriptor",
                $"pads=[{string.Join(",", pads)}] stride=[{string.Join(",", stride)}] dilation=[{string.Join(",", dilation)}]");
        if (p.Groups > 1)
            CuDnn.Check(NativeTrace.Start(), api.SetConvolutionGroupCount(Conv.Raw, p.Groups), "cudnnSetConvolutionGroupCount", $"groups={p.Groups}");
    }

    /// <summary>
    /// Sets the convolution's math type: FMA for strict FP32 (no TF32), TENSOR_OP for TF32. Skipped when the descriptor
    /// already has it (every run sets it, and a run of the same plan needs no native call for it).
    /// </summary>
    public void SetMath(MathMode math)
    {
        if (_math == math) return;
        CuDnn.Check(NativeTrace.Start(), _api.SetConvolutionMathType(Conv.Raw, math == MathMode.TF32 ? CudnnMathType.TensorOp : CudnnMathType.Fma),
            "cudnnSetConvolutionMathType", $"{math}");
        _math = math;
    }

    /// <summary>The math type last set on <see cref="Conv"/> (null: not set here yet).</summary>
    MathMode? _math;

    /// <summary>Sets a packed (C-order) NC… float tensor descriptor.</summary>
    internal static void SetTensor(ICudnnApi api, CudnnTensorDescriptor desc, int[] dims) => SetStrided(api, desc, dims, PackedStrides(dims));

    internal static void SetStrided(ICudnnApi api, CudnnTensorDescriptor desc, int[] dims, int[] strides)
    {
        fixed (int* d = dims) fixed (int* s = strides)
            CuDnn.Check(NativeTrace.Start(), api.SetTensorNdDescriptor(desc.Raw, CudnnDataType.Float, dims.Length, d, s), "cudnnSetTensorNdDescriptor",
                $"dims=[{string.Join(",", dims)}] strides=[{string.Join(",", strides)}]");
    }

    /// <summary>
    /// C-order strides of <paramref name="dims"/> as cuDNN's int strides. Throws <see cref="ArgumentException"/>
    /// when the tensor has more than int.MaxValue elements (cuDNN's limit), instead of wrapping around.
    /// </summary>
    internal static int[] PackedStrides(int[] dims)
    {
        var s = new int[dims.Length];
        long acc = 1;
        for (int i = dims.Length - 1; i >= 0; i--)
        {
            s[i] = (int)acc;
            acc *= dims[i];
            if (acc > int.MaxValue)
                throw new ArgumentException($"a tensor of dims [{string.Join(", ", dims)}] has more than {int.MaxValue} elements, cuDNN's limit.", nameof(dims));
        }
        return s;
    }

    public void Dispose()
    {
        X.Dispose(); W.Dispose(); Y.Dispose(); Conv.Dispose(); BiasK.Dispose(); BiasC.Dispose();
        Padding.Dispose();
    }
}
