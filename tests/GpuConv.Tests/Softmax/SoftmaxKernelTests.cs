using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// kernels/softmax.ptx through the PTX interpreter against the CPU definitions (CpuSoftmax), bit for bit: rows
/// (Inner = 1) shorter than, equal to and several rounds of the 32 partials, Inner &gt; 1 below, at and beyond 8, dim 0,
/// ranks 1 to 5; softmax and log-softmax, forward and backward; −∞ entries, a slice of −∞ only, NaN and +∞ (NaN over
/// their slice, the canonical NaN in both); logits large enough that e^(x − m) is subnormal. Fewer blocks than rows and
/// small column launches, so the grid-stride loops run several rounds; the library's own argument lists
/// (SoftmaxKernels). Bit for bit holds because the kernels fold in the CPU's order and compute e^t and ln s by the same
/// IEEE operations (ExpMath, LogMath).
/// </summary>
public class SoftmaxKernelTests
{
    public static IEnumerable<TestCaseData> Shapes() =>
        SoftmaxTestData.Shapes().Where(t => new TensorShape((int[])t.Arguments[0]!).ElementCount <= 2_500);

    static PtxKernel Kernel(string entry) => ShippedKernels.Get(SoftmaxKernels.Module, entry);

    /// <summary>Random logits in ±90 (e^(x − m) down to subnormal and 0) with −∞, a −∞-only slice, NaN and +∞ planted.</summary>
    static float[] Logits(TensorShape shape, SoftmaxShape s, int seed)
    {
        var x = SoftmaxTestData.Values(shape.ElementCount, seed, 90f);
        if (x.Length > 4) x[3] = float.NegativeInfinity;
        if (s.Slices >= 3 && s.Axis > 1)
        {
            // Slice 1 all −∞; slice 2 a NaN, the last slice a +∞ (when there are more than three).
            for (int a = 0; a < s.Axis; a++) x[At(s, 1, a)] = float.NegativeInfinity;
            x[At(s, 2, s.Axis / 2)] = float.NaN;
            if (s.Slices > 3) x[At(s, (int)s.Slices - 1, 0)] = float.PositiveInfinity;
        }
        return x;
    }

    static int At(SoftmaxShape s, int slice, int a) => (slice / s.Inner * s.Axis + a) * s.Inner + slice % s.Inner;

    static (uint Grid, uint Block) SmallLaunch(SoftmaxShape s) =>
        s.Inner == 1 ? ((uint)Math.Min(2, s.Outer), (uint)CpuSoftmax.Partials) : (2u, 32u);

