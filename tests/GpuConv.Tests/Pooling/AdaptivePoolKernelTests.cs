using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// kernels/adaptive_pool.ptx through the PTX interpreter against the CPU definitions (CpuAdaptivePooling), bit for bit:
/// adaptive max and average pooling and both gradients on ranks 1–3, windows that overlap, repeat inputs, divide
/// evenly or cover a whole dimension; random values mixed with NaN, ±Inf, ±0 and subnormals; small launches so the
/// grid-stride loop runs several rounds; the library's own argument lists (AdaptivePoolKernels). The max pool's argmax
/// pass (y = 0) against <see cref="CpuAdaptivePooling.ArgMax"/>.
/// </summary>
public class AdaptivePoolKernelTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData C(string name, int[] shape, int[] output) => new TestCaseData(shape, output).SetArgDisplayNames(name);
        yield return C("1-d 13 -> 5", [2, 3, 13], [5]);
        yield return C("1-d 5 -> 8 (repeats)", [1, 2, 5], [8]);
        yield return C("2-d 14x11 -> 6x4", [2, 2, 14, 11], [6, 4]);
        yield return C("2-d 12x12 -> 3x3 (even)", [1, 3, 12, 12], [3, 3]);
        yield return C("2-d 9x10 -> 1x1 (global)", [2, 2, 9, 10], [1, 1]);
        yield return C("2-d 6x5 -> 7x2", [1, 2, 6, 5], [7, 2]);
        yield return C("3-d 5x7x6 -> 3x2x4", [1, 2, 5, 7, 6], [3, 2, 4]);
        yield return C("3-d 4x9x5 -> 4x3x1", [1, 1, 4, 9, 5], [4, 3, 1]);
    }

    static AdaptivePoolGeometry Geometry(int[] shape, int[] output)
    {
        var input = new TensorShape(shape);
        return AdaptivePoolGeometry.Of(input, AdaptivePoolGeometry.OutputShape(input, output));
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardMatchesTheCpuDefinitionBitForBit(int[] shape, int[] output)
    {
        var g = Geometry(shape, output);
        int n = (int)((long)g.Planes * g.PlaneSize), outs = (int)g.OutputCount;
        var x = ElementwiseKernelTests.Values(n, n);
        foreach (bool max in new[] { true, false })
        {
            var expected = new float[outs];
            if (max) CpuAdaptivePooling.Max(g, x, expected); else CpuAdaptivePooling.Average(g, x, expected);
            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), py = mem.AllocatePoisoned(outs);
            var kernel = ShippedKernels.Get(AdaptivePoolKernels.Module, max ? AdaptivePoolKernels.MaxEntry : AdaptivePoolKernels.AverageEntry);
            var args = max ? AdaptivePoolKernels.Arguments(g, outs, [py, 0, px]) : AdaptivePoolKernels.Arguments(g, outs, [py, px]);
            new PtxInterpreter(mem).Launch(kernel, new PtxDim3(2), new PtxDim3(32), args);
            Assert.That(PoolKernelTests.Bits(mem.Download(py, outs)), Is.EqualTo(PoolKernelTests.Bits(expected)), max ? "max" : "avg");
            Assert.That(PoolKernelTests.Bits(mem.Download(px, n)), Is.EqualTo(PoolKernelTests.Bits(x)), "x untouched");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void ArgMaxPassMatchesTheCpuDefinition(int[] shape, int[] output)
    {
        var g = Geometry(shape, output);
        int n = (int)((long)g.Planes * g.PlaneSize), outs = (int)g.OutputCount;
        var x = ElementwiseKernelTests.Values(n, n + 3);
        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), pat = mem.AllocatePoisoned(outs);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(AdaptivePoolKernels.Module, AdaptivePoolKernels.MaxEntry), new PtxDim3(2), new PtxDim3(32),
            AdaptivePoolKernels.Arguments(g, outs, [0, pat, px]));
        var got = mem.Download(pat, outs).Select(BitConverter.SingleToUInt32Bits).ToArray();
        var expected = new uint[outs];
        for (int plane = 0, o = 0; plane < g.Planes; plane++)
            for (int od = 0; od < g.OutD; od++)
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < g.OutW; ow++)
                        expected[o++] = (uint)CpuAdaptivePooling.ArgMax(g, x, plane * g.PlaneSize, od, oh, ow);
        Assert.That(got, Is.EqualTo(expected));
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardMatchesTheCpuDefinitionBitForBit(int[] shape, int[] output)
    {
        var g = Geometry(shape, output);
        int n = (int)((long)g.Planes * g.PlaneSize), outs = (int)g.OutputCount;
        // Rounded values: many ties, so the first of equal maxima must be the one both pick.
        var x = ElementwiseKernelTests.Values(n, n + 1).Select(v => float.IsFinite(v) ? MathF.Round(v) : v).ToArray();
        var dy = ElementwiseKernelTests.Values(outs, 7);
        foreach (bool max in new[] { true, false })
        {
            var expected = new float[n];
            if (max) CpuAdaptivePooling.MaxBackward(g, x, dy, expected); else CpuAdaptivePooling.AverageBackward(g, dy, expected);
            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), pdy = mem.Upload(dy), pdx = mem.AllocatePoisoned(n), pat = mem.AllocatePoisoned(outs);
            var interpreter = new PtxInterpreter(mem);
            if (max)
            {
                interpreter.Launch(ShippedKernels.Get(AdaptivePoolKernels.Module, AdaptivePoolKernels.MaxEntry), new PtxDim3(2), new PtxDim3(32),
                    AdaptivePoolKernels.Arguments(g, outs, [0, pat, px]));
                interpreter.Launch(ShippedKernels.Get(AdaptivePoolKernels.Module, AdaptivePoolKernels.MaxBackwardEntry), new PtxDim3(2), new PtxDim3(32),
                    AdaptivePoolKernels.Arguments(g, n, [pdx, pat, pdy]));
            }
            else
                interpreter.Launch(ShippedKernels.Get(AdaptivePoolKernels.Module, AdaptivePoolKernels.AverageBackwardEntry), new PtxDim3(2), new PtxDim3(32),
                    AdaptivePoolKernels.Arguments(g, n, [pdx, pdy]));
            Assert.That(PoolKernelTests.Bits(mem.Download(pdx, n)), Is.EqualTo(PoolKernelTests.Bits(expected)), max ? "max backward" : "avg backward");
        }
    }

    [Test]
    public void SpecialValuesFollowPyTorch()
    {
        // 1-d, 4 inputs to 3 outputs: windows [0, 2), [1, 3), [2, 4).
        float nan = float.NaN, inf = float.PositiveInfinity;
        var g = Geometry([1, 1, 4], [3]);
        float[] Forward(bool max, float[] x)
        {
            var y = new float[3];
            if (max) CpuAdaptivePooling.Max(g, x, y); else CpuAdaptivePooling.Average(g, x, y);
            return y;
        }
        var m = Forward(true, [1f, nan, 2f, 5f]);
        Assert.That(float.IsNaN(m[0]) && float.IsNaN(m[1]) && m[2] == 5f, "a NaN in the window gives NaN");
        Assert.That(Forward(true, [-inf, -inf, -inf, -inf]), Is.EqualTo(new[] { -inf, -inf, -inf }));
        Assert.That(BitConverter.SingleToUInt32Bits(Forward(true, [-0f, 0f, 1f, 1f])[0]), Is.EqualTo(0x8000_0000u), "of equal values the first: -0");
        var a = Forward(false, [-0f, -0f, inf, -inf]);
        Assert.That(BitConverter.SingleToUInt32Bits(a[0]), Is.Zero, "the sum starts from +0");
        Assert.That(a[1] == inf && float.IsNaN(a[2]));

        // Gradients: ties give the first; a window of -inf gives its first element; overlapping windows add up.
        var dx = new float[4];
        CpuAdaptivePooling.MaxBackward(g, [3f, 3f, 3f, 1f], [1f, 2f, 4f], dx);
        Assert.That(dx, Is.EqualTo(new[] { 1f, 2f, 4f, 0f }));
        CpuAdaptivePooling.MaxBackward(g, [-inf, -inf, -inf, -inf], [1f, 2f, 4f], dx);
        Assert.That(dx, Is.EqualTo(new[] { 1f, 2f, 4f, 0f }));
        CpuAdaptivePooling.AverageBackward(g, [2f, 4f, 8f], dx);
        Assert.That(dx, Is.EqualTo(new[] { 1f, 1f + 2f, 2f + 4f, 4f }));
    }
    /// <summary>Every entry as the engine launches it (ConvEngine.AdaptivePooling), for KernelLaunchSignatureTests.</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var g = AdaptivePoolGeometry.Of(shape, AdaptivePoolGeometry.OutputShape(shape, [3]));
        AdaptivePoolKernels.LaunchMax(rt, buffer, buffer, buffer, g);
        AdaptivePoolKernels.LaunchAverage(rt, buffer, buffer, g);
        AdaptivePoolKernels.LaunchMaxBackward(rt, buffer, buffer, buffer, g);
        AdaptivePoolKernels.LaunchAverageBackward(rt, buffer, buffer, g);
    }
}
