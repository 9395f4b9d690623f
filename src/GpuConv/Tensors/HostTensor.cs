namespace GpuConv.Tensors;

/// <summary>A float32 tensor in managed memory (row-major, NC[D]HW for activations).</summary>
public sealed class HostTensor : Tensor
{
    public HostTensor(TensorShape shape) : this(shape, new float[shape.ElementCountInt]) { }

    public HostTensor(TensorShape shape, float[] data) : base(shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length != shape.ElementCount)
            throw new ArgumentException($"data has {data.Length} elements but shape {shape} needs {shape.ElementCount}.", nameof(data));
        Data = data;
    }

    public HostTensor(params int[] dims) : this(new TensorShape(dims)) { }

    public float[] Data { get; }
    public Span<float> Span => Data;
    public override MemoryKind Memory => MemoryKind.Host;

    /// <summary>Uniform random values in [-1, 1) (never all zeros), reproducible from the seed.</summary>
    public static HostTensor Random(TensorShape shape, int seed)
    {
        var t = new HostTensor(shape);
        var rng = new Random(seed);
        for (int i = 0; i < t.Data.Length; i++)
            t.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    public HostTensor Clone() => new(Shape, (float[])Data.Clone());

    public override string ToString() => $"HostTensor{Shape}";
}
