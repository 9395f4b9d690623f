using BenchmarkDotNet.Attributes;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// The CPU engine's element-wise ops on a ResNet-50-sized activation (1×256×56×56 = 802 816 floats, 3.2 MB per operand):
/// CpuThreads = 1 is the single SIMD loop the ops were before ParallelElementwise; null (all cores) splits the tensor
/// over the CPU backend's workers. Same bits either way (Relu6Tests.ParallelLoopsGiveTheSingleLoopsBits_EveryOp).
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*ElementwiseBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class ElementwiseBenchmarks
{
    ConvEngine _engine = null!;
    Tensor _a = null!, _b = null!, _out = null!;

    /// <summary>1: the single-threaded loop; 0: all cores (ConvEngineOptions.CpuThreads = null).</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = Threads == 0 ? null : Threads });
        var shape = new TensorShape(1, 256, 56, 56);
        _a = _engine.Upload(HostTensor.Random(shape, 1));
        _b = _engine.Upload(HostTensor.Random(shape, 2));
        _out = _engine.Allocate(shape);
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    [Benchmark] public Tensor Relu6() => _engine.Relu6(_a, output: _out);
    [Benchmark] public Tensor Relu6Backward() => _engine.Relu6Backward(_b, _a, output: _out);
    [Benchmark] public Tensor Silu() => _engine.Silu(_a, output: _out);
    [Benchmark] public Tensor SiluBackward() => _engine.SiluBackward(_b, _a, output: _out);
    [Benchmark] public Tensor Add() => _engine.Add(_a, _b, output: _out);
    [Benchmark] public Tensor AddScaled() => _engine.AddScaled(_out, 0.5f, _a);
}
