namespace GpuConv.Tensors;

/// <summary>A float32 tensor in managed memory (row-major, NC[D]HW for activations).</summary>
public sealed class HostTensor : Tensor, IDisposable
{
    /// <summary>A zero-filled tensor of <paramref name="shape"/>; throws <see cref="InvalidOperationException"/> if it has more elements than a .NET array holds.</summary>
    public HostTensor(TensorShape shape) : this(shape, new float[(shape ?? throw new ArgumentNullException(nameof(shape))).ElementCountInt]) { }

    /// <summary>A tensor over <paramref name="data"/> (not copied); its length must equal the shape's element count, else <see cref="ArgumentException"/>.</summary>
    public HostTensor(TensorShape shape, float[] data) : base(shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length != shape.ElementCount)
            throw new ArgumentException($"data has {data.Length} elements but shape {shape} needs {shape.ElementCount}.", nameof(data));
        Data = data;
    }

    /// <summary>A tensor whose array is not zeroed (<see cref="HostAllocation"/>): for outputs written whole before they are read.</summary>
    internal static HostTensor Uninitialized(TensorShape shape) => new(shape, HostAllocation.Uninitialized(shape.ElementCountInt));

    /// <summary>A view of <paramref name="source"/>'s array with another shape of the same element count (ConvEngine.Reshape).</summary>
    internal HostTensor(HostTensor source, TensorShape shape) : this(shape, source.Data) => viewOf = source;

    // The tensor a view shares its array with: disposed with it, so code that uses a view after its source's scope fails here as on a GPU.
    readonly HostTensor? viewOf;

    /// <summary>A zero-filled tensor of shape <paramref name="dims"/>.</summary>
    public HostTensor(params int[] dims) : this(new TensorShape(dims)) { }

    /// <summary>The elements in row-major order (the array itself, not a copy).</summary>
    public float[] Data { get; }
    /// <summary><see cref="Data"/> as a span.</summary>
    public Span<float> Span => Data;
    /// <summary>Always <see cref="MemoryKind.Host"/>.</summary>
    public override MemoryKind Memory => MemoryKind.Host;

    /// <summary>Uniform random values in [-1, 1) (never all zeros), reproducible from the seed.</summary>
    public static HostTensor Random(TensorShape shape, int seed)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var t = new HostTensor(shape);
        var rng = new Random(seed);
        for (int i = 0; i < t.Data.Length; i++)
            t.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    /// <summary>
    /// True once disposed. The data stays readable and the host-tensor overloads still take it (they copy
    /// their inputs, on a GPU too); the engine's device-resident calls refuse it, as they refuse a disposed
    /// device tensor, so code that uses a tensor after its <c>using</c> scope fails on the CPU path as on a GPU.
    /// </summary>
    public bool IsDisposed => disposed || (viewOf?.IsDisposed ?? false);
    bool disposed;

    /// <summary>Marks the tensor disposed (see <see cref="IsDisposed"/>); there is nothing to free.</summary>
    void IDisposable.Dispose() => disposed = true;

    /// <summary>A deep copy (new array).</summary>
    public HostTensor Clone() => new(Shape, (float[])Data.Clone());

    /// <summary>"HostTensor" plus the shape.</summary>
    public override string ToString() => $"HostTensor{Shape}";
}
