using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>Page-locked host floats (cuMemAllocHost_v2): the source/destination for truly asynchronous copies.</summary>
public sealed unsafe class PinnedHostBuffer : IDisposable
{
    readonly PinnedHostHandle _handle;

    internal PinnedHostBuffer(ContextLifetime owner, int elements)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(elements);
        using var current = owner.Enter();
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuMemAllocHost_v2(out void* p, (nuint)elements * sizeof(float)), "cuMemAllocHost_v2");
        _handle = new PinnedHostHandle(owner, (nint)p);
        Length = elements;
    }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    internal float* Pointer => _handle.IsClosed ? throw new ObjectDisposedException(nameof(PinnedHostBuffer)) : (float*)_handle.DangerousGetHandle();

    /// <summary>The floats; throws <see cref="ObjectDisposedException"/> once disposed.</summary>
    public Span<float> Span => new(Pointer, Length);

    /// <summary>Frees the page-locked memory (cuMemFreeHost).</summary>
    public void Dispose() => _handle.Dispose();
}
