using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// kernels/pool.ptx through the PTX interpreter against the CPU definitions (CpuPooling), bit for bit: max and average
/// pooling on ranks 1–3, odd sizes, padding, dilation, ceil-mode edge windows (a last window that runs past the padded
/// end, one dropped because it would start past it), count_include_pad both ways; random values mixed with NaN, ±Inf,
/// ±0 and subnormals; small launches so the grid-stride loop runs several rounds; the library's own argument lists
/// (PoolKernels). The global average's block tree against <see cref="CpuPooling.GlobalAverage"/> for several block sizes.
/// </summary>
public class PoolKernelTests
{
    /// <summary>(name, input shape, spec) covering every branch of the window arithmetic.</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData C(string name, int[] shape, PoolSpec spec) => new TestCaseData(shape, spec).SetArgDisplayNames(name);
        yield return C("resnet stem 3x3/2 p1 13x11", [2, 3, 13, 11], new PoolSpec([3, 3], [2], [1]));
        yield return C("2x2/2 odd 7x9", [1, 4, 7, 9], new PoolSpec([2, 2]));
        yield return C("2x2/2 odd 7x9 ceil", [1, 4, 7, 9], new PoolSpec([2, 2], CeilMode: true));
        yield return C("3x3/2 p1 ceil 9x10", [1, 2, 9, 10], new PoolSpec([3, 3], [2], [1], CeilMode: true));
        yield return C("4x3 s(3,2) p(2,1) ceil 7x8", [1, 2, 7, 8], new PoolSpec([4, 3], [3, 2], [2, 1], CeilMode: true));
        yield return C("dilated (2,1) 3x2 ceil", [1, 2, 8, 7], new PoolSpec([3, 2], [2, 3], [1, 1], [2, 1], CeilMode: true));
        yield return C("1-d k5 s3 p2 ceil 19", [2, 2, 19], new PoolSpec([5], [3], [2], CeilMode: true));
        yield return C("1-d k4 s3 p2 dil2 ceil 17", [2, 2, 17], new PoolSpec([4], [3], [2], [2], CeilMode: true));
        yield return C("1-d all-padding window (dil 3)", [1, 2, 2], new PoolSpec([2], [1], [1], [3]));
        yield return C("3-d (3,2,3) s(2,2,1) p(1,1,0) ceil", [1, 2, 5, 6, 7], new PoolSpec([3, 2, 3], [2, 2, 1], [1, 1, 0], CeilMode: true));
        yield return C("3-d (2,3,3)/2 p1 ceil", [1, 3, 6, 5, 7], new PoolSpec([2, 3, 3], [2], [1], CeilMode: true));
        yield return C("global-size window 7x7", [2, 3, 7, 7], new PoolSpec([7, 7]));
        yield return C("stride 1 k3 p1 5x5", [3, 1, 5, 5], new PoolSpec([3, 3], [1], [1]));
    }

    internal static PoolGeometry Geometry(PoolSpec spec, TensorShape input) => PoolGeometry.Of(spec, input, spec.OutputShape(input));

    internal static float[] Expected(bool max, in PoolGeometry g, float[] x)
    {
        var y = new float[g.OutputCount];
        if (max) CpuPooling.Max(g, x, y);
        else CpuPooling.Average(g, x, y);
        return y;
    }

    /// <summary>
    /// Bits, with every NaN as one value: which of two NaN operands an add returns is the hardware's choice (x86 the
    /// first, and the JIT may swap an add's operands; a GPU returns the canonical NaN), so payloads are not compared.
    /// </summary>
    internal static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];

    [TestCaseSource(nameof(Cases))]
    public void MaxAndAverageMatchTheCpuDefinitionBitForBit(int[] dims, PoolSpec spec)
    {
        var shape = new TensorShape(dims);
        var x = ElementwiseKernelTests.Values(shape.ElementCountInt, shape.ElementCountInt);
        foreach (bool max in new[] { true, false })
            foreach (bool include in max ? new[] { true } : [true, false])
            {
                var s = spec with { CountIncludePad = include };
                if (!max && !s.IsDense) continue;
                var g = Geometry(s, shape);
                var mem = new PtxGlobalMemory();
                ulong px = mem.Upload(x), py = mem.AllocatePoisoned((int)g.OutputCount);
                // 2 blocks of 32: the grid-stride loop runs several rounds on all but the smallest cases.
                var kernel = ShippedKernels.Get(PoolKernels.Module, max ? PoolKernels.MaxEntry : PoolKernels.AverageEntry);
                new PtxInterpreter(mem).Launch(kernel, new PtxDim3(2), new PtxDim3(32), PoolKernels.Arguments(max, py, px, g));
                Assert.That(Bits(mem.Download(py, (int)g.OutputCount)), Is.EqualTo(Bits(Expected(max, g, x))), $"{(max ? "max" : "avg")} {s}");
                Assert.That(Bits(mem.Download(px, x.Length)), Is.EqualTo(Bits(x)), "x untouched");
            }
    }

    internal static float[] ExpectedBackward(bool max, in PoolGeometry g, float[] x, float[] dy)
    {
        var dx = new float[(long)g.Planes * g.PlaneSize];
        if (max) CpuPooling.MaxBackward(g, x, dy, dx);
        else CpuPooling.AverageBackward(g, dy, dx);
        return dx;
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardMatchesTheCpuDefinitionBitForBit(int[] dims, PoolSpec spec)
    {
        var shape = new TensorShape(dims);
        var x = ElementwiseKernelTests.Values(shape.ElementCountInt, shape.ElementCountInt + 1);
        foreach (bool max in new[] { true, false })
            foreach (bool include in max ? new[] { true } : [true, false])
            {
                var s = spec with { CountIncludePad = include };
                if (!max && !s.IsDense) continue;
                var g = Geometry(s, shape);
                var dy = ElementwiseKernelTests.Values((int)g.OutputCount, 7);
                var mem = new PtxGlobalMemory();
                ulong px = mem.Upload(x), pdy = mem.Upload(dy), pdx = mem.AllocatePoisoned(x.Length);
                var kernel = ShippedKernels.Get(PoolKernels.Module, max ? PoolKernels.MaxBackwardEntry : PoolKernels.AverageBackwardEntry);
                new PtxInterpreter(mem).Launch(kernel, new PtxDim3(2), new PtxDim3(32), PoolKernels.BackwardArguments(max, pdx, px, pdy, g));
                Assert.That(Bits(mem.Download(pdx, x.Length)), Is.EqualTo(Bits(ExpectedBackward(max, g, x, dy))), $"{(max ? "max" : "avg")} backward {s}");
            }
    }

    [Test]
    public void BackwardSpecialCasesFollowPyTorch()
    {
        // 1-d, kernel 3, stride 1, padding 1: every input is in up to 3 windows.
        var spec = new PoolSpec([3], [1], [1]);
        float nan = float.NaN, inf = float.PositiveInfinity;
        float[] dy = [1f, 2f, 4f, 8f, 16f];
        // Windows (5, 5), (5, 5, 1), (5, 1, 3), (1, 3, 3), (3, 3): maxima at 0, 0, 1, 3, 3 (ties keep the first).
        var dx = RunBackward(true, spec, [5f, 5f, 1f, 3f, 3f], dy);
        Assert.That(dx, Is.EqualTo(new[] { 1f + 2f, 4f, 0f, 8f + 16f, 0f }), "ties keep the first; a shared maximum sums its windows' dy");
        dx = RunBackward(true, spec, [1f, nan, 2f, nan, 0f], dy);
        // Windows (1, NaN), (1, NaN, 2), (NaN, 2, NaN), (2, NaN, 0), (NaN, 0): the third goes to the later NaN.
        Assert.That(dx, Is.EqualTo(new[] { 0f, 1f + 2f, 0f, 4f + 8f + 16f, 0f }), "a NaN takes the window, and a later NaN takes it from an earlier one");
        dx = RunBackward(true, new PoolSpec([2], [1]), [-inf, -inf, 2f], [1f, 2f]);
        Assert.That(dx, Is.EqualTo(new[] { 1f, 0f, 2f }), "a window of -inf gives its gradient to its first tap, as PyTorch's index");
        dx = RunBackward(true, new PoolSpec([2], [1], [1], [3]), [1f, 1f], [5f]);
        Assert.That(dx, Is.EqualTo(new[] { 0f, 0f }), "a window with every tap in the padding passes nothing");
        // Average, count_include_pad: every window divides by 3; the input at 0 is in windows 0 and 1.
        dx = RunBackward(false, spec, [0f, 0f, 0f, 0f, 0f], [3f, 6f, 9f, 12f, 15f]);
        Assert.That(dx, Is.EqualTo(new[] { 1f + 2f, 1f + 2f + 3f, 2f + 3f + 4f, 3f + 4f + 5f, 4f + 5f }));
        dx = RunBackward(false, spec with { CountIncludePad = false }, [0f, 0f, 0f, 0f, 0f], [2f, 6f, 9f, 12f, 10f]);
        Assert.That(dx, Is.EqualTo(new[] { 1f + 2f, 1f + 2f + 3f, 2f + 3f + 4f, 3f + 4f + 5f, 4f + 5f }), "edge windows divide by 2 without the padding");
    }

    static float[] RunBackward(bool max, PoolSpec spec, float[] x, float[] dy)
    {
        var g = Geometry(spec, new TensorShape(1, 1, x.Length));
        Assert.That(g.OutputCount, Is.EqualTo(dy.Length));
        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), pdy = mem.Upload(dy), pdx = mem.AllocatePoisoned(x.Length);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(PoolKernels.Module, max ? PoolKernels.MaxBackwardEntry : PoolKernels.AverageBackwardEntry),
            new PtxDim3(1), new PtxDim3(32), PoolKernels.BackwardArguments(max, pdx, px, pdy, g));
        var dx = mem.Download(pdx, x.Length);
        Assert.That(Bits(dx), Is.EqualTo(Bits(ExpectedBackward(max, g, x, dy))), "kernel and CPU loop agree");
        return dx;
    }

    [Test]
    public void SpecialValuesFollowPyTorch()
    {
        // Spelled out rather than only compared with the CPU loop. 1-d, kernel 2, stride 1: windows (x0,x1), (x1,x2), …
        float nan = float.NaN, inf = float.PositiveInfinity;
        float[] x = [nan, 1f, 2f, -0f, 0f, -0f, -inf, -inf, inf, 3f];
        var max = Run(true, new PoolSpec([2], [1]), x);
        Assert.That(float.IsNaN(max[0]), "a NaN in the window gives NaN");
        Assert.That(max[1], Is.EqualTo(2f));
        Assert.That(max[2], Is.EqualTo(2f));
        Assert.That(BitConverter.SingleToUInt32Bits(max[3]), Is.EqualTo(0x8000_0000u), "max(-0, +0) keeps the first: -0, as PyTorch's v > m");
        Assert.That(BitConverter.SingleToUInt32Bits(max[4]), Is.Zero, "max(+0, -0) = +0");
        Assert.That(max[5..], Is.EqualTo(new[] { -0f, -inf, inf, inf }));
        var nanLater = Run(true, new PoolSpec([3], [1]), [1f, nan, 2f, 5f]);
        Assert.That(float.IsNaN(nanLater[0]) && float.IsNaN(nanLater[1]), "nothing replaces a NaN");
        var allPadding = Run(true, new PoolSpec([2], [1], [1], [3]), [1f, 1f]);
        Assert.That(allPadding, Is.EqualTo(new[] { float.NegativeInfinity }), "a window with every tap in the padding: -inf, as PyTorch");
        var avg = Run(false, new PoolSpec([2], [1]), [-0f, -0f, inf, -inf]);
        Assert.That(BitConverter.SingleToUInt32Bits(avg[0]), Is.Zero, "the sum starts from +0: avg(-0, -0) = +0, as PyTorch");
        Assert.That(avg[1], Is.EqualTo(inf));
        Assert.That(float.IsNaN(avg[2]), "Inf + -Inf = NaN");
        // PyTorch 1.13: avg_pool1d(arange(1, 8), 3, 2, 1, ceil_mode=True) = [1, 3, 5, 4.3333] (the last window's
        // padded size is 3: it ends at in + pad), and [1.5, 3, 5, 6.5] with count_include_pad=False.
        float[] seven = [1, 2, 3, 4, 5, 6, 7];
        Assert.That(Run(false, new PoolSpec([3], [2], [1], CeilMode: true), seven), Is.EqualTo(new[] { 1f, 3f, 5f, 13f / 3f }));
        Assert.That(Run(false, new PoolSpec([3], [2], [1], CeilMode: true, CountIncludePad: false), seven), Is.EqualTo(new[] { 1.5f, 3f, 5f, 6.5f }));
    }

    static float[] Run(bool max, PoolSpec spec, float[] x)
    {
        var g = Geometry(spec, new TensorShape(1, 1, x.Length));
        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), py = mem.AllocatePoisoned((int)g.OutputCount);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(PoolKernels.Module, max ? PoolKernels.MaxEntry : PoolKernels.AverageEntry),
            new PtxDim3(1), new PtxDim3(32), PoolKernels.Arguments(max, py, px, g));
        var y = mem.Download(py, (int)g.OutputCount);
        Assert.That(Bits(y), Is.EqualTo(Bits(Expected(max, g, x))), "kernel and CPU loop agree");
        return y;
    }

    [TestCase(1, 1, 32)]
    [TestCase(3, 49, 256)]
    [TestCase(5, 300, 256)]
    [TestCase(2, 1000, 64)]
    [TestCase(4, 7, 8)]
    public void GlobalAverageMatchesTheCpuDefinitionBitForBit(int planes, int spatial, int threads)
    {
        var x = ElementwiseKernelTests.Values(planes * spatial, planes + spatial);
        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), py = mem.AllocatePoisoned(planes);
        // Fewer blocks than planes: the plane loop runs more than once per block.
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(PoolKernels.Module, PoolKernels.GlobalAverageEntry), new PtxDim3(2), new PtxDim3(threads),
            PoolKernels.GlobalAverageArguments(py, px, planes, spatial));
        var expected = new float[planes];
        CpuPooling.GlobalAverage(x, expected, planes, spatial, threads);
        Assert.That(Bits(mem.Download(py, planes)), Is.EqualTo(Bits(expected)));
    }

    [Test]
    public void GlobalAverageOrderIsTheDocumentedTree()
    {
        // 4 threads, 6 elements: partials p0 = x0 + x4, p1 = x1 + x5, p2 = x2, p3 = x3; tree (p0 + p2) + (p1 + p3).
        // Values chosen so the sequential order rounds differently: tree 3/6, sequential 2/6.
        float big = 1e8f;
        float[] x = [1f, big, 1f, -big, 1f, 1f];
        var y = new float[1];
        CpuPooling.GlobalAverage(x, y, 1, 6, threads: 4);
        float p0 = x[0] + x[4], p1 = x[1] + x[5], p2 = x[2], p3 = x[3];
        Assert.That(y[0], Is.EqualTo(((p0 + p2) + (p1 + p3)) / 6f));
        Assert.That(y[0], Is.EqualTo(0.5f));
        float sequential = 0f;
        foreach (var v in x) sequential += v;
        Assert.That(sequential / 6f, Is.EqualTo(2f / 6f), "the sequential order gives another value here");
    }

    [Test]
    public void TheLaunchHelpersCoverEveryOutputWithTheBackendsBlockSize()
    {
        var rt = new SimulatedPtxRuntime();
        var shape = new TensorShape(2, 3, 23, 21);
        var data = ElementwiseKernelTests.Values(shape.ElementCountInt, 9);
        var x = rt.Upload(data, shape);
        var spec = new PoolSpec([3, 3], [2], [1], CeilMode: true);
        var g = Geometry(spec, shape);
        var y = rt.Allocate(spec.OutputShape(shape));
        PoolKernels.Launch(rt, true, rt.PointerOf(y), rt.PointerOf(x), g);
        Assert.That(Bits(rt.Download(y)), Is.EqualTo(Bits(Expected(true, g, data))));
        var planes = rt.Allocate(new TensorShape(6));
        PoolKernels.LaunchGlobalAverage(rt, rt.PointerOf(planes), rt.PointerOf(x), 6, 23 * 21);
        var expected = new float[6];
        CpuPooling.GlobalAverage(data, expected, 6, 23 * 21);
        Assert.That(Bits(rt.Download(planes)), Is.EqualTo(Bits(expected)));
        // 6·12·11 = 792 outputs: 4 blocks of 256; the global average one 256-thread block per plane.
        Assert.That(rt.LaunchShapes, Is.EqualTo(new[] { (4u, 256u), (6u, 256u) }));
    }

    /// <summary>Every entry of pool.ptx through the launch helpers the engine uses (for KernelLaunchSignatureTests).</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var g = Geometry(new PoolSpec([3, 3], [2], [1]), shape);
        foreach (bool max in new[] { true, false })
        {
            PoolKernels.Launch(rt, max, buffer, buffer, g);
            PoolKernels.LaunchBackward(rt, max, buffer, buffer, buffer, g);
        }
        PoolKernels.LaunchGlobalAverage(rt, buffer, buffer, shape.Dims[0] * shape.Dims[1], shape.ElementCount / (shape.Dims[0] * shape.Dims[1]));
    }

    [Test]
    public void EntriesHaveTheDocumentedParameters()
    {
        string source = ShippedKernels.Source(PoolKernels.Module);
        Assert.That(source, Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
        var g = Geometry(new PoolSpec([3, 3]), new TensorShape(1, 1, 5, 5));
        Assert.That(ShippedKernels.Get(PoolKernels.Module, PoolKernels.MaxEntry).Params, Has.Count.EqualTo(PoolKernels.Arguments(true, 1, 2, g).Length));
        Assert.That(ShippedKernels.Get(PoolKernels.Module, PoolKernels.AverageEntry).Params, Has.Count.EqualTo(PoolKernels.Arguments(false, 1, 2, g).Length));
        Assert.That(ShippedKernels.Get(PoolKernels.Module, PoolKernels.GlobalAverageEntry).Params, Has.Count.EqualTo(PoolKernels.GlobalAverageArguments(1, 2, 3, 4).Length));
        Assert.That(ShippedKernels.Get(PoolKernels.Module, PoolKernels.MaxBackwardEntry).Params, Has.Count.EqualTo(PoolKernels.BackwardArguments(true, 1, 2, 3, g).Length));
        Assert.That(ShippedKernels.Get(PoolKernels.Module, PoolKernels.AverageBackwardEntry).Params, Has.Count.EqualTo(PoolKernels.BackwardArguments(false, 1, 2, 3, g).Length));
    }
}
