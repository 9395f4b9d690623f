using GpuConv.Backends;
using GpuConv.Planning;

namespace GpuConv.Networks;

/// <summary>Which network a run builds (<c>--model</c>).</summary>
public enum NetworkModel
{
    /// <summary>torchvision's ResNet-50 (v1.5), <see cref="ResNet50.ResNet50Model"/>.</summary>
    ResNet50,
    /// <summary>torchvision's MobileNetV2 (width 1.0), <see cref="InvertedResiduals.MobileNetV2Model"/>.</summary>
    MobileNetV2,
    /// <summary>torchvision's MobileNetV3-Large (width 1.0), <see cref="InvertedResiduals.MobileNetV3Model"/>.</summary>
    MobileNetV3,
    /// <summary>torchvision's EfficientNet-B0, <see cref="InvertedResiduals.EfficientNetB0Model"/>.</summary>
    EfficientNetB0,
    /// <summary>torchvision's convnext_tiny (ConvNeXt-T), <see cref="ConvNeXt.ConvNeXtModel"/>.</summary>
    ConvNeXtTiny,
}

/// <summary>What the logits of the timed runs are judged against.</summary>
public enum NetworkCheck
{
    /// <summary>The unfolded network in float64 (the network's own reference; tens of seconds for ResNet-50 at 224×224, one core).</summary>
    Reference,
    /// <summary>The same folded network on the CPU engine in this process (strict fp32, well under a second at 224×224 on
    /// many cores): the timed plans' own logits, cheaply; the CPU engine itself is held to float64 by the tests.</summary>
    Cpu,
    /// <summary>No check (timing only).</summary>
    None,
}

/// <summary>The peer a run compares the whole network with (<c>--vs</c>).</summary>
public enum NetworkPeer
{
    /// <summary>ONNX Runtime's CPU execution provider on the same folded network written as one ONNX model (<see cref="Onnx.OnnxRuntimeComparison"/>).</summary>
    OnnxRuntime,
}

/// <summary>What one run of the sample does (the command line's options; tests build it directly).</summary>
public sealed record NetworkOptions
{
    /// <summary>The network (<c>--model resnet50|mobilenetv2|mobilenetv3|efficientnetb0</c>).</summary>
    public NetworkModel Model { get; init; } = NetworkModel.ResNet50;
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
    /// <summary>What the logits are judged against (<c>--check</c>; <c>--no-reference</c> is <see cref="NetworkCheck.None"/>).</summary>
    public NetworkCheck Check { get; init; } = NetworkCheck.Reference;
    /// <summary>How the engine plans each convolution (<c>--policy</c>): exhaustive times every candidate on the first run.</summary>
    public PlanPolicy Policy { get; init; } = PlanPolicy.Cached;
    /// <summary>Plan-cache file (<c>--plan-cache</c>); null keeps plans in memory only.</summary>
    public string? PlanCache { get; init; }
    /// <summary>Threads of the engine's CPU backend (<c>--threads</c>; ONNX Runtime's intra-op threads with <see cref="Vs"/>); null: every core.</summary>
    public int? Threads { get; init; }
    /// <summary>Every layer as its own call (<c>--unfused</c>): the inverted residual family's large blocks otherwise run as one fused call each.</summary>
    public bool Unfused { get; init; }
    /// <summary>
    /// After the timed runs, <see cref="Runs"/> more with every step timed (<c>--profile</c>: <see cref="NetworkProfile"/>);
    /// with <see cref="Vs"/> the peer's own per-node profile too.
    /// </summary>
    public bool Profile { get; init; }
    /// <summary>Also run the network in this peer and compare logits and times (<c>--vs onnxruntime</c>); GpuConv then
    /// runs on the CPU (as <see cref="Cpu"/>), the peer being a CPU runtime.</summary>
    public NetworkPeer? Vs { get; init; }
    /// <summary>With <see cref="Vs"/>: rounds of one block of <see cref="Runs"/> timed runs on each side, alternating (<c>--rounds</c>).</summary>
    public int Rounds { get; init; } = 3;
    /// <summary>
    /// Seconds of untimed runs before the timed ones (<c>--warmup-seconds</c>); null: 2 with <see cref="Vs"/> (before the
    /// rounds, each side), none before the sample's own median (a quick check). .NET's tiered JIT compiles a method
    /// unoptimized first and replaces it only after ~30 calls and a quiet spell of ~100 ms, on a background thread: a few
    /// warm-up runs time part of GpuConv's loops unoptimized (MobileNetV3-Large measured 13–15 ms after one warm-up run,
    /// 6–7 ms after two seconds or with the JIT's tiers off).
    /// </summary>
    public double? WarmupSeconds { get; init; }

