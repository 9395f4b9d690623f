using GpuConv.Backends.Ptx;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Concat;

/// <summary>
/// The slab arithmetic beneath Concat, Narrow and Split: rows, row length, pitch and offset; the strided view a
/// strided_copy_f32 launch gets (merged to [rows, row length] where the dims allow, kept apart where a merged size would
/// pass the kernel's 32-bit dims — checked on shapes past 2^31 elements without allocating them); and the launch's
/// arguments run in the PTX interpreter against the CPU copy, both directions, bit for bit.
/// </summary>
public class DimSlabTests
{
    [Test]
    public void RowsPitchAndOffsetFollowRowMajorOrder()
    {
        var s = DimSlab.Of(new TensorShape(2, 7, 4, 5), 1, 3, 2);
        Assert.That((s.Rows, s.RowLength, s.WholePitch, s.WholeOffset, s.Count), Is.EqualTo((2L, 40L, 140L, 60L, 80L)));
        var first = DimSlab.Of(new TensorShape(6, 3), 0, 1, 4);
        Assert.That((first.Rows, first.RowLength, first.WholePitch, first.WholeOffset), Is.EqualTo((1L, 12L, 18L, 3L)));
        Assert.Throws<InvalidOperationException>(() => DimSlab.Of(new TensorShape(6, 3), 0, 3, 4), "past the end reaches no copy");
    }

    [TestCase(new[] { 2, 7, 4, 5 }, 1, 3, 2, new[] { 2, 40 }, new long[] { 40, 1 }, new long[] { 140, 1 })]
    [TestCase(new[] { 6, 3, 2 }, 0, 1, 4, new[] { 24 }, new long[] { 1 }, new long[] { 1 })]
    [TestCase(new[] { 2, 3, 4, 5, 6 }, 4, 2, 3, new[] { 120, 3 }, new long[] { 3, 1 }, new long[] { 6, 1 })]
    [TestCase(new[] { 1, 3, 1, 8 }, 3, 0, 8, new[] { 24 }, new long[] { 1 }, new long[] { 1 })] // the whole dim: one run
    [TestCase(new[] { 2, 3, 4 }, 2, 1, 1, new[] { 6 }, new long[] { 1 }, new long[] { 4 })]     // one element a row: a column
    [TestCase(new[] { 5, 1, 1 }, 0, 2, 2, new[] { 2 }, new long[] { 1 }, new long[] { 1 })]
    [TestCase(new[] { 65536, 65536, 4, 3 }, 2, 1, 2, new[] { 65536, 65536, 6 }, new long[] { 393216, 6, 1 }, new long[] { 786432, 12, 1 })] // 2^32 rows: apart
    [TestCase(new[] { 3, 65536, 65536 }, 0, 1, 1, new[] { 65536, 65536 }, new long[] { 65536, 1 }, new long[] { 65536, 1 })] // a 2^32 row
    public void TheKernelViewMergesWhatStaysContiguousAndFits(int[] whole, int dim, int start, int length, int[] dims, long[] partStrides, long[] wholeStrides)
    {
        var slab = DimSlab.Of(new TensorShape(whole), dim, start, length);
        Span<int> d = stackalloc int[whole.Length];
        Span<long> ps = stackalloc long[whole.Length];
        Span<long> ws = stackalloc long[whole.Length];
        int rank = slab.KernelView(d, ps, ws);
        Assert.That(rank, Is.EqualTo(dims.Length));
        Assert.That(slab.KernelViewRank(), Is.EqualTo(rank));
        Assert.That(d[..rank].ToArray(), Is.EqualTo(dims));
        Assert.That(ps[..rank].ToArray(), Is.EqualTo(partStrides));
        Assert.That(ws[..rank].ToArray(), Is.EqualTo(wholeStrides));
    }

    /// <summary>
    /// Four groups stay apart at most: two pairs of neighbours whose products pass 2^31 − 1 already hold 2^62 elements,
    /// and a fifth group of 2 or more would pass TensorShape's 2^63 − 1. Such a view still packs into one launch.
    /// </summary>
    [TestCase(new[] { 46341, 46341, 46341, 46341 }, 0, 0, 46341, 4)]
    [TestCase(new[] { 46341, 46341, 46341, 46341 }, 1, 1, 46340, 3)] // 46340 · 46341 fits: the slab dim merges inward
    [TestCase(new[] { 65536, 65536, 4, 3 }, 2, 1, 2, 3)]
    public void TheLargestShapesStillFitTheKernelsFiveDims(int[] whole, int dim, int start, int length, int rank)
    {
        var slab = DimSlab.Of(new TensorShape(whole), dim, start, length);
        Assert.That(slab.KernelViewRank(), Is.EqualTo(rank));
        Assert.That(SlabCopyKernels.Pack(slab, 0x1000, 0x2000, toWhole: true).Count, Is.EqualTo(2 + 5 + 10));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void TheLaunchCopiesWhatTheCpuCopies_OnTheInterpreter(bool toWhole)
    {
        var whole = new TensorShape(3, 9, 2, 5);
        var slab = DimSlab.Of(whole, 1, 4, 3);
        var rng = new Random(toWhole ? 1 : 2);
        var wholeData = ConcatReference.Random(whole, rng).Data;
        var partData = ConcatReference.Random(whole.WithDim(1, 3), rng).Data;
        var memory = new PtxGlobalMemory();
        ulong pw = memory.Upload(wholeData), pp = memory.Upload(partData);
        var args = SlabCopyKernels.Arguments(slab, pp, pw, toWhole);
        var kernel = ShippedKernels.Get(GpuConv.Backends.Cudnn.StridedCopy.Module, GpuConv.Backends.Cudnn.StridedCopy.Entry);
        new PtxInterpreter(memory).Launch(kernel, new PtxDim3(3), new PtxDim3(32), args); // 96 threads for 90 elements: some loop twice
        var expectedWhole = (float[])wholeData.Clone();
        var expectedPart = (float[])partData.Clone();
        if (toWhole) GpuConv.Cpu.Layers.CpuSlabCopy.Scatter(slab, partData, expectedWhole);
        else GpuConv.Cpu.Layers.CpuSlabCopy.Gather(slab, wholeData, expectedPart);
        Assert.That(ConcatReference.Bits(memory.Download(pw, wholeData.Length)), Is.EqualTo(ConcatReference.Bits(expectedWhole)), "whole");
        Assert.That(ConcatReference.Bits(memory.Download(pp, partData.Length)), Is.EqualTo(ConcatReference.Bits(expectedPart)), "part");
        Assert.That(ConcatReference.Bits(toWhole ? expectedWhole : expectedPart), Is.Not.EqualTo(ConcatReference.Bits(toWhole ? wholeData : partData)), "the copy changed something");
    }
}
