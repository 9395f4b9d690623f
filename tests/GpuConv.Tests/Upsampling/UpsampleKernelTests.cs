using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// kernels/upsample.ptx through the PTX interpreter against the CPU definition (CpuUpsampling), bit for bit: every mode
/// × rank (nearest and nearest-exact 1–3, linear, bilinear, trilinear) on random problems (sizes up and down, integer,
/// non-integer and below-1 factors, recompute_scale_factor, align_corners both ways), forward and gradient; random values
/// mixed with NaN, ±Inf, ±0 and subnormals (the fused blends and the gather's fma order must be the CPU's, −0 included);
/// 2 blocks of 32 threads so the grid-stride loop runs several rounds; the library's own argument lists (UpsampleKernels).
/// </summary>
public class UpsampleKernelTests
{
    public static IEnumerable<TestCaseData> Cases() => RandomUpsampleProblems.Cases(seeds: 5);

    static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];

    [TestCaseSource(nameof(Cases))]
    public void UpsampleMatchesTheCpuLoopsBitForBit(UpsampleMode mode, int rank, int seed)
    {
        var (spec, input) = RandomUpsampleProblems.Create(seed + 100, mode, rank);
        var g = UpsampleGeometry.Of(spec, input);
        var x = ElementwiseKernelTests.Values((int)g.InCount, seed + 1);
        var expected = new float[g.OutCount];
        CpuUpsampling.Forward(g, x, expected);

        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), py = mem.AllocatePoisoned((int)g.OutCount);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(UpsampleKernels.Module, UpsampleKernels.ForwardEntry), new PtxDim3(2), new PtxDim3(32),
            UpsampleKernels.ForwardArguments(py, px, g));
        Assert.That(Bits(mem.Download(py, (int)g.OutCount)), Is.EqualTo(Bits(expected)), $"{spec} on {input}");
        Assert.That(Bits(mem.Download(px, x.Length)), Is.EqualTo(Bits(x)), "x untouched");
    }

    [TestCaseSource(nameof(Cases))]
    public void UpsampleBackwardMatchesTheCpuLoopsBitForBit(UpsampleMode mode, int rank, int seed)
    {
        var (spec, input) = RandomUpsampleProblems.Create(seed + 200, mode, rank);
        var g = UpsampleGeometry.Of(spec, input);
        var dy = ElementwiseKernelTests.Values((int)g.OutCount, seed + 2);
        var expected = new float[g.InCount];
        CpuUpsampling.Backward(g, dy, expected);

        var mem = new PtxGlobalMemory();
        ulong pdy = mem.Upload(dy), pdx = mem.AllocatePoisoned((int)g.InCount);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(UpsampleKernels.Module, UpsampleKernels.BackwardEntry), new PtxDim3(2), new PtxDim3(32),
            UpsampleKernels.BackwardArguments(pdx, pdy, g));
        Assert.That(Bits(mem.Download(pdx, (int)g.InCount)), Is.EqualTo(Bits(expected)), $"{spec} on {input}");
    }

    /// <summary>
    /// The corners of the index arithmetic on one dimension each: PyTorch's float64 position rounding up to the next
    /// integer in float32 (the fma correction), t &lt; 0 clamped, out = in (copy, both taps), out = 1 with align_corners
    /// (scale 0), a large non-integer factor, downsampling past half; forward and gradient, interpreter against CPU.
    /// </summary>
    [TestCase(UpsampleMode.Linear, 7, 11, false)]
    [TestCase(UpsampleMode.Linear, 7, 11, true)]
    [TestCase(UpsampleMode.Linear, 9, 9, false)]
    [TestCase(UpsampleMode.Linear, 6, 1, true)]
    [TestCase(UpsampleMode.Linear, 3, 40, false)]
    [TestCase(UpsampleMode.Linear, 40, 3, false)]
    [TestCase(UpsampleMode.Nearest, 40, 3, false)]
    [TestCase(UpsampleMode.NearestExact, 3, 40, false)]
    // Rows long enough for the CPU's eight-output vectors, whose taps must lie within eight inputs: downsampling by
    // 3/4, scales just above and at 1 (8 outputs spanning 8 or 9 inputs), 2x and 3x, with and without align_corners.
    [TestCase(UpsampleMode.Linear, 40, 30, false)]
    [TestCase(UpsampleMode.Linear, 40, 44, false)]
    [TestCase(UpsampleMode.Linear, 40, 46, true)]
    [TestCase(UpsampleMode.Linear, 40, 40, true)]
    [TestCase(UpsampleMode.Linear, 33, 80, false)]
    [TestCase(UpsampleMode.Linear, 21, 60, true)]
    public void EdgeGeometriesMatchTheCpuLoops(UpsampleMode mode, int n, int m, bool align)
    {
        var spec = UpsampleSpec.ToSize(mode, [m], align);
        var input = new TensorShape(1, 2, n);
        var g = UpsampleGeometry.Of(spec, input);
        var x = ElementwiseKernelTests.Values((int)g.InCount, n + m);
        var y = new float[g.OutCount];
        CpuUpsampling.Forward(g, x, y);
        var dx = new float[g.InCount];
        CpuUpsampling.Backward(g, y, dx);
        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), py = mem.AllocatePoisoned((int)g.OutCount), pdx = mem.AllocatePoisoned((int)g.InCount);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(UpsampleKernels.Module, UpsampleKernels.ForwardEntry), new PtxDim3(1), new PtxDim3(32),
            UpsampleKernels.ForwardArguments(py, px, g));
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(UpsampleKernels.Module, UpsampleKernels.BackwardEntry), new PtxDim3(1), new PtxDim3(32),
            UpsampleKernels.BackwardArguments(pdx, py, g));
        Assert.That(Bits(mem.Download(py, y.Length)), Is.EqualTo(Bits(y)), "forward");
        Assert.That(Bits(mem.Download(pdx, dx.Length)), Is.EqualTo(Bits(dx)), "backward");
    }

    /// <summary>Each entry launched once through the engine's own launch helpers, for KernelLaunchSignatureTests.</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var spec = UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0], alignCorners: true);
        var small = new TensorShape(shape[0], shape[1], 2, 2); // its output, [N, C, 4, 4], fits the buffer
        var g = UpsampleGeometry.Of(spec, small);
        UpsampleKernels.LaunchForward(rt, buffer, buffer, g);
        UpsampleKernels.LaunchBackward(rt, buffer, buffer, g);
    }
}
