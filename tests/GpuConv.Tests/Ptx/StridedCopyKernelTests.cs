namespace GpuConv.Tests.Ptx;

/// <summary>
/// kernels/strided_copy.ptx (plan B for cuDNN's padded copies) through the interpreter: the pad copy
/// (dense x into the interior of a padded buffer) and the crop copy (the interior back to dense) against
/// plain loops, with the padding left untouched, several full blocks and a partial last one.
/// </summary>
public class StridedCopyKernelTests
{
    static readonly PtxKernel Kernel = ShippedKernels.Get("strided_copy.ptx", "strided_copy_f32");

    static long[] Packed(int[] dims)
    {
        var s = new long[dims.Length];
        long acc = 1;
        for (int i = dims.Length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]; }
        return s;
    }

    static object[] Args(ulong src, ulong dst, int[] dims, long[] srcStrides, long[] dstStrides) =>
        [src, dst, .. dims.Select(d => (object)(uint)d), .. srcStrides.Select(s => (object)(ulong)s), .. dstStrides.Select(s => (object)(ulong)s)];

    [Test]
    public void TheBackendsArgumentsWidenA4dViewWithALeadingUnitDim()
    {
        // Exactly what the cuDNN backend's plan B launches for a padded copy of x [2, 3, 4, 5] into [2, 3, 5, 8].
        int[] dims = [2, 3, 4, 5];
        long[] dense = Packed(dims), padded = Packed([2, 3, 5, 8]);
        var x = Enumerable.Range(0, 120).Select(i => (float)i).ToArray();
        var mem = new PtxGlobalMemory();
        ulong src = mem.Upload(x);
        ulong buffer = mem.Upload(new float[240]);
        ulong interior = buffer + (ulong)((1 * 8 + 2) * 4); // begin padding (1, 2)
        var args = GpuConv.Backends.Cudnn.StridedCopy.Arguments(src, interior, dims, dense, padded);
        Assert.That(args.Skip(2).Take(5), Is.EqualTo(new object[] { 1u, 2u, 3u, 4u, 5u }));
        new PtxInterpreter(mem).Launch(Kernel, new PtxDim3(2), new PtxDim3(32), args);
        var result = mem.Download(buffer, 240);
        for (int i = 0; i < 120; i++)
        {
            int w = i % 5, h = i / 5 % 4, nc = i / 20;
            Assert.That(result[nc * 40 + (h + 1) * 8 + w + 2], Is.EqualTo(x[i]), $"element {i}");
        }
        Assert.That(result.Count(v => v != 0), Is.EqualTo(119), "only the view is written (x[0] is 0)");
        Assert.Throws<ArgumentException>(() => GpuConv.Backends.Cudnn.StridedCopy.Arguments(src, interior, [1, 2, 3, 4, 5, 6], new long[6], new long[6]));
    }

    [Test]
    public void EntryHasTheDocumentedParameters()
    {
        Assert.That(Kernel.Params, Has.Count.EqualTo(2 + 5 + 10));
        Assert.That(ShippedKernels.Source("strided_copy.ptx"), Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
    }

    [TestCase(new[] { 2, 3, 1, 4, 5 }, new[] { 0, 0, 0, 0, 2 }, new[] { 0, 0, 0, 2, 1 }, 3, 32)]
    [TestCase(new[] { 1, 2, 3, 4, 6 }, new[] { 0, 0, 1, 0, 0 }, new[] { 0, 0, 2, 3, 1 }, 2, 40)]
    [TestCase(new[] { 3, 1, 1, 1, 7 }, new[] { 0, 0, 0, 0, 1 }, new[] { 0, 0, 0, 0, 0 }, 1, 8)]
    public void PadThenCropRoundTripsThroughTheInterior(int[] dims, int[] padBegin, int[] padEnd, int grid, int block)
    {
        int[] padded = [.. dims.Select((d, i) => d + padBegin[i] + padEnd[i])];
        long[] paddedStrides = Packed(padded), denseStrides = Packed(dims);
        long interiorOffset = padBegin.Select((b, i) => b * paddedStrides[i]).Sum();
        int count = dims.Aggregate(1, (a, b) => a * b), paddedCount = padded.Aggregate(1, (a, b) => a * b);
        Assert.That((long)grid * block, Is.LessThan(count), "the grid-stride loop must iterate");
        var x = Enumerable.Range(0, count).Select(i => (float)(i * 0.5 + 1)).ToArray();

        var mem = new PtxGlobalMemory();
        ulong src = mem.Upload(x);
        ulong buffer = mem.Upload(Enumerable.Repeat(-7f, paddedCount).ToArray()); // "padding" marker
        ulong interior = buffer + (ulong)(interiorOffset * 4);                     // 4-byte aligned only, as in cuDNN's case
        new PtxInterpreter(mem).Launch(Kernel, new PtxDim3(grid), new PtxDim3(block), Args(src, interior, dims, denseStrides, paddedStrides));

        var expected = Enumerable.Repeat(-7f, paddedCount).ToArray();
        for (int i = 0; i < count; i++)
        {
            long rest = i, o = interiorOffset;
            for (int d = dims.Length - 1; d >= 0; d--) { o += rest % dims[d] * paddedStrides[d]; rest /= dims[d]; }
            expected[o] = x[i];
        }
        Assert.That(mem.Download(buffer, paddedCount), Is.EqualTo(expected), "pad copy");

        ulong back = mem.AllocatePoisoned(count);
        new PtxInterpreter(mem).Launch(Kernel, new PtxDim3(grid), new PtxDim3(block), Args(interior, back, dims, paddedStrides, denseStrides));
        Assert.That(mem.Download(back, count), Is.EqualTo(x), "crop copy");
    }
}
