namespace GpuConv.Cuda;

/// <summary>
/// What a <see cref="Tensors.DeviceTensor"/> needs from its device: a pool and copies. A seam so the
/// tensor's checks and bookkeeping are tested on CPU with host memory standing in for the device.
/// A null stream means a synchronous copy.
/// </summary>
internal unsafe interface IDeviceRuntime
{
    DeviceMemoryPool Pool { get; }
    void CopyHostToDevice(ulong destination, void* source, long bytes, CudaStream? stream);
    void CopyDeviceToHost(void* destination, ulong source, long bytes, CudaStream? stream);
    void CopyDeviceToDevice(ulong destination, ulong source, long bytes, CudaStream? stream);
}
