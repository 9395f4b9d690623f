using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GpuConv.Cuda.Native;

namespace GpuConv.Tests.Cuda;

/// <summary>Binding layouts and enum values against the facts read from NVIDIA's headers (CUDA_NOTES.md).</summary>
public class NativeLayoutTests
{
    [Test]
    public void AlgoPerfStructMatchesTheCLayout()
    {
        Assert.That(Marshal.SizeOf<CudnnConvolutionAlgoPerf>(), Is.EqualTo(48));
        Assert.That(Unsafe.SizeOf<CudnnConvolutionAlgoPerf>(), Is.EqualTo(48));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.Algo)), Is.EqualTo((nint)0));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.Status)), Is.EqualTo((nint)4));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.Time)), Is.EqualTo((nint)8));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.Memory)), Is.EqualTo((nint)16));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.Determinism)), Is.EqualTo((nint)24));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.MathType)), Is.EqualTo((nint)28));
        Assert.That(Marshal.OffsetOf<CudnnConvolutionAlgoPerf>(nameof(CudnnConvolutionAlgoPerf.Reserved0)), Is.EqualTo((nint)32));
    }

    [Test]
    public void EnumsAreFourBytesLikeCEnums()
    {
        Assert.That(Unsafe.SizeOf<CuResult>(), Is.EqualTo(4));
        Assert.That(Unsafe.SizeOf<CudnnStatus>(), Is.EqualTo(4));
        Assert.That(Unsafe.SizeOf<CublasStatus>(), Is.EqualTo(4));
        Assert.That(Unsafe.SizeOf<CuJitOption>(), Is.EqualTo(4));
    }

    [Test]
    public void DriverValues()
    {
        Assert.That((int)CuResult.ErrorOutOfMemory, Is.EqualTo(2));
        Assert.That((int)CuResult.ErrorNoDevice, Is.EqualTo(100));
        Assert.That((int)CuResult.ErrorNoBinaryForGpu, Is.EqualTo(209));
        Assert.That((int)CuResult.ErrorInvalidPtx, Is.EqualTo(218));
        Assert.That((int)CuResult.ErrorUnsupportedPtxVersion, Is.EqualTo(222));
        Assert.That((int)CuResult.ErrorNotFound, Is.EqualTo(500));
        Assert.That((int)CuResult.ErrorIllegalAddress, Is.EqualTo(700));
        Assert.That((int)CuResult.ErrorLaunchFailed, Is.EqualTo(719));
        Assert.That((int)CuDeviceAttribute.ComputeCapabilityMajor, Is.EqualTo(75));
        Assert.That((int)CuDeviceAttribute.ComputeCapabilityMinor, Is.EqualTo(76));
        Assert.That((int)CuDeviceAttribute.MultiprocessorCount, Is.EqualTo(16));
        Assert.That(new[] { CuJitOption.InfoLogBuffer, CuJitOption.InfoLogBufferSizeBytes, CuJitOption.ErrorLogBuffer, CuJitOption.ErrorLogBufferSizeBytes }
            .Select(o => (int)o), Is.EqualTo(new[] { 3, 4, 5, 6 }));
        Assert.That(CuFlags.StreamNonBlocking, Is.EqualTo(1u));
    }

    [Test]
    public void CublasValues()
    {
        Assert.That((int)CublasStatus.AllocFailed, Is.EqualTo(3));
        Assert.That((int)CublasStatus.InvalidValue, Is.EqualTo(7));
        Assert.That((int)CublasStatus.ExecutionFailed, Is.EqualTo(13));
        Assert.That((int)CublasStatus.NotSupported, Is.EqualTo(15));
        Assert.That((int)CublasOperation.T, Is.EqualTo(1));
        Assert.That((int)CublasMath.Pedantic, Is.EqualTo(2));
        Assert.That((int)CublasMath.Tf32TensorOp, Is.EqualTo(3));
        Assert.That((int)CublasComputeType.Compute32F, Is.EqualTo(68));
        Assert.That((int)CublasComputeType.Compute32FPedantic, Is.EqualTo(69));
        Assert.That((int)CublasComputeType.Compute32FFastTf32, Is.EqualTo(77));
    }

    [Test]
    public void CudnnNineValues()
    {
        Assert.That((int)CudnnStatus.NotInitialized, Is.EqualTo(1001));
        Assert.That((int)CudnnStatus.SublibraryVersionMismatch, Is.EqualTo(1002));
        Assert.That((int)CudnnStatus.BadParam, Is.EqualTo(2000));
        Assert.That((int)CudnnStatus.BadParamNullPointer, Is.EqualTo(2002));
        Assert.That((int)CudnnStatus.BadParamDescriptorType, Is.EqualTo(2012));
        Assert.That((int)CudnnStatus.NotSupported, Is.EqualTo(3000));
        Assert.That((int)CudnnStatus.NotSupportedCudaGraphNativeApi, Is.EqualTo(3013));
        Assert.That((int)CudnnStatus.InternalErrorDeviceAllocationFailed, Is.EqualTo(4004));
        Assert.That((int)CudnnStatus.ExecutionFailedCurand, Is.EqualTo(5004));
        Assert.That((int)CudnnDataType.Bfloat16, Is.EqualTo(9));
        Assert.That((int)CudnnDataType.Uint8, Is.EqualTo(6));
        Assert.That((int)CudnnTensorFormat.Nhwc, Is.EqualTo(1));
        Assert.That((int)CudnnConvolutionMode.CrossCorrelation, Is.EqualTo(1));
        Assert.That((int)CudnnMathType.Fma, Is.EqualTo(3));
        Assert.That((int)CudnnConvolutionFwdAlgo.WinogradNonfused, Is.EqualTo(7));
        Assert.That((int)CudnnConvolutionFwdAlgo.Count, Is.EqualTo(8));
        Assert.That((int)CudnnConvolutionBwdDataAlgo.Count, Is.EqualTo(6));
        Assert.That((int)CudnnConvolutionBwdFilterAlgo.FftTiling, Is.EqualTo(6));
        Assert.That((int)CudnnConvolutionBwdFilterAlgo.Count, Is.EqualTo(7));
        Assert.That((int)CudnnActivationMode.Identity, Is.EqualTo(5));
    }

    [Test]
    public void ExceptionsNameTheCallAndTheStatusEvenWithoutTheLibrary()
    {
        var cudnn = new GpuConv.Cuda.CudnnException(CudnnStatus.NotSupportedShape, "cudnnConvolutionForward");
        Assert.That(cudnn.Message, Does.StartWith("cudnnConvolutionForward failed: CUDNN_STATUS_NOT_SUPPORTED_SHAPE (3002)"));
        Assert.That(cudnn.Category, Is.EqualTo(3));
        Assert.That(cudnn.IsNotSupported, Is.True);

        var cublas = new GpuConv.Cuda.CublasException(CublasStatus.InvalidValue, "cublasSgemm_v2");
        Assert.That(cublas.Message, Does.StartWith("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7)"));

        var cuda = new GpuConv.Cuda.CudaException(CuResult.ErrorOutOfMemory, "cuMemAlloc_v2");
        Assert.That(cuda.Message, Does.StartWith("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)"));
        Assert.That(cuda.Call, Is.EqualTo("cuMemAlloc_v2"));
    }

    [Test]
    public void CheckPassesSuccessAndThrowsOtherwise()
    {
        Assert.DoesNotThrow(() => CudaDriver.Check(CuResult.Success, "cuInit"));
        var ex = Assert.Throws<GpuConv.Cuda.CudaException>(() => CudaDriver.Check(CuResult.ErrorInvalidPtx, "cuModuleLoadDataEx"));
        Assert.That(ex!.Status, Is.EqualTo(CuResult.ErrorInvalidPtx));
        Assert.That(ex.StatusName, Is.EqualTo("CUDA_ERROR_INVALID_PTX"));
        Assert.Throws<GpuConv.Cuda.CudnnException>(() => CuDnn.Check(CudnnStatus.BadParam, "cudnnSetTensor4dDescriptor"));
        Assert.Throws<GpuConv.Cuda.CublasException>(() => CuBlas.Check(CublasStatus.NotInitialized, "cublasCreate_v2"));
    }
}
