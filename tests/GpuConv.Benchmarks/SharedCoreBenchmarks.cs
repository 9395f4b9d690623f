using BenchmarkDotNet.Attributes;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// The CPU engine on one thread and on all cores, with and without a busy thread competing for the cores (as another
/// process does on a loaded machine; the scheduler treats it the same). With <see cref="BusyThreads"/> = 1 on two cores
/// the OS often puts the engine's caller and its worker on one core: the workers' sit-out rule keeps the all-cores run
/// from being slower than the one-thread run there.
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*SharedCoreBenchmarks*'</c>.
/// </summary>
public class SharedCoreBenchmarks
{
    ConvEngine _engine = null!;
    Tensor _stem = null!, _pooled = null!, _x = null!, _w = null!, _y = null!;
    readonly PoolSpec _pool = new([3, 3], [2, 2], [1, 1]);
    readonly ConvSpec _conv = new([3, 3], padBegin: [1]);
    Thread? _busy;
    volatile bool _stop;

    /// <summary>1: one thread; 0: all cores (ConvEngineOptions.CpuThreads = null).</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>Threads spinning beside the benchmark for its whole run.</summary>
    [Params(0, 1)]
    public int BusyThreads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = Threads == 0 ? null : Threads });
        _stem = _engine.Upload(HostTensor.Random(new TensorShape(1, 64, 112, 112), 1));
        _pooled = _engine.Allocate(_pool.OutputShape(_stem.Shape));
        _x = _engine.Upload(HostTensor.Random(new TensorShape(1, 64, 56, 56), 2));
        _w = _engine.Upload(HostTensor.Random(new TensorShape(64, 64, 3, 3), 3));
        _y = _engine.Allocate(_x.Shape);
        for (int i = 0; i < BusyThreads; i++)
        {
            _busy = new Thread(() => { while (!_stop) Thread.SpinWait(100); }) { IsBackground = true, Name = "busy" };
            _busy.Start();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _busy?.Join();
        _engine.Dispose();
    }

    /// <summary>ResNet-50's stem max pool (64 planes of 112 × 112, 3×3 stride 2).</summary>
    [Benchmark] public Tensor StemMaxPool() => _engine.MaxPool(_pool, _stem, output: _pooled);

    /// <summary>ResNet-50's layer1 3x3 convolution (64 → 64, 56 × 56), weights constant.</summary>
    [Benchmark] public Tensor Layer1Conv3x3() => _engine.Forward(_conv, _x, _w, output: _y, constantWeights: true);
}
