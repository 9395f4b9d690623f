using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;

using GpuConv.Tests.Support;
using GpuConv.Cpu.Columns;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// Every shipped PTX kernel run through the interpreter on random small problems and compared with the
/// CPU definition: im2col/col2im bit for bit with Im2Col.Forward/Backward, bias_add bit for bit with a
/// float loop, bias_grad and depthwise_fwd with the float64 ReferenceConv. Launch shapes are chosen
/// small (a few blocks) so the grid-stride loops really iterate.
/// </summary>
public class PtxKernelTests
{
    const int Cases = 24;

    /// <summary>
    /// Which index path the last launch ran: the 32-bit one divides by magic multipliers only (no div/rem
    /// at all), the 64-bit one (forced here; a launch that needs it is too large for a CPU) runs div.u64.
    /// </summary>
    internal static void AssertPath(PtxInterpreter interpreter, bool wide)
    {
        var ops = interpreter.ExecutedByOpcode();
        var divisions = ops.Keys.Where(k => k.StartsWith("div.", StringComparison.Ordinal) || k.StartsWith("rem.", StringComparison.Ordinal)).ToList();
        if (wide) Assert.That(ops.Keys, Does.Contain("div.u64"), "the 64-bit path ran");
        else
        {
            Assert.That(divisions, Is.Empty, "the 32-bit path divides by multiplying only");
            Assert.That(ops.Keys, Does.Contain("mul.hi.u32"), "the 32-bit path ran");
        }
    }

