using BenchmarkDotNet.Attributes;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv.Benchmarks;

/// <summary>
/// The CPU upsampling gradient on a U-Net decoder's shape (64 planes of 56 × 56, scale 2): the definition as written
/// (Gather = true: each input gathers the outputs that read it, the code before the scatter) against the engine's scatter
/// (false: each output onto its taps once), on the calling thread, with the forward beside them for scale.
/// Run: <c>dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*UpsampleBenchmarks*'</c>; the peer on
/// the same shapes: <c>/usr/bin/python3 build/bench-upsample-torch.py</c> (PyTorch's CPU kernels).
/// </summary>
[MemoryDiagnoser]
public class UpsampleBenchmarks
{
    UpsampleGeometry _nearest, _bilinear;
    float[] _x = null!, _y = null!, _dy = null!, _dx = null!;

    /// <summary>True: the gather definition; false: the scatter (the engine's path).</summary>
    [Params(true, false)]
    public bool Gather { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var input = new TensorShape(1, 64, 56, 56);
        _nearest = UpsampleGeometry.Of(UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0, 2.0]), input);
        _bilinear = UpsampleGeometry.Of(UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0]), input);
        _x = HostTensor.Random(input, 1).Data;
        _y = new float[_nearest.OutCount];
        _dy = HostTensor.Random(new TensorShape(1, 64, 112, 112), 2).Data;
        _dx = new float[input.ElementCount];
    }

    [Benchmark] public void NearestForward() => CpuUpsampling.Forward(_nearest, _x, _y);
    [Benchmark] public void NearestBackward() => CpuUpsampling.Backward(_nearest, _dy, _dx, gather: Gather);
    [Benchmark] public void BilinearForward() => CpuUpsampling.Forward(_bilinear, _x, _y);
    [Benchmark] public void BilinearBackward() => CpuUpsampling.Backward(_bilinear, _dy, _dx, gather: Gather);
}
