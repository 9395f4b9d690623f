namespace GpuConv.Cuda;

/// <summary>
/// What a <see cref="Tensors.DeviceTensor"/> needs from its device: a pool, copies and a way to wait.
/// A seam so the tensor's checks, bookkeeping and copy ordering are tested on CPU with host memory
/// standing in for the device. Every copy is asynchronous on a stream; a null stream means the
/// runtime's own stream, the one its kernels and library calls run on (never the legacy NULL stream,
/// which a non-blocking stream does not wait for). Callers that promise a finished copy call
/// <see cref="Synchronize"/> on the same stream afterwards.
/// </summary>
internal unsafe interface IDeviceRuntime
{
    DeviceMemoryPool Pool { get; }
    void CopyHostToDevice(ulong destination, void* source, long bytes, CudaStream? stream);
    void CopyDeviceToHost(void* destination, ulong source, long bytes, CudaStream? stream);
    void CopyDeviceToDevice(ulong destination, ulong source, long bytes, CudaStream? stream);

    /// <summary>Waits for everything issued on <paramref name="stream"/> (null: the runtime's own stream).</summary>
    void Synchronize(CudaStream? stream);
}
