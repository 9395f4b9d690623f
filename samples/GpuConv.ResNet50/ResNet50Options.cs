namespace GpuConv.ResNet50;

/// <summary>What one run of the sample does (the command line's options; tests build it directly).</summary>
public sealed record ResNet50Options
{
    /// <summary>Images per batch.</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Image height and width (224 as torchvision; at least 32, where the last stage is 1×1).</summary>
    public int Size { get; init; } = 224;
    /// <summary>Classifier outputs.</summary>
    public int Classes { get; init; } = 1000;
    /// <summary>Timed runs after the first (each: one upload, the network, one download); the median is printed.</summary>
    public int Runs { get; init; } = 5;
    /// <summary>Seed of the random weights and the input.</summary>
    public int Seed { get; init; } = 50;
    /// <summary>Device = Cpu: skip GPU discovery (what a machine without a GPU gets anyway).</summary>
    public bool Cpu { get; init; }
    /// <summary>Force one backend (cudnn, ptx, cpu, reference); null: the engine's choice.</summary>
    public string? Backend { get; init; }
    /// <summary>Judge the result against the unfolded network in float64 (tens of seconds at 224×224 on two cores).</summary>
    public bool Reference { get; init; } = true;
    /// <summary>Where progress goes.</summary>
    public TextWriter Out { get; init; } = Console.Out;

    public void Validate()
    {
        if (Batch < 1) throw new ArgumentException($"Batch must be at least 1, got {Batch}.", nameof(Batch));
        if (Size < 32) throw new ArgumentException($"Size must be at least 32 (ResNet-50 halves it five times), got {Size}.", nameof(Size));
        if (Classes < 1) throw new ArgumentException($"Classes must be at least 1, got {Classes}.", nameof(Classes));
        if (Runs < 1) throw new ArgumentException($"Runs must be at least 1, got {Runs}.", nameof(Runs));
    }
}
