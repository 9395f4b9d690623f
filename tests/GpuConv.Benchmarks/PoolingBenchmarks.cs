using BenchmarkDotNet.Attributes;
using GpuConv.Cpu.Pooling;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// The CPU pools on networks' shapes, the scalar definitions (Vector = false, the code before the vector rows) against
/// the vector rows and lanes (true) in one process: ResNet-50's stem max pool (64 planes of 112 × 112, 3×3 stride 2
/// padding 1), a 3×3 stride-1 average pool (256 planes of 56 × 56, padding 1, count_include_pad false), YOLO's SPP max
/// pool (256 planes of 13 × 13, 5×5 stride 1 padding 2: two border columns a side), and the global
/// averages of ResNet-50's head (2048 planes of 7 × 7) and MobileNetV2's (1280 planes of 7 × 7); and two backwards: the
/// stem max pool's (Vector = false: the scalar argmax per output, true: a vector of outputs at a time; both scatter) and
/// a DenseNet transition's 2x2/2 average pool on 128 × 56 × 56 (false: the scalar scatter, true: a vector of inputs). CpuThreads-like
/// Threads: 1 is the calling thread; 0 all cores on CpuWorkers, as the engine splits pools.
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*PoolingBenchmarks*'</c>; the peer on
/// the same shapes: <c>/usr/bin/python3 build/bench-pool-torch.py --threads 1</c> (PyTorch's CPU pools).
/// </summary>
[MemoryDiagnoser]
public class PoolingBenchmarks
{
    CpuWorkers? _workers;
    PoolGeometry _stem, _avg, _spp, _transition;
    float[] _stemX = null!, _stemY = null!, _stemDy = null!, _stemDx = null!, _transitionDy = null!, _transitionDx = null!, _avgX = null!, _avgY = null!, _sppX = null!, _sppY = null!, _resnetHead = null!, _mobileHead = null!, _means = null!, _means1280 = null!;

    /// <summary>1: the calling thread; 0: all cores.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>False: the scalar definitions; true: the vector rows (the engine's path).</summary>
    [Params(false, true)]
    public bool Vector { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _workers = Threads == 1 ? null : new CpuWorkers(Environment.ProcessorCount);
        (_stem, _stemX, _stemY) = Case(new PoolSpec([3, 3], [2], [1]), new TensorShape(1, 64, 112, 112), 1);
        _stemDy = HostTensor.Random(new TensorShape(_stemY.Length), 6).Data;
        _stemDx = new float[_stemX.Length];
        var transitionShape = new TensorShape(1, 128, 56, 56);
        (_transition, _, var transitionY) = Case(new PoolSpec([2, 2], [2], [0]), transitionShape, 7);
        _transitionDy = HostTensor.Random(new TensorShape(transitionY.Length), 8).Data;
        _transitionDx = new float[transitionShape.ElementCount];
        (_avg, _avgX, _avgY) = Case(new PoolSpec([3, 3], [1], [1], CountIncludePad: false), new TensorShape(1, 256, 56, 56), 2);
        (_spp, _sppX, _sppY) = Case(new PoolSpec([5, 5], [1], [2]), new TensorShape(1, 256, 13, 13), 5);
        _resnetHead = HostTensor.Random(new TensorShape(1, 2048, 7, 7), 3).Data;
        _mobileHead = HostTensor.Random(new TensorShape(1, 1280, 7, 7), 4).Data;
        _means = new float[2048];
        _means1280 = new float[1280];
    }

    static (PoolGeometry, float[], float[]) Case(PoolSpec spec, TensorShape shape, int seed)
    {
        var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
        return (g, HostTensor.Random(shape, seed).Data, new float[g.OutputCount]);
    }

    [GlobalCleanup]
    public void Cleanup() => _workers?.Dispose();

    [Benchmark] public void StemMaxPool() => CpuPooling.Max(_stem, _stemX, _stemY, _workers, Vector);
    [Benchmark] public void StemMaxPoolBackward() => CpuPooling.MaxBackward(_stem, _stemX, _stemDy, _stemDx, _workers, vector: Vector);
    [Benchmark] public void TransitionAvgPoolBackward() => CpuPooling.AverageBackward(_transition, _transitionDy, _transitionDx, _workers, vector: Vector);
    [Benchmark] public void AvgPool3x3() => CpuPooling.Average(_avg, _avgX, _avgY, _workers, Vector);
    [Benchmark] public void SppMaxPool5x5() => CpuPooling.Max(_spp, _sppX, _sppY, _workers, Vector);
    [Benchmark] public void ResNet50GlobalAvg() => CpuPooling.GlobalAverage(_resnetHead, _means, 2048, 49, workers: _workers, vector: Vector);
    [Benchmark] public void MobileNetV2GlobalAvg() => CpuPooling.GlobalAverage(_mobileHead, _means1280, 1280, 49, workers: _workers, vector: Vector);
}
