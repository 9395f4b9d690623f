using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// A process's first calls of ops whose row helpers were once left to tiered compilation (docs/benchmarks.md, s24):
/// cold start, no warm-up, each iteration one call in a fresh process's first twenty, so the medians read the code a
/// process runs before call counting has promoted anything (the first call, with its compilation, is the maximum).
/// One thread, 64 × 56 × 56 (upsampled to 112 × 112; padded by 1 on each side).
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*FirstCallBenchmarks*'</c>.
/// </summary>
[SimpleJob(RunStrategy.ColdStart, launchCount: 3, warmupCount: 0, iterationCount: 20)]
[MedianColumn, MinColumn, MaxColumn]
public class FirstCallBenchmarks
{
    ConvEngine _engine = null!;
    Tensor _x = null!, _up = null!, _upGradient = null!, _padded = null!, _paddedGradient = null!, _dx = null!;
    Tensor _logits = null!, _probabilities = null!, _probabilityGradient = null!, _logitGradient = null!;
    readonly UpsampleSpec _nearest = UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0, 2.0]);
    readonly UpsampleSpec _bilinear = UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0]);
    readonly PadSpec _reflect = new(PadMode.Reflect, [1, 1]);
    static readonly TensorShape X = new(1, 64, 56, 56), Up = new(1, 64, 112, 112), Padded = new(1, 64, 58, 58), Logits = new(64, 1000);

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 1 });
        _x = _engine.Upload(HostTensor.Random(X, 1));
        _up = _engine.Allocate(Up);
        _upGradient = _engine.Upload(HostTensor.Random(Up, 2));
        _padded = _engine.Allocate(Padded);
        _paddedGradient = _engine.Upload(HostTensor.Random(Padded, 3));
        _dx = _engine.Allocate(X);
        _logits = _engine.Upload(HostTensor.Random(Logits, 4));
        _probabilities = _engine.Allocate(Logits);
        _probabilityGradient = _engine.Upload(HostTensor.Random(Logits, 5));
        _logitGradient = _engine.Allocate(Logits);
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    [Benchmark] public void NearestUpsample() => _engine.Upsample(_nearest, _x, _up);
    [Benchmark] public void BilinearUpsample() => _engine.Upsample(_bilinear, _x, _up);
    [Benchmark] public void BilinearUpsampleBackward() => _engine.UpsampleBackward(_bilinear, _upGradient, X, _dx);
    [Benchmark] public void ReflectPad() => _engine.Pad(_reflect, _x, _padded);
    [Benchmark] public void ReflectPadBackward() => _engine.PadBackward(_reflect, _paddedGradient, X, _dx);
    [Benchmark] public void Softmax() => _engine.Softmax(_logits, 1, _probabilities);
    [Benchmark] public void SoftmaxBackward() => _engine.SoftmaxBackward(_probabilityGradient, _probabilities, 1, _logitGradient);
}
