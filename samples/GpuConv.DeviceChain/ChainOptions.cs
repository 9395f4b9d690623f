namespace GpuConv.DeviceChain;

/// <summary>What one run of the sample does (the command line's options; tests build it directly).</summary>
public sealed record ChainOptions
{
    /// <summary>Images per batch.</summary>
    public int Batch { get; init; } = 4;
    /// <summary>Image height and width (even: the network halves and doubles them).</summary>
    public int Height { get; init; } = 32;
    public int Width { get; init; } = 32;
    /// <summary>Batches run per thread, each uploaded, run and downloaded once.</summary>
    public int Batches { get; init; } = 4;
    /// <summary>Caller threads sharing the engine (each with its own buffers).</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Each caller thread opens its own engine (own stream, own weights) instead of sharing one.</summary>
    public bool EnginePerThread { get; init; }
    /// <summary>Device = Cpu: skip GPU discovery (what a machine without a GPU gets anyway).</summary>
    public bool Cpu { get; init; }
    /// <summary>Force one backend (cudnn, ptx, cpu, reference); null: the engine's choice.</summary>
    public string? Backend { get; init; }
    /// <summary>The plan cache file (persisted at dispose); null: memory only.</summary>
    public string? PlanCachePath { get; init; }
    /// <summary>Also judge the first batch against the float64 reference (slow for big images).</summary>
    public bool Reference { get; init; } = true;
    /// <summary>Also run a training-style step on the head layer (backward data, filter, bias; accumulated over micro-batches).</summary>
    public bool Train { get; init; } = true;
    /// <summary>Where progress goes; markers for the trace go to <see cref="Trace"/>.</summary>
    public TextWriter Out { get; init; } = Console.Out;
    /// <summary>Where "[devicechain] begin/end" markers go: stderr, interleaved with GPUCONV_TRACE's lines.</summary>
    public TextWriter Trace { get; init; } = Console.Error;

    public void Validate()
    {
        if (Batch < 1) throw new ArgumentException($"Batch must be at least 1, got {Batch}.", nameof(Batch));
        if (Height < 2 || Height % 2 != 0) throw new ArgumentException($"Height must be even and at least 2, got {Height}.", nameof(Height));
        if (Width < 2 || Width % 2 != 0) throw new ArgumentException($"Width must be even and at least 2, got {Width}.", nameof(Width));
        if (Batches < 1) throw new ArgumentException($"Batches must be at least 1, got {Batches}.", nameof(Batches));
        if (Threads is < 1 or > 16) throw new ArgumentException($"Threads must be 1 to 16, got {Threads}.", nameof(Threads));
    }
}
