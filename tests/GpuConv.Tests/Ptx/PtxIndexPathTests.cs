using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// How im2col_f32, col2im_f32 and depthwise_fwd_f32 pick their index path, at the boundary itself: a
/// launch of 2^32 - 64 elements runs the 32-bit path with a grid stride of 64 (idx + stride never passes
/// 2^32) and the 64-bit path with a stride of 128 (depthwise, whose output is one tensor and so below
/// 2^31 elements, reaches the boundary through the grid stride instead). Such launches cannot finish on
/// a CPU, so each runs under a small instruction budget and the test reads which instructions ran
/// (mul.hi.u32 only on the 32-bit path, div.u64 only on the 64-bit one). The kernels' results on both
/// paths are compared with the CPU definitions in PtxKernelTests; here the backend's chunking that keeps
/// launches on the 32-bit path is checked too.
/// </summary>
public class PtxIndexPathTests
{
    /// <summary>2^26 - 1 images (a chunk; the problem's own batch is small) of one 8x8 channel: 2^32 - 64 elements with a 1x1 kernel.</summary>
    const int HugeBatch = (1 << 26) - 1;
    const int Budget = 3000;

    static ConvProblem Pointwise(ConvOp op) =>
        ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(64, 1, 8, 8), new TensorShape(1, 1, 1, 1), op);

    /// <summary>Launches <paramref name="grid"/> blocks of <paramref name="block"/> threads until the budget stops it; true when the 64-bit path ran.</summary>
    static bool RanTheWidePath(string file, string entry, int block, Func<PtxGlobalMemory, object[]> args, int grid = 1)
    {
        var mem = new PtxGlobalMemory();
        var launchArgs = args(mem);
        var interpreter = new PtxInterpreter(mem) { InstructionBudget = Budget };
        var ex = Assert.Throws<PtxException>(() => interpreter.Launch(ShippedKernels.Get(file, entry), new(grid), new(block), launchArgs));
        Assert.That(ex!.Message, Does.Contain($"more than {Budget} instructions"), "stopped by the budget, not by a fault");
        var ops = interpreter.ExecutedByOpcode();
        bool wide = ops.ContainsKey("div.u64"), fast = ops.ContainsKey("mul.hi.u32");
        Assert.That(wide, Is.Not.EqualTo(fast), $"exactly one path ran: {string.Join(", ", ops.Keys)}");
        return wide;
    }

    // Enough planes and columns for what the first thread touches within the budget.
    static ulong Floats(PtxGlobalMemory mem, int count) => mem.Upload(new float[count]);

    [TestCase(64, false)]
    [TestCase(128, true)]
    public void Im2ColTakesThe64BitPathOnlyWhenIdxPlusStrideCouldPass2To32(int stride, bool wide)
    {
        var p = Pointwise(ConvOp.Forward);
        Assert.That((long)HugeBatch * p.C * 64, Is.EqualTo((1L << 32) - 64));
        Assert.That(RanTheWidePath("im2col.ptx", "im2col_f32", stride,
            mem => PtxKernelArguments.Im2Col(p, Floats(mem, 1 << 16), Floats(mem, 1 << 16), HugeBatch)), Is.EqualTo(wide));
    }

    [TestCase(64, false)]
    [TestCase(128, true)]
    public void Col2ImTakesThe64BitPathOnlyWhenIdxPlusStrideCouldPass2To32(int stride, bool wide)
    {
        var p = Pointwise(ConvOp.BackwardData);
        Assert.That(RanTheWidePath("col2im.ptx", "col2im_f32", stride,
            mem => PtxKernelArguments.Col2Im(p, Floats(mem, 1 << 16), Floats(mem, 1 << 16), HugeBatch)), Is.EqualTo(wide));
    }

    [Test]
    public void Col2ImTakesThe64BitPathWhenTheColumnBufferPasses2To32()
    {
        // A chunk of 2^23 images of 8x8 with a 3x3 kernel: 2^29 input elements, but 9 * 2^29 column elements.
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(64, 1, 8, 8), new TensorShape(1, 1, 3, 3), ConvOp.BackwardData);
        Assert.That(RanTheWidePath("col2im.ptx", "col2im_f32", 64,
            mem => PtxKernelArguments.Col2Im(p, Floats(mem, 64 * 9 * 64), Floats(mem, 1 << 16), 1 << 23)), Is.True);
    }

    /// <summary>4096 outputs; 2^22 - 4 blocks of 1024 threads make total + stride exactly 2^32, one block more passes it.</summary>
    [TestCase((1 << 22) - 4, false)]
    [TestCase((1 << 22) - 3, true)]
    public void DepthwiseTakesThe64BitPathOnlyWhenIdxPlusStrideCouldPass2To32(int grid, bool wide)
    {
        var p = Pointwise(ConvOp.Forward);
        Assert.That(p.YShape.ElementCount + (long)grid * 1024, Is.EqualTo(wide ? (1L << 32) + 1024 : 1L << 32));
        Assert.That(RanTheWidePath("depthwise.ptx", "depthwise_fwd_f32", 1024,
            mem => PtxKernelArguments.Depthwise(p, Floats(mem, 4096), Floats(mem, 1), 0, Floats(mem, 4096)), grid), Is.EqualTo(wide));
    }

    [Test]
    public void ForcingThe64BitPathWorksOnASmallLaunch()
    {
        var p = ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(2, 1, 8, 8), new TensorShape(1, 1, 1, 1));
        var mem = new PtxGlobalMemory();
        ulong x = Floats(mem, 128), col = Floats(mem, 128);
        foreach (bool force64 in new[] { false, true })
        {
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(ShippedKernels.Get("im2col.ptx", "im2col_f32"), new(1), new(32), PtxKernelArguments.Im2Col(p, x, col, 2, force64));
            PtxKernelTests.AssertPath(interpreter, force64);
        }
    }

    [Test]
    public void TheLargestBackendGridStrideLeavesRoomUnder2To32()
    {
        Assert.That(PtxKernelArguments.MaxFastElements + (long)PtxConvBackend.MaxBlocks * PtxConvBackend.BlockSize, Is.EqualTo(1L << 32));
    }

    /// <summary>
    /// With a workspace limit that no longer bounds the chunk, the backend still keeps each chunk's column
    /// buffer at most MaxFastElements, as large as that allows, so im2col/col2im run 32-bit (col2im's own
    /// count, the input chunk, is part of a tensor and so below 2^31 anyway).
    /// </summary>
    [TestCase(600, 64, 224)]
    [TestCase(2000, 256, 56)]
    public void ChunksStayOnThe32BitPathWhateverTheWorkspaceLimit(int batch, int channels, int size)
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]),
            new TensorShape(batch, channels, size, size), new TensorShape(channels, channels, 3, 3));
        var backend = new PtxConvBackend(new SimulatedPtxRuntime(), maxWorkspaceBytes: long.MaxValue / 2);
        long perImage = PtxConvBackend.ColumnBytesPerImage(p) / sizeof(float);
        Assert.That(batch * perImage, Is.GreaterThan(PtxKernelArguments.MaxFastElements), "the whole batch would not fit");
        int chunk = backend.ChunkImages(p);
        Assert.That(chunk * perImage, Is.LessThanOrEqualTo(PtxKernelArguments.MaxFastElements));
        Assert.That((chunk + 1) * perImage, Is.GreaterThan(PtxKernelArguments.MaxFastElements), "no smaller than needed");
        // The default limit (256 MiB) is far below the cap: chunking is unchanged there.
        var defaults = new PtxConvBackend(new SimulatedPtxRuntime());
        Assert.That(defaults.ChunkImages(p), Is.EqualTo(Math.Max(1, PtxConvBackend.DefaultMaxWorkspaceBytes / PtxConvBackend.ColumnBytesPerImage(p))));
    }
}
