namespace GpuConv.Tensors;

/// <summary>Where a tensor's elements live; a backend states which kind it reads and writes.</summary>
public enum MemoryKind
{
    Host,
    Device,
}

/// <summary>A float32 tensor with a shape, in host or device memory.</summary>
public abstract class Tensor
{
    protected Tensor(TensorShape shape) => Shape = shape ?? throw new ArgumentNullException(nameof(shape));

    public TensorShape Shape { get; }
    public abstract MemoryKind Memory { get; }
}