    [TestCaseSource(nameof(Shapes))]
    public void ForwardMatchesTheCpuDefinitionBitForBit(int[] dims, int dim)
    {
        var shape = new TensorShape(dims);
        var s = SoftmaxShape.Of(shape, dim, "x");
        var x = Logits(shape, s, dims.Sum() + 50);
        foreach (bool log in new[] { false, true })
        {
            var y = new float[x.Length];
            CpuSoftmax.Forward(x, s, log, y);
            var mem = new PtxGlobalMemory();
            ulong px = mem.Upload(x), py = mem.AllocatePoisoned(x.Length);
            var (grid, block) = SmallLaunch(s);
            new PtxInterpreter(mem).Launch(Kernel(SoftmaxKernels.ForwardEntry(s)), new PtxDim3((int)grid), new PtxDim3((int)block),
                SoftmaxKernels.ForwardArguments(s, log, px, py));
            string tag = log ? "log_softmax" : "softmax";
            Assert.That(SoftmaxTestData.Bits(mem.Download(py, x.Length)), Is.EqualTo(SoftmaxTestData.Bits(y)), $"y ({tag})");
            Assert.That(SoftmaxTestData.Bits(mem.Download(px, x.Length)), Is.EqualTo(SoftmaxTestData.Bits(x)), "x untouched");
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void BackwardMatchesTheCpuDefinitionBitForBit(int[] dims, int dim)
    {
        var shape = new TensorShape(dims);
        var s = SoftmaxShape.Of(shape, dim, "x");
        var x = Logits(shape, s, dims.Sum() + 60);
        var dy = SoftmaxTestData.Values(shape.ElementCount, dims.Sum() + 61, 1f);
        foreach (bool log in new[] { false, true })
        {
            var y = new float[x.Length];
            var dx = new float[x.Length];
            CpuSoftmax.Forward(x, s, log, y);
            CpuSoftmax.Backward(dy, y, s, log, dx);
            var mem = new PtxGlobalMemory();
            ulong pdy = mem.Upload(dy), py = mem.Upload(y), pdx = mem.AllocatePoisoned(x.Length);
            var (grid, block) = SmallLaunch(s);
            new PtxInterpreter(mem).Launch(Kernel(SoftmaxKernels.BackwardEntry(s)), new PtxDim3((int)grid), new PtxDim3((int)block),
                SoftmaxKernels.BackwardArguments(s, log, pdy, py, pdx));
            Assert.That(SoftmaxTestData.Bits(mem.Download(pdx, x.Length)), Is.EqualTo(SoftmaxTestData.Bits(dx)), $"dx ({(log ? "log_softmax" : "softmax")})");
        }
    }

    [Test]
    public void TheEnginesLaunchGeometryRunsTheRowsOneBlockEach()
    {
        var s = new SoftmaxShape(5, 70, 1);
        Assert.That(SoftmaxKernels.GeometryOf(s), Is.EqualTo((5u, 32u)));
        Assert.That(SoftmaxKernels.GeometryOf(new SoftmaxShape(2, 21, 42)), Is.EqualTo((1u, 256u)));
        Assert.That(SoftmaxKernels.ForwardEntry(s), Is.EqualTo(SoftmaxKernels.RowsEntry));
        Assert.That(SoftmaxKernels.BackwardEntry(new SoftmaxShape(1, 3, 2)), Is.EqualTo(SoftmaxKernels.BackwardColumnsEntry));
    }

    /// <summary>Every entry of kernels/softmax.ptx launched once as the engine launches it (for KernelLaunchSignatureTests).</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        foreach (int dim in new[] { -1, 1 })
        {
            var s = SoftmaxShape.Of(shape, dim, "x");
            SoftmaxKernels.LaunchForward(rt, s, log: false, buffer, buffer);
            SoftmaxKernels.LaunchBackward(rt, s, log: true, buffer, buffer, buffer);
        }
    }

    [Test]
    public void EntriesHaveTheDocumentedParameters()
    {
        string source = ShippedKernels.Source(SoftmaxKernels.Module);
        Assert.That(source, Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
        Assert.That(source.All(ch => ch < 128), "ASCII only");
        Assert.That(source, Does.Not.Contain(".approx").And.Not.Contain(".ftz"), "no approximate instruction");
        var rows = new SoftmaxShape(3, 10, 1);
        var columns = new SoftmaxShape(3, 10, 4);
        Assert.That(Kernel(SoftmaxKernels.RowsEntry).Params, Has.Count.EqualTo(SoftmaxKernels.ForwardArguments(rows, false, 1, 2).Length));
        Assert.That(Kernel(SoftmaxKernels.ColumnsEntry).Params, Has.Count.EqualTo(SoftmaxKernels.ForwardArguments(columns, false, 1, 2).Length));
        Assert.That(Kernel(SoftmaxKernels.BackwardRowsEntry).Params, Has.Count.EqualTo(SoftmaxKernels.BackwardArguments(rows, true, 1, 2, 3).Length));
        Assert.That(Kernel(SoftmaxKernels.BackwardColumnsEntry).Params, Has.Count.EqualTo(SoftmaxKernels.BackwardArguments(columns, true, 1, 2, 3).Length));
    }
}
