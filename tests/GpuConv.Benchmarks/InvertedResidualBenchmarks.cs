using BenchmarkDotNet.Attributes;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// MobileNetV2's large inverted residual blocks on the CPU engine (224 × 224, batch 1, ReLU6), one thread: the three
/// layer calls (the baseline) against <see cref="ConvEngine.ForwardInvertedResidual"/>, whose band kernel keeps the
/// expanded tensor in cache. "cold" evicts the caches before every call (64 MiB written), as in a network where the
/// layers between two calls of a block touch more than the caches hold; "warm" repeats the block alone.
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*InvertedResidualBenchmarks*'</c>.
/// The whole networks: <c>GpuConv.Networks --model mobilenetv2 --vs onnxruntime</c>, with <c>--unfused</c> for every
/// layer as its own call.
/// </summary>
public class InvertedResidualBenchmarks
{
    static readonly ConvSpec Pointwise = new([1, 1]);

    ConvEngine _engine = null!;
    Tensor _x = null!, _ew = null!, _eb = null!, _dww = null!, _dwb = null!, _pw = null!, _pb = null!;
    Tensor _expanded = null!, _depthwise = null!, _y = null!;
    ConvSpec _dw = null!;
    readonly float[] _evict = new float[16 << 20];

    /// <summary>features.2 (16 → 96 at 112², stride 2 → 24), features.3 (24 → 144 at 56², → 24 + x), features.4 (stride 2 → 32), features.5 (32 → 192 at 28², → 32 + x).</summary>
    [Params("112x16s2", "56x24s1", "56x24s2", "28x32s1")]
    public string Block { get; set; } = "112x16s2";

    [Params("cold", "warm")]
    public string Caches { get; set; } = "cold";

    bool Residual => Block.EndsWith("s1");

    [GlobalSetup]
    public void Setup()
    {
        _engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 1 });
        var (h, c, e, s, co) = Block switch
        {
            "112x16s2" => (112, 16, 96, 2, 24),
            "56x24s1" => (56, 24, 144, 1, 24),
            "56x24s2" => (56, 24, 144, 2, 32),
            _ => (28, 32, 192, 1, 32),
        };
        int oh = (h - 1) / s + 1;
        _x = _engine.Upload(HostTensor.Random(new TensorShape(1, c, h, h), 1));
        _ew = _engine.Upload(Scaled(new TensorShape(e, c, 1, 1), 2, 1.7 / Math.Sqrt(c)));
        _eb = _engine.Upload(HostTensor.Random(new TensorShape(e), 3));
        _dww = _engine.Upload(Scaled(new TensorShape(e, 1, 3, 3), 4, 0.5));
        _dwb = _engine.Upload(HostTensor.Random(new TensorShape(e), 5));
        _pw = _engine.Upload(Scaled(new TensorShape(co, e, 1, 1), 6, 1.7 / Math.Sqrt(e)));
        _pb = _engine.Upload(HostTensor.Random(new TensorShape(co), 7));
        _dw = new ConvSpec([3, 3], [s, s], padBegin: [1, 1], groups: e);
        _expanded = _engine.Allocate(new TensorShape(1, e, h, h));
        _depthwise = _engine.Allocate(new TensorShape(1, e, oh, oh));
        _y = _engine.Allocate(new TensorShape(1, co, oh, oh));
    }

    static HostTensor Scaled(TensorShape shape, int seed, double scale)
    {
        var t = HostTensor.Random(shape, seed);
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] *= (float)scale;
        return t;
    }

    [IterationSetup]
    public void Evict()
    {
        if (Caches != "cold") return;
        for (int i = 0; i < _evict.Length; i += 16) _evict[i] += 1;
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.Dispose();

    [Benchmark(Baseline = true)]
    public Tensor LayerCalls()
    {
        _engine.ForwardBiasActivation(Pointwise, _x, _ew, _eb, Activation.Relu6, output: _expanded, constantWeights: true);
        _engine.ForwardBiasActivation(_dw, _expanded, _dww, _dwb, Activation.Relu6, output: _depthwise, constantWeights: true);
        _engine.Forward(Pointwise, _depthwise, _pw, _pb, output: _y, constantWeights: true);
        return Residual ? _engine.Add(_y, _x, output: _y) : _y;
    }

    [Benchmark]
    public Tensor Fused() =>
        _engine.ForwardInvertedResidual(_x, _ew, _eb, _dw, _dww, _dwb, _pw, _pb, Activation.Relu6, Residual, output: _y);
}
