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

    /// <summary>
    /// Frees the tensor's device memory (a host tensor is only marked disposed), as <c>using</c> does: callable on
    /// any <see cref="Tensor"/> the engine returns. Runs the derived class's own IDisposable implementation.
    /// </summary>
    public void Dispose() => ((IDisposable)this).Dispose();

    /// <summary>Nothing to free here; device and host tensors re-implement IDisposable.</summary>
    void IDisposable.Dispose() { }
}
