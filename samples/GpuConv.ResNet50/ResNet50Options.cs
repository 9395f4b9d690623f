using GpuConv.Planning;

namespace GpuConv.ResNet50;

/// <summary>What the logits of the timed runs are judged against.</summary>
public enum ResNet50Check
{
    /// <summary>The unfolded network in float64 (<see cref="ReferenceResNet50"/>; tens of seconds at 224×224, one core).</summary>
    Reference,
    /// <summary>The same folded network on the CPU engine in this process (strict fp32, well under a second at 224×224 on
    /// many cores): the timed plans' own logits, cheaply; the CPU engine itself is held to float64 by the tests.</summary>
    Cpu,
    /// <summary>No check (timing only).</summary>
    None,
}

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
    /// <summary>What the logits are judged against (<c>--check</c>; <c>--no-reference</c> is <see cref="ResNet50Check.None"/>).</summary>
    public ResNet50Check Check { get; init; } = ResNet50Check.Reference;
    /// <summary>How the engine plans each convolution (<c>--policy</c>): exhaustive times every candidate on the first run.</summary>
    public PlanPolicy Policy { get; init; } = PlanPolicy.Cached;
    /// <summary>Plan-cache file (<c>--plan-cache</c>); null keeps plans in memory only.</summary>
    public string? PlanCache { get; init; }
    /// <summary>Where progress goes.</summary>
    public TextWriter Out { get; init; } = Console.Out;

    /// <summary>Where the run markers go ("[resnet50] begin run N" / "end run N"), beside GPUCONV_TRACE's native-call lines.</summary>
    public TextWriter Trace { get; init; } = Console.Error;

    public void Validate()
    {
        if (Batch < 1) throw new ArgumentException($"Batch must be at least 1, got {Batch}.", nameof(Batch));
        if (Size < 32) throw new ArgumentException($"Size must be at least 32 (ResNet-50 halves it five times), got {Size}.", nameof(Size));
        if (Classes < 1) throw new ArgumentException($"Classes must be at least 1, got {Classes}.", nameof(Classes));
        if (Runs < 1) throw new ArgumentException($"Runs must be at least 1, got {Runs}.", nameof(Runs));
    }
}
