using System.Runtime.InteropServices;
using GpuConv.Cuda;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// Host memory standing in for device memory, so DeviceTensor's logic runs on CPU. Records every
/// operation in order ("HtoD own", "Sync own", …; "own" is the runtime's own stream, "given" a
/// caller's), so tests can check that copies are ordered on a stream and waited for where promised.
/// </summary>
sealed unsafe class HostBackedRuntime : IDeviceRuntime, IDisposable
{
    public HostBackedRuntime() => Pool = new DeviceMemoryPool(new HostAllocator());

    public DeviceMemoryPool Pool { get; }
    public List<string> Operations { get; } = [];
    public int Copies => Operations.Count(o => !o.StartsWith("Sync", StringComparison.Ordinal));

    static string Label(CudaStream? stream) => stream is null ? "own" : "given";

    public void CopyHostToDevice(ulong destination, void* source, long bytes, CudaStream? stream)
    {
        Operations.Add($"HtoD {Label(stream)}");
        Buffer.MemoryCopy(source, (void*)destination, bytes, bytes);
    }

    public void CopyDeviceToHost(void* destination, ulong source, long bytes, CudaStream? stream)
    {
        Operations.Add($"DtoH {Label(stream)}");
        Buffer.MemoryCopy((void*)source, destination, bytes, bytes);
    }

    public void CopyDeviceToDevice(ulong destination, ulong source, long bytes, CudaStream? stream)
    {
        Operations.Add($"DtoD {Label(stream)}");
        Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);
    }

    public void Synchronize(CudaStream? stream) => Operations.Add($"Sync {Label(stream)}");

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

        public void WaitForPendingWork() { } // host copies finish before they return: nothing queued
    }
}