    [Test]
    public void ShippedKernelsParseWithTheExpectedEntries()
    {
        // pointers and counts, 18 geometry values, a (multiplier, shift) pair per divisor, force64
        Assert.That(ShippedKernels.Get("im2col.ptx", "im2col_f32").Params, Has.Count.EqualTo(4 + 18 + 2 * 3 + 1));
        Assert.That(ShippedKernels.Get("col2im.ptx", "col2im_f32").Params, Has.Count.EqualTo(4 + 18 + 2 * 6 + 1));
        Assert.That(ShippedKernels.Get("bias.ptx", "bias_add_f32").Params, Has.Count.EqualTo(6));
        Assert.That(ShippedKernels.Get("bias.ptx", "bias_grad_f32").Params, Has.Count.EqualTo(5));
        Assert.That(ShippedKernels.Get("depthwise.ptx", "depthwise_fwd_f32").Params, Has.Count.EqualTo(7 + 18 + 2 * 5 + 1));
        Assert.That(ShippedKernels.Get("fill.ptx", "fill_f32").Params, Has.Count.EqualTo(3));
        foreach (var file in new[] { "im2col.ptx", "col2im.ptx", "bias.ptx", "depthwise.ptx", "fill.ptx" })
            Assert.That(ShippedKernels.Source(file), Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
    }

    [Test]
    public void Im2ColMatchesTheCpuDefinitionBitForBit([Range(0, Cases - 1)] int seed, [Values(false, true)] bool force64)
    {
        var rng = new Random(1000 + seed);
        var p = RandomConvProblems.Next(rng);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        // A chunk of images [n0, n0 + nImg) as the backend launches it.
        int n0 = rng.Next(p.N), nImg = rng.Next(1, p.N - n0 + 1);
        long rows = Im2Col.Rows(p), cols = Im2Col.Cols(p), perImage = p.Groups * rows * cols;
        long plane = p.XShape.ElementCount / p.N;

        var mem = new PtxGlobalMemory();
        ulong xPtr = mem.Upload(x);
        ulong colPtr = mem.AllocatePoisoned((int)(nImg * perImage));
        var interpreter = new PtxInterpreter(mem);
        interpreter.Launch(ShippedKernels.Get("im2col.ptx", "im2col_f32"), new(3), new(32),
            PtxKernelArguments.Im2Col(p, xPtr + (ulong)(n0 * plane * 4), colPtr, nImg, force64));
        AssertPath(interpreter, force64);
        var actual = mem.Download(colPtr, (int)(nImg * perImage));

        var expected = new float[nImg * perImage];
        for (int i = 0; i < nImg; i++)
            for (int g = 0; g < p.Groups; g++)
                Im2Col.Forward(p, x, n0 + i, g, expected.AsSpan((int)(i * perImage + g * rows * cols), (int)(rows * cols)));
        Assert.That(actual, Is.EqualTo(expected), $"{p}, images {n0}..{n0 + nImg - 1}");
    }

    [Test]
    public void Col2ImMatchesTheCpuAdjointBitForBit([Range(0, Cases - 1)] int seed, [Values(false, true)] bool force64)
    {
        var rng = new Random(2000 + seed);
        var p = RandomConvProblems.Next(rng, op: ConvOp.BackwardData);
        int n0 = rng.Next(p.N), nImg = rng.Next(1, p.N - n0 + 1);
        long rows = Im2Col.Rows(p), cols = Im2Col.Cols(p), perImage = p.Groups * rows * cols;
        long plane = p.XShape.ElementCount / p.N;
        var col = RandomConvProblems.RandomData(rng, nImg * perImage);

        var mem = new PtxGlobalMemory();
        ulong colPtr = mem.Upload(col);
        ulong dxPtr = mem.AllocatePoisoned((int)p.XShape.ElementCount);
        var interpreter = new PtxInterpreter(mem);
        interpreter.Launch(ShippedKernels.Get("col2im.ptx", "col2im_f32"), new(2), new(32),
            PtxKernelArguments.Col2Im(p, colPtr, dxPtr + (ulong)(n0 * plane * 4), nImg, force64));
        AssertPath(interpreter, force64);
        var actual = mem.Download(dxPtr + (ulong)(n0 * plane * 4), (int)(nImg * plane));

        var expected = new float[p.XShape.ElementCount];
        for (int i = 0; i < nImg; i++)
            for (int g = 0; g < p.Groups; g++)
                Im2Col.Backward(p, col.AsSpan((int)(i * perImage + g * rows * cols), (int)(rows * cols)), n0 + i, g, expected);
        Assert.That(actual, Is.EqualTo(expected.AsSpan((int)(n0 * plane), (int)(nImg * plane)).ToArray()), p.ToString());
        // Images outside the chunk are untouched (still the NaN poison), on both sides.
        var all = mem.Download(dxPtr, (int)p.XShape.ElementCount);
        Assert.That(all.Take((int)(n0 * plane)).All(float.IsNaN), "col2im wrote before its chunk");
        Assert.That(all.Skip((int)((n0 + nImg) * plane)).All(float.IsNaN), "col2im wrote after its chunk");
    }

    /// <summary>
    /// col2im with the chunk in the middle of the batch (images before and after it), so a write past
    /// the chunk's end would land in the next image's poisoned plane.
    /// </summary>
    [Test]
    public void Col2ImLeavesTheImagesAfterItsChunkAlone([Range(0, 3)] int seed, [Values(false, true)] bool force64)
    {
        var rng = new Random(2500 + seed);
        var spec = new ConvSpec([3, 2], [1 + seed % 2, 1], padBegin: [1, 0], padEnd: [0, 1]);
        var p = ConvProblem.Create(spec, new TensorShape(4, 2, 5, 4), new TensorShape(3, 2, 3, 2), ConvOp.BackwardData);
        int n0 = 1, nImg = 2;
        long rows = Im2Col.Rows(p), cols = Im2Col.Cols(p), perImage = p.Groups * rows * cols, plane = p.XShape.ElementCount / p.N;
        var col = RandomConvProblems.RandomData(rng, nImg * perImage);
        var mem = new PtxGlobalMemory();
        ulong colPtr = mem.Upload(col), dxPtr = mem.AllocatePoisoned((int)p.XShape.ElementCount);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("col2im.ptx", "col2im_f32"), new(2), new(32),
            PtxKernelArguments.Col2Im(p, colPtr, dxPtr + (ulong)(n0 * plane * 4), nImg, force64));
        var all = mem.Download(dxPtr, (int)p.XShape.ElementCount);
        Assert.That(all.Take((int)(n0 * plane)).All(float.IsNaN), "image 0 untouched");
        Assert.That(all.Skip((int)(n0 * plane)).Take((int)(nImg * plane)).Count(float.IsNaN), Is.Zero, "images 1 and 2 written");
        Assert.That(all.Skip((int)((n0 + nImg) * plane)).All(float.IsNaN), "image 3 untouched");
    }

