using BenchmarkDotNet.Attributes;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// GELU on the CPU engine, one thread, 2^20 floats, for the three inputs whose share of |x| ≥ 1 sets the forward's cost on
/// AVX-512 (GeluMath.RegimesApart: the tail runs only on those lanes): uniform in [-3, 3) (2/3 of them), N(0, 1) (1/3)
/// and uniform in [-0.9, 0.9) (none). The peer is PyTorch on the same inputs: <c>/usr/bin/python3 build/bench-gelu-torch.py</c>.
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*GeluBenchmarks*'</c>; with
/// <c>DOTNET_EnableAVX512=0</c> the Vector256 loops.
/// </summary>
[MemoryDiagnoser]
public class GeluBenchmarks
{
    public const int Count = 1 << 20;

    ConvEngine _engine = null!;
    Tensor _x = null!, _dy = null!, _out = null!;

    [Params("uniform3", "normal", "near")]
    public string Inputs { get; set; } = "normal";

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 1 });
        var shape = new TensorShape(1, Count);
        _x = _engine.Upload(new HostTensor(shape, Values(Inputs, Count, 1)));
        _dy = _engine.Upload(HostTensor.Random(shape, 2));
        _out = _engine.Allocate(shape);
    }

    /// <summary>The benchmark's inputs; build/bench-gelu-torch.py draws the same distributions.</summary>
    public static float[] Values(string inputs, int count, int seed)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
            v[i] = inputs switch
            {
                "uniform3" => (float)(rng.NextDouble() * 6 - 3),
                "near" => (float)(rng.NextDouble() * 1.8 - 0.9),
                _ => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())),
            };
        return v;
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    [Benchmark] public Tensor Gelu() => _engine.Gelu(_x, output: _out);
    [Benchmark] public Tensor GeluTanh() => _engine.Gelu(_x, GeluApproximation.Tanh, output: _out);
    [Benchmark] public Tensor GeluBackward() => _engine.GeluBackward(_dy, _x, output: _out);
}
