using BenchmarkDotNet.Attributes;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// ForwardBiasActivation on the CPU engine, one thread, on ResNet-50 (ReLU) and MobileNetV2 (ReLU6) layers at batch 1:
/// Fused is the call itself (the cpu backend applies the activation in each task, on the output region it just wrote);
/// Separate is what the call did before: the convolution with bias (Forward), then the element-wise activation in place
/// over the whole output (ConvEngine.Relu / Relu6 / Silu / Hardswish / ..., the very op the engine ran). Same bits either way
/// (CpuFusedActivationTests, CpuEngineFusedActivationTests).
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*FusedActivationBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 12)]
public class FusedActivationBenchmarks
{
    public record Layer(string Name, int C, int K, int Size, int Kernel, int Stride, int Groups, Activation Activation)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Layer> Layers() =>
    [
        new("R50 stem 7x7/2 3-64 224", 3, 64, 224, 7, 2, 1, Activation.Relu),
        new("R50 1x1 64-64 56", 64, 64, 56, 1, 1, 1, Activation.Relu),
        new("R50 3x3 64 56", 64, 64, 56, 3, 1, 1, Activation.Relu),
        new("R50 3x3 512 7", 512, 512, 7, 3, 1, 1, Activation.Relu),
        new("MV2 1x1 24-144 56", 24, 144, 56, 1, 1, 1, Activation.Relu6),
        new("MV2 dw3x3 144 56", 144, 144, 56, 3, 1, 144, Activation.Relu6),
        new("MV2 1x1 24-144 56 SiLU", 24, 144, 56, 1, 1, 1, Activation.Silu),
    ];

    [ParamsSource(nameof(Layers))]
    public Layer L { get; set; } = null!;

    ConvEngine _engine = null!;
    ConvSpec _spec = null!;
    Tensor _x = null!, _w = null!, _b = null!, _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 1 });
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
        return L.Activation switch
        {
            Activation.Relu => _engine.Relu(_y, _y),
            Activation.Relu6 => _engine.Relu6(_y, _y),
            Activation.Hardswish => _engine.Hardswish(_y, _y),
            Activation.Sigmoid => _engine.Sigmoid(_y, _y),
            Activation.Hardsigmoid => _engine.Hardsigmoid(_y, _y),
            _ => _engine.Silu(_y, _y),
        };
    }

    [Benchmark]
    public Tensor Fused() => _engine.ForwardBiasActivation(_spec, _x, _w, _b, L.Activation, _y, constantWeights: true);
}