    /// <summary>
    /// The launch shape the backend uses (one thread per element, 64-thread blocks here): several full
    /// blocks and a partial last one whose extra threads must do nothing, for every elementwise kernel.
    /// </summary>
    [Test]
    public void FullGridsWithAPartialLastBlock()
    {
        const int Block = 64;
        var rng = new Random(77);
        // im2col: 1 image of [2, 7, 6] with a 3x3 kernel, pad 1: 2·9 rows × 42 columns = 756 elements = 11 blocks + 52.
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 2, 7, 6), new TensorShape(4, 2, 3, 3));
        long colCount = Im2Col.Rows(p) * Im2Col.Cols(p);
        Assert.That(colCount % Block, Is.Not.Zero);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var mem = new PtxGlobalMemory();
        ulong xPtr = mem.Upload(x), colPtr = mem.AllocatePoisoned((int)colCount);
        var interpreter = new PtxInterpreter(mem);
        interpreter.Launch(ShippedKernels.Get("im2col.ptx", "im2col_f32"), new((int)((colCount + Block - 1) / Block)), new(Block),
            PtxKernelArguments.Im2Col(p, xPtr, colPtr, 1));
        var expected = new float[colCount];
        Im2Col.Forward(p, x, 0, 0, expected);
        Assert.That(mem.Download(colPtr, (int)colCount), Is.EqualTo(expected), "im2col");

        // col2im over the same geometry: 2·42 = 84 input elements = 1 full block + 20.
        var dp = p.WithOp(ConvOp.BackwardData);
        var col = RandomConvProblems.RandomData(rng, colCount);
        ulong colIn = mem.Upload(col), dxPtr = mem.AllocatePoisoned((int)dp.XShape.ElementCount);
        interpreter.Launch(ShippedKernels.Get("col2im.ptx", "col2im_f32"), new((int)((dp.XShape.ElementCount + Block - 1) / Block)), new(Block),
            PtxKernelArguments.Col2Im(dp, colIn, dxPtr, 1));
        var dx = new float[dp.XShape.ElementCount];
        Im2Col.Backward(dp, col, 0, 0, dx);
        Assert.That(mem.Download(dxPtr, dx.Length), Is.EqualTo(dx), "col2im");

        // bias_add on 3 × 5 × 23 = 345 elements = 5 full blocks + 25.
        var shape = new TensorShape(3, 5, 23);
        var y = RandomConvProblems.RandomData(rng, shape.ElementCount);
        var bias = RandomConvProblems.RandomData(rng, 5);
        ulong yPtr = mem.Upload(y), bPtr = mem.Upload(bias);
        interpreter.Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new((int)((shape.ElementCount + Block - 1) / Block)), new(Block),
            yPtr, bPtr, (ulong)shape.ElementCount, 5u, (ulong)shape.SpatialSize, 0u);
        Assert.That(mem.Download(yPtr, y.Length), Is.EqualTo(y.Select((v, i) => v + bias[i / 23 % 5]).ToArray()), "bias_add");

        // depthwise forward: [2, 3, 9, 8] → 2 · 3 · 9 · 8 = 432 outputs = 6 full blocks + 48.
        var dw = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1], groups: 3), new TensorShape(2, 3, 9, 8), new TensorShape(3, 1, 3, 3));
        var dxIn = RandomConvProblems.RandomData(rng, dw.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, dw.WShape.ElementCount);
        ulong dxIn_ = mem.Upload(dxIn), wPtr = mem.Upload(w), dyPtr = mem.AllocatePoisoned((int)dw.YShape.ElementCount);
        interpreter.Launch(ShippedKernels.Get("depthwise.ptx", "depthwise_fwd_f32"), new((int)((dw.YShape.ElementCount + Block - 1) / Block)), new(Block),
            PtxKernelArguments.Depthwise(dw, dxIn_, wPtr, 0UL, dyPtr));
        var report = ErrorMetrics.Compare(mem.Download(dyPtr, (int)dw.YShape.ElementCount), ReferenceConv.Forward(dw, dxIn, w));
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"depthwise: {report}");
    }

    /// <summary>
    /// fill.ptx (fill_f32(dst, value, count)): every element of the buffer set, nothing past count touched,
    /// with one thread per element (full blocks plus a partial one) and with a small grid that loops.
    /// </summary>
    [TestCase(6, 64, 350)]   // 5 full blocks and a partial sixth
    [TestCase(2, 32, 350)]   // 64 threads, the grid-stride loop runs 6 times
    [TestCase(1, 1, 3)]
    public void FillSetsEveryElementAndNothingElse(int grid, int block, int count)
    {
        var mem = new PtxGlobalMemory();
        ulong dst = mem.AllocatePoisoned(count + 7);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("fill.ptx", "fill_f32"), new(grid), new(block), dst, -2.5f, (ulong)count);
        var all = mem.Download(dst, count + 7);
        Assert.That(all.Take(count), Is.All.EqualTo(-2.5f));
        Assert.That(all.Skip(count).All(float.IsNaN), "nothing past count is written");
    }

    [Test]
    public void BiasAddMatchesAFloatLoop([Range(0, 7)] int seed)
    {
        var rng = new Random(3000 + seed);
        int n = rng.Next(1, 4), c = rng.Next(1, 6);
        int[] spatial = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => rng.Next(1, 6)).ToArray();
        var shape = new TensorShape([n, c, .. spatial]);
        bool relu = seed % 2 == 1;
        var y = RandomConvProblems.RandomData(rng, shape.ElementCount);
        var bias = RandomConvProblems.RandomData(rng, c);

        var mem = new PtxGlobalMemory();
        ulong yPtr = mem.Upload(y), bPtr = mem.Upload(bias);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new(2), new(16),
            yPtr, bPtr, (ulong)shape.ElementCount, (uint)c, (ulong)shape.SpatialSize, relu ? 1u : 0u);
        var actual = mem.Download(yPtr, (int)shape.ElementCount);

        var expected = new float[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            float v = y[i] + bias[(int)(i / shape.SpatialSize % c)];
            expected[i] = relu && v < 0 ? 0 : v;
        }
        Assert.That(actual, Is.EqualTo(expected), $"{shape} relu={relu}");
        if (relu) Assert.That(actual.Count(v => v == 0), Is.GreaterThan(0), "the random data should exercise the clamp");
    }

    [Test]
    public void BiasGradMatchesTheReference([Range(0, 7)] int seed, [Values(1, 8, 32)] int blockSize)
    {
        var rng = new Random(4000 + seed);
        int n = rng.Next(1, 4), c = rng.Next(1, 7);
        int[] spatial = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => rng.Next(1, 8)).ToArray();
        var shape = new TensorShape([n, c, .. spatial]);
        var dy = RandomConvProblems.RandomData(rng, shape.ElementCount);

        var mem = new PtxGlobalMemory();
        ulong dyPtr = mem.Upload(dy), dbPtr = mem.AllocatePoisoned(c);
        // Fewer blocks than channels, so the channel loop (and the barrier after each channel) runs.
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_grad_f32"), new(Math.Max(1, c / 2)), new(blockSize),
            dyPtr, dbPtr, (uint)n, (uint)c, (ulong)shape.SpatialSize);
        var actual = mem.Download(dbPtr, c);

        var report = ErrorMetrics.Compare(actual, ReferenceConv.BiasGradient(shape, dy));
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"{shape} block {blockSize}: {report}");
    }

    [Test]
    public void DepthwiseForwardMatchesTheReference([Range(0, Cases - 1)] int seed, [Values(false, true)] bool force64)
    {
        var rng = new Random(5000 + seed);
        var p = RandomConvProblems.Next(rng, depthwise: true);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        bool withBias = seed % 2 == 0;
        var bias = withBias ? RandomConvProblems.RandomData(rng, p.K) : [];

        var mem = new PtxGlobalMemory();
        ulong xPtr = mem.Upload(x), wPtr = mem.Upload(w), bPtr = withBias ? mem.Upload(bias) : 0UL;
        ulong yPtr = mem.AllocatePoisoned((int)p.YShape.ElementCount);
        var interpreter = new PtxInterpreter(mem);
        interpreter.Launch(ShippedKernels.Get("depthwise.ptx", "depthwise_fwd_f32"), new(3), new(32),
            PtxKernelArguments.Depthwise(p, xPtr, wPtr, bPtr, yPtr, force64));
        AssertPath(interpreter, force64);
        var actual = mem.Download(yPtr, (int)p.YShape.ElementCount);

        var report = ErrorMetrics.Compare(actual, ReferenceConv.Forward(p, x, w, bias));
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"{p} bias={withBias}: {report}");
    }
}
