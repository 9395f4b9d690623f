using BenchmarkDotNet.Attributes;
using GpuConv.Cpu.Layers;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// The CPU BatchNorm (CpuBatchNorm, the engine's host path) in training mode on ResNet shapes: the forward (statistics
/// with the running-statistics update, then the normalisation) and the backward (dgamma, dbeta, dx), on the calling
/// thread (Threads = 1) or all cores on CpuWorkers (0), as the engine runs it. The peer is torch 1.13's CPU
/// native_batch_norm / native_batch_norm_backward on the same shapes (build/bench-batchnorm-torch.py).
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*BatchNormBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class BatchNormBenchmarks
{
    CpuWorkers? _workers;
    BatchNormShape _shape;
    float[] _x = null!, _y = null!, _dy = null!, _dx = null!, _gamma = null!, _beta = null!, _mean = null!, _inv = null!, _rm = null!, _rv = null!, _dg = null!, _db = null!;

    /// <summary>1: the calling thread; 0: all cores.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>[N, C, H, W] as "N,C,H,W".</summary>
    [Params("8,64,56,56", "8,256,14,14", "32,512,7,7", "8,32,112,112")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _workers = Threads == 1 ? null : new CpuWorkers(Environment.ProcessorCount);
        var dims = Shape.Split(',').Select(int.Parse).ToArray();
        var shape = new TensorShape(dims);
        _shape = new BatchNormShape(dims[0], dims[1], dims[2] * dims[3]);
        _x = HostTensor.Random(shape, 1).Data;
        _dy = HostTensor.Random(shape, 2).Data;
        _y = new float[_x.Length];
        _dx = new float[_x.Length];
        int c = dims[1];
        _gamma = [.. Enumerable.Repeat(1.1f, c)];
        _beta = [.. Enumerable.Repeat(0.1f, c)];
        _rm = new float[c];
        _rv = [.. Enumerable.Repeat(1f, c)];
        _mean = new float[c];
        _inv = new float[c];
        _dg = new float[c];
        _db = new float[c];
    }

    [GlobalCleanup]
    public void Cleanup() => _workers?.Dispose();

    [Benchmark]
    public void TrainingForward()
    {
        CpuBatchNorm.Statistics(_x, _shape, 1e-5f, _mean, _inv, _rm, _rv, 0.1f, 0.9f, _workers);
        CpuBatchNorm.Normalize(_x, _y, _shape, _mean, _inv, false, 1e-5f, _gamma, _beta, _workers);
    }

    [Benchmark]
    public void Backward() => CpuBatchNorm.Backward(_dy, _x, _shape, _mean, _inv, _gamma, _dx, _dg, _db, _workers);
}
