using BenchmarkDotNet.Attributes;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>The CPU backend's forward pass on a few ResNet-50 / MobileNetV2 layers (batch 1, all cores).</summary>
[MemoryDiagnoser]
public class ConvBenchmarks
{
    CpuBackend _cpu = null!;
    ConvProblem _problem = null!;
    ConvAlgorithm _algorithm = null!;
    ConvTensors _tensors = null!;

    /// <summary>name: c, hw, k, kernel, stride, pad, groups.</summary>
    [Params("resnet50.conv1", "resnet50.layer1.0.conv2", "resnet50.layer3.0.conv3", "mobilenet_v2.features.2.dw")]
    public string Layer { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        (int c, int hw, int k, int kernel, int stride, int pad, int groups) = Layer switch
        {
            "resnet50.conv1" => (3, 224, 64, 7, 2, 3, 1),
            "resnet50.layer1.0.conv2" => (64, 56, 64, 3, 1, 1, 1),
            "resnet50.layer3.0.conv3" => (256, 14, 1024, 1, 1, 0, 1),
            _ => (96, 112, 96, 3, 2, 1, 96),
        };
        _cpu = new CpuBackend();
        var spec = new ConvSpec([kernel, kernel], [stride], padBegin: [pad], groups: groups);
        _problem = ConvProblem.Create(spec, new TensorShape(1, c, hw, hw), new TensorShape(k, c / groups, kernel, kernel));
        _algorithm = _cpu.GetAlgorithms(_problem, ConvPrecision.Strict)[0];
        _tensors = new ConvTensors(HostTensor.Random(_problem.XShape, 1), HostTensor.Random(_problem.WShape, 2), new HostTensor(_problem.YShape));
    }

    [GlobalCleanup]
    public void Cleanup() => _cpu.Dispose();

    [Benchmark]
    public void Forward() => _cpu.Run(_problem, _algorithm, _tensors);
}
