namespace GpuConv.Tensors;

/// <summary>Where a tensor's elements live; a backend states which kind it reads and writes.</summary>
public enum MemoryKind
{
    Host,
    Device,
}

/// <summary>
/// A float32 tensor with a shape, in host or device memory. Disposable so that code written for any
/// memory (<c>using var x = engine.Upload(…)</c>) frees device memory; for host tensors disposing does nothing.
/// </summary>
public abstract class Tensor : IDisposable
{
    protected Tensor(TensorShape shape) => Shape = shape ?? throw new ArgumentNullException(nameof(shape));

    public TensorShape Shape { get; }
    public abstract MemoryKind Memory { get; }

    /// <summary>Nothing to free for host memory; device tensors re-implement IDisposable to free theirs.</summary>
    void IDisposable.Dispose() { }
}