    /// <summary><see cref="WarmupSeconds"/> as the run takes it.</summary>
    public double WarmUp => WarmupSeconds ?? (Vs is null ? 0 : 2);
    /// <summary>The ONNX model the peer runs; null: the network written by <see cref="INetworkModel.ToOnnx"/> (tests plant a
    /// changed weight here to see the comparison fail).</summary>
    public byte[]? OnnxModel { get; init; }
    /// <summary>Where progress goes.</summary>
    public TextWriter Out { get; init; } = Console.Out;

    /// <summary>Where the run markers go ("[resnet50] begin run N" / "end run N", the model's key in the brackets), beside GPUCONV_TRACE's native-call lines.</summary>
    public TextWriter Trace { get; init; } = Console.Error;

    /// <summary>The model's name in every line the sample prints for scripts: "resnet50", "mobilenetv2", "mobilenetv3", "efficientnetb0", "convnexttiny".</summary>
    public string Key => Model.ToString().ToLowerInvariant();

    /// <summary>The models' names as <c>--model</c> takes them, for messages: "resnet50, mobilenetv2, mobilenetv3, efficientnetb0 or convnexttiny".</summary>
    public static string ModelNames
    {
        get
        {
            var names = Enum.GetNames<NetworkModel>().Select(n => n.ToLowerInvariant()).ToArray();
            return $"{string.Join(", ", names[..^1])} or {names[^1]}";
        }
    }

    /// <summary>The classifier's input features (its weight is [Classes, features, 1, 1]).</summary>
    static int ClassifierFeatures(NetworkModel model) => model switch
    {
        NetworkModel.ResNet50 => 2048, // 512 × expansion 4
        NetworkModel.MobileNetV2 => InvertedResiduals.MobileNetV2Model.LastChannels,
        NetworkModel.MobileNetV3 => InvertedResiduals.MobileNetV3Model.HiddenChannels,
        NetworkModel.ConvNeXtTiny => ConvNeXt.ConvNeXtModel.LastChannels,
        _ => InvertedResiduals.EfficientNetB0Model.LastChannels,
    };

    public void Validate()
    {
        if (!Enum.IsDefined(Model)) throw new ArgumentException($"Model must be {ModelNames}, got {(int)Model}.", nameof(Model));
        if (Batch < 1) throw new ArgumentException($"Batch must be at least 1, got {Batch}.", nameof(Batch));
        if (WarmupSeconds is { } w && !(w >= 0 && w <= 600)) throw new ArgumentException($"WarmupSeconds must be in 0..600, got {WarmupSeconds}.", nameof(WarmupSeconds));
        if (Size < 32) throw new ArgumentException($"Size must be at least 32 ({Model} halves it five times), got {Size}.", nameof(Size));
        if (Classes < 1) throw new ArgumentException($"Classes must be at least 1, got {Classes}.", nameof(Classes));
        if (Runs < 1) throw new ArgumentException($"Runs must be at least 1, got {Runs}.", nameof(Runs));
        // The input is made on the host before anything else; past one buffer it is bad input, named here.
        double inputElements = (double)Batch * NetworkApp.InputChannels * Size * Size;
        if (inputElements > Array.MaxLength)
            throw new ArgumentException(
                $"Size {Size} at Batch {Batch} makes an input [{Batch}, {NetworkApp.InputChannels}, {Size}, {Size}] of {inputElements:F0} elements, more than one buffer holds ({Array.MaxLength}).",
                (double)NetworkApp.InputChannels * Size * Size > Array.MaxLength ? nameof(Size) : nameof(Batch));
        if (Rounds < 1) throw new ArgumentException($"Rounds must be at least 1, got {Rounds}.", nameof(Rounds));
        if (Threads is < 1 or > CpuBackend.MaxThreads)
            throw new ArgumentException($"Threads must be in 1..{CpuBackend.MaxThreads} (or left out: every core), got {Threads}.", nameof(Threads));
        if (Vs is { } peer && !Enum.IsDefined(peer)) throw new ArgumentException($"Vs must be onnxruntime, got {(int)peer}.", nameof(Vs));
        // So are the classifier's weight [Classes, features, 1, 1] (made with the model) and the logits [Batch, Classes, 1, 1].
        int features = ClassifierFeatures(Model);
        double weightElements = (double)Classes * features, logitElements = (double)Batch * Classes;
        if (Math.Max(weightElements, logitElements) > Array.MaxLength)
            throw new ArgumentException(weightElements > Array.MaxLength
                ? $"Classes {Classes} makes {Model}'s classifier weight [{Classes}, {features}, 1, 1] of {weightElements:F0} elements, more than one buffer holds ({Array.MaxLength})."
                : $"Classes {Classes} at Batch {Batch} makes logits [{Batch}, {Classes}, 1, 1] of {logitElements:F0} elements, more than one buffer holds ({Array.MaxLength}).",
                nameof(Classes));
    }
}
