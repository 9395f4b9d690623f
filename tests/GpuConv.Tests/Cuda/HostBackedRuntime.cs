using System.Runtime.InteropServices;
using GpuConv.Cuda;

namespace GpuConv.Tests.Cuda;

/// <summary>Host memory standing in for device memory, so DeviceTensor's logic runs on CPU.</summary>
sealed unsafe class HostBackedRuntime : IDeviceRuntime, IDisposable
{
    public HostBackedRuntime() => Pool = new DeviceMemoryPool(new HostAllocator());

    public DeviceMemoryPool Pool { get; }
    public int Copies { get; private set; }

    public void CopyHostToDevice(ulong destination, void* source, long bytes, CudaStream? stream)
    {
        Copies++;
        Buffer.MemoryCopy(source, (void*)destination, bytes, bytes);
    }

    public void CopyDeviceToHost(void* destination, ulong source, long bytes, CudaStream? stream)
    {
        Copies++;
        Buffer.MemoryCopy((void*)source, destination, bytes, bytes);
    }

    public void CopyDeviceToDevice(ulong destination, ulong source, long bytes, CudaStream? stream)
    {
        Copies++;
        Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);
    }

    public void Dispose()
    {
        Pool.Trim();
        Pool.Dispose();
    }

    sealed class HostAllocator : IDeviceAllocator
    {
        public bool TryAllocate(long bytes, out ulong pointer)
        {
            pointer = (ulong)NativeMemory.Alloc((nuint)bytes);
            return true;
        }

        public void Free(ulong pointer) => NativeMemory.Free((void*)pointer);
    }
}
