namespace GpuConv.Tensors;

/// <summary>Where a tensor's elements live; a backend states which kind it reads and writes.</summary>
public enum MemoryKind
{
    /// <summary>Managed (CPU) memory: a <see cref="HostTensor"/>.</summary>
    Host,
    /// <summary>GPU memory: a <see cref="DeviceTensor"/>.</summary>
    Device,
}

/// <summary>
/// A float32 tensor with a shape, in host or device memory. Disposable so that code written for any
/// memory (<c>using var x = engine.Upload(…)</c>) frees device memory; a host tensor has nothing to free but is
/// marked disposed, and the engine's device-resident calls refuse a disposed tensor in either memory.
/// </summary>
public abstract class Tensor : IDisposable
{
    /// <summary>Sets the shape; throws <see cref="ArgumentNullException"/> when it is null.</summary>
    protected Tensor(TensorShape shape) => Shape = shape ?? throw new ArgumentNullException(nameof(shape));

    /// <summary>The tensor's dimensions.</summary>
    public TensorShape Shape { get; }
    /// <summary>Where the elements live.</summary>
    public abstract MemoryKind Memory { get; }

    /// <summary>Nothing to free for host memory; device tensors re-implement IDisposable to free theirs.</summary>
    void IDisposable.Dispose() { }
}
