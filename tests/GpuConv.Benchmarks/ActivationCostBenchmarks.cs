using BenchmarkDotNet.Attributes;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// The CPU engine's conv + bias + activation (<see cref="ConvEngine.ForwardBiasActivation"/>): what the activation adds
/// to a convolution (the CPU backend applies it inside the convolution's tasks; FusedActivationBenchmarks compares that
/// with the separate pass it replaced), on one thread and on all cores. Identity is the convolution alone. Layers: ResNet-50's layer1 3x3 (64 → 64, 56 × 56, 200 704 outputs) and EfficientNet-B0's stage-3 expansion 1x1
/// (24 → 144, 56 × 56, 451 584 outputs, followed by SiLU in that network).
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*ActivationCostBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class ActivationCostBenchmarks
{
    ConvEngine _engine = null!;
    Tensor _x = null!, _w = null!, _b = null!, _y = null!;
    ConvSpec _spec = null!;

    /// <summary>1: one thread; 0: all cores (ConvEngineOptions.CpuThreads = null).</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    [Params("resnet50.layer1.3x3", "efficientnet_b0.expand.1x1")]
    public string Layer { get; set; } = "";

    [Params(Activation.Identity, Activation.Relu, Activation.Silu)]
    public Activation Activation { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = Threads == 0 ? null : Threads });
        var (c, k, kernel) = Layer.StartsWith("resnet50", StringComparison.Ordinal) ? (64, 64, 3) : (24, 144, 1);
        _spec = kernel == 3 ? new ConvSpec([3, 3], padBegin: [1]) : new ConvSpec([1, 1]);
        _x = _engine.Upload(HostTensor.Random(new TensorShape(1, c, 56, 56), 1));
        _w = _engine.Upload(HostTensor.Random(new TensorShape(k, c, kernel, kernel), 2));
        _b = _engine.Upload(HostTensor.Random(new TensorShape(k), 3));
        _y = _engine.Allocate(new TensorShape(1, k, 56, 56));
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    [Benchmark]
    public Tensor ConvBiasActivation() => _engine.ForwardBiasActivation(_spec, _x, _w, _b, Activation, output: _y, constantWeights: true);
}
