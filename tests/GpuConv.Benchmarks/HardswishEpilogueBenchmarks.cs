using BenchmarkDotNet.Attributes;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// ForwardBiasActivation(Hardswish) on the CPU engine, two threads, on two MobileNetV3-like layers at batch 1 (a 1x1
/// 16 → 64 expansion at 112 × 112 and a depthwise 3x3 on 72 channels at 56 × 56): Fused is the call itself (the cpu
/// backend runs the element-wise hardswish loop over each task's region right after writing it); Separate is the
/// convolution with bias (Forward), then ConvEngine.Hardswish in place over the whole output. Same bits either way
/// (FusedHardswishSigmoidTests, CpuEngineFusedActivationTests).
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*HardswishEpilogueBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class HardswishEpilogueBenchmarks
{
    public static IEnumerable<FusedActivationBenchmarks.Layer> Layers() =>
    [
        new("MV3 1x1 16-64 112 hardswish", 16, 64, 112, 1, 1, 1, Activation.Hardswish),
        new("MV3 dw3x3 72 56 hardswish", 72, 72, 56, 3, 1, 72, Activation.Hardswish),
    ];

    [ParamsSource(nameof(Layers))]
    public FusedActivationBenchmarks.Layer L { get; set; } = null!;

    ConvEngine _engine = null!;
    ConvSpec _spec = null!;
    Tensor _x = null!, _w = null!, _b = null!, _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        int pad = L.Kernel / 2;
        _spec = new ConvSpec([L.Kernel, L.Kernel], stride: [L.Stride], padBegin: [pad], padEnd: [pad], groups: L.Groups);
        _x = _engine.Upload(HostTensor.Random(new TensorShape(1, L.C, L.Size, L.Size), 1));
        _w = _engine.Upload(HostTensor.Random(new TensorShape(L.K, L.C / L.Groups, L.Kernel, L.Kernel), 2));
        _b = _engine.Upload(HostTensor.Random(new TensorShape(L.K), 3));
        _y = _engine.ForwardBiasActivation(_spec, _x, _w, _b, L.Activation, constantWeights: true);
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    [Benchmark(Baseline = true)]
    public Tensor Separate()
    {
        _engine.Forward(_spec, _x, _w, _b, _y, constantWeights: true);
        return _engine.Hardswish(_y, _y);
    }

    [Benchmark]
    public Tensor Fused() => _engine.ForwardBiasActivation(_spec, _x, _w, _b, L.Activation, _y, constantWeights: true);
}
