namespace GpuConv.Tensors;

/// <summary>
/// Where a backend's tensors live and how data gets there: host memory, or one GPU's device memory.
/// The engine uses it to move user data to the chosen backend and back, and the planner to make
/// scratch tensors for timing, without knowing which kind it is.
/// </summary>
public interface IMemorySpace
{
    /// <summary>Host or device: the kind of every tensor this space allocates.</summary>
    MemoryKind Kind { get; }

    /// <summary>A new tensor of the shape (contents unspecified).</summary>
    Tensor Allocate(TensorShape shape);

    /// <summary>Copies host data into a tensor of this space (same shape).</summary>
    void CopyFromHost(ReadOnlySpan<float> source, Tensor destination);

    /// <summary>Copies a tensor of this space back to host memory (same element count).</summary>
    void CopyToHost(Tensor source, Span<float> destination);
}

/// <summary>Managed memory: tensors are <see cref="HostTensor"/>s.</summary>
internal sealed class HostMemorySpace : IMemorySpace
{
    public static readonly HostMemorySpace Instance = new();
    HostMemorySpace() { }

    public MemoryKind Kind => MemoryKind.Host;

    public Tensor Allocate(TensorShape shape) => HostTensor.Uninitialized(shape);

    public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination) =>
        source.CopyTo(AsHost(destination).Data.AsSpan());

    public void CopyToHost(Tensor source, Span<float> destination) =>
        AsHost(source).Data.AsSpan().CopyTo(destination);

    static HostTensor AsHost(Tensor t) => t as HostTensor
        ?? throw new ArgumentException($"expected a host tensor, got {t.GetType().Name} in {t.Memory} memory.", nameof(t));
}
