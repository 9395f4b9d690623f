using GpuConv.Cuda;

namespace GpuConv.Tensors;

/// <summary>
/// One GPU's device memory as an <see cref="IMemorySpace"/>: tensors are <see cref="DeviceTensor"/>s from
/// the context's pool; copies run on the context's own stream and are finished when they return.
/// </summary>
internal sealed class CudaMemorySpace : IMemorySpace
{
    readonly Func<TensorShape, DeviceTensor> _allocate;

    public CudaMemorySpace(CudaContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _allocate = context.Allocate;
    }

    internal CudaMemorySpace(IDeviceRuntime runtime) => _allocate = shape => new DeviceTensor(runtime, shape);

    public MemoryKind Kind => MemoryKind.Device;

    public Tensor Allocate(TensorShape shape) => _allocate(shape);

    public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination) => AsDevice(destination).CopyFrom(source);

    public void CopyToHost(Tensor source, Span<float> destination) => AsDevice(source).CopyTo(destination);

    static DeviceTensor AsDevice(Tensor t) => t as DeviceTensor
        ?? throw new ArgumentException($"expected a device tensor, got {t?.GetType().Name ?? "null"} in {t?.Memory} memory.", nameof(t));
}
