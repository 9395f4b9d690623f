using GpuConv.Cuda;

namespace GpuConv.Tensors;

/// <summary>
/// Device memory of an <see cref="IDeviceRuntime"/> as an <see cref="IMemorySpace"/>: tensors are <see cref="DeviceTensor"/>s;
/// copies without a stream are finished when they return. The tests' stand-in device memories use it; a real GPU's
/// memory space is its <see cref="CudaGpuRuntime"/> (copies ordered on the context's stream).
/// </summary>
internal sealed class CudaMemorySpace : IMemorySpace
{
    readonly Func<TensorShape, DeviceTensor> _allocate;

    internal CudaMemorySpace(IDeviceRuntime runtime) => _allocate = shape => new DeviceTensor(runtime, shape);

    public MemoryKind Kind => MemoryKind.Device;

    public Tensor Allocate(TensorShape shape) => _allocate(shape);

    public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination) => AsDevice(destination).CopyFrom(source);

    public void CopyToHost(Tensor source, Span<float> destination) => AsDevice(source).CopyTo(destination);

    static DeviceTensor AsDevice(Tensor t) => t as DeviceTensor
        ?? throw new ArgumentException($"expected a device tensor, got {t?.GetType().Name ?? "null"} in {t?.Memory} memory.", nameof(t));
}
