using BenchmarkDotNet.Attributes;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Benchmarks;

/// <summary>
/// The blocked SIMD SGEMM against a naive triple loop (the baseline) on GEMM shapes that ResNet-50
/// convolutions produce: (output channels) × (output positions) × (input channels · taps).
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    float[] _a = [], _b = [], _c = [];

    [Params("64x3136x576", "256x784x128", "512x49x4608")]
    public string Shape { get; set; } = "";

    int M => int.Parse(Shape.Split('x')[0]);
    int N => int.Parse(Shape.Split('x')[1]);
    int K => int.Parse(Shape.Split('x')[2]);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = Enumerable.Range(0, M * K).Select(_ => (float)rng.NextDouble()).ToArray();
        _b = Enumerable.Range(0, K * N).Select(_ => (float)rng.NextDouble()).ToArray();
        _c = new float[M * N];
    }

    [Benchmark(Baseline = true)]
    public void Naive()
    {
        int m = M, n = N, k = K;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += _a[i * k + p] * _b[p * n + j];
                _c[i * n + j] = s;
            }
    }

    [Benchmark]
    public void BlockedSimdOneThread() => Sgemm.Multiply(M, N, K, _a, K, false, _b, N, false, _c, N, maxDegreeOfParallelism: 1);

    [Benchmark]
    public void BlockedSimdAllCores() => Sgemm.Multiply(M, N, K, _a, K, false, _b, N, false, _c, N);
}
