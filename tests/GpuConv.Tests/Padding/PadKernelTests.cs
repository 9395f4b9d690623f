using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// kernels/pad.ptx through the PTX interpreter against the CPU definition (CpuPadding), bit for bit: every mode ×
/// rank 1–3 with random per-side pads up to the mode's limit (reflect pad = size − 1, circular pad = size, replicate on a
/// size-1 dimension), the constant's value, the gradient overwriting and accumulating; random values mixed with NaN,
/// ±Inf, ±0 and subnormals (the folded sums must keep the CPU's order, −0 included); 2 blocks of 32 threads so the
/// grid-stride loop runs several rounds; the library's own argument lists (PadKernels).
/// </summary>
public class PadKernelTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var mode in Enum.GetValues<PadMode>())
            for (int rank = 1; rank <= 3; rank++)
                for (int seed = 0; seed < 4; seed++)
                    yield return new TestCaseData(mode, rank, seed).SetArgDisplayNames(mode.ToString(), $"rank {rank}", $"seed {seed}");
    }

    static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];

    [TestCaseSource(nameof(Cases))]
    public void PadMatchesTheCpuLoopsBitForBit(PadMode mode, int rank, int seed)
    {
        var (spec, input) = RandomPaddedProblems.CreatePad(seed + 100, mode, rank);
        var g = PadGeometry.Of(spec, input);
        var x = ElementwiseKernelTests.Values((int)g.InCount, seed + 1);
        var expected = new float[g.OutCount];
        CpuPadding.Forward(g, x, expected);

        var mem = new PtxGlobalMemory();
        ulong px = mem.Upload(x), py = mem.AllocatePoisoned((int)g.OutCount);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(PadKernels.Module, PadKernels.ForwardEntry), new PtxDim3(2), new PtxDim3(32),
            PadKernels.ForwardArguments(py, px, g));
        Assert.That(Bits(mem.Download(py, (int)g.OutCount)), Is.EqualTo(Bits(expected)), $"{spec} on {input}");
        Assert.That(Bits(mem.Download(px, x.Length)), Is.EqualTo(Bits(x)), "x untouched");
    }

    [TestCaseSource(nameof(Cases))]
    public void PadBackwardMatchesTheCpuLoopsBitForBit(PadMode mode, int rank, int seed)
    {
        var (spec, input) = RandomPaddedProblems.CreatePad(seed + 200, mode, rank);
        var g = PadGeometry.Of(spec, input);
        var dy = ElementwiseKernelTests.Values((int)g.OutCount, seed + 2);
        var held = ElementwiseKernelTests.Values((int)g.InCount, seed + 3);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (float[])held.Clone();
            CpuPadding.Backward(g, dy, expected, accumulate);
            var mem = new PtxGlobalMemory();
            ulong pdy = mem.Upload(dy), pdx = accumulate ? mem.Upload(held) : mem.AllocatePoisoned((int)g.InCount);
            new PtxInterpreter(mem).Launch(ShippedKernels.Get(PadKernels.Module, PadKernels.BackwardEntry), new PtxDim3(2), new PtxDim3(32),
                PadKernels.BackwardArguments(pdx, pdy, g, accumulate));
            Assert.That(Bits(mem.Download(pdx, (int)g.InCount)), Is.EqualTo(Bits(expected)), $"{spec} on {input}, accumulate {accumulate}");
        }
    }

    /// <summary>Each entry launched once through the engine's own launch helpers, for KernelLaunchSignatureTests.</summary>
    internal static void LaunchEveryEntry(IPtxRuntime rt, ulong buffer, TensorShape shape)
    {
        var g = PadGeometry.Of(new PadSpec(PadMode.Reflect, [1, 2]), shape);
        PadKernels.LaunchForward(rt, buffer, buffer, g);
        PadKernels.LaunchBackward(rt, buffer, buffer, g, accumulate: true);
    }

    [Test]
    public void NegativeZeroAndTheFirstTermSurviveTheFold()
    {
        // Replicate on a size-1 dimension: every padded element folds into the one input; -0 alone stays -0, as the CPU copies it.
        var spec = new PadSpec(PadMode.Replicate, [2], [1]);
        var input = new TensorShape(1, 2, 1);
        var g = PadGeometry.Of(spec, input);
        float[] dy = [-0f, -0f, -0f, -0f, 1f, 2f, 4f, 8f];
        var expected = new float[2];
        CpuPadding.Backward(g, dy, expected, accumulate: false);
        Assert.That(Bits(expected), Is.EqualTo(Bits([-0f, 15f])));
        var mem = new PtxGlobalMemory();
        ulong pdy = mem.Upload(dy), pdx = mem.AllocatePoisoned(2);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(PadKernels.Module, PadKernels.BackwardEntry), new PtxDim3(1), new PtxDim3(32),
            PadKernels.BackwardArguments(pdx, pdy, g, accumulate: false));
        Assert.That(Bits(mem.Download(pdx, 2)), Is.EqualTo(Bits(expected)));
    }
}
