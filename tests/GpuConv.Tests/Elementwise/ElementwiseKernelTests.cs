using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Elementwise;

/// <summary>
/// kernels/elementwise.ptx through the PTX interpreter against the CPU definition (CpuElementwise), bit for bit:
/// every entry, with the library's own argument lists (ElementwiseKernels), on odd sizes with small launches so the
/// grid-stride loop runs several rounds and ends mid-block, on random values mixed with NaN, ±Inf, ±0, subnormals
/// and values whose sum or product overflows, out of place and in place.
/// </summary>
public class ElementwiseKernelTests
{
    static readonly ElementwiseOp[] Ops = Enum.GetValues<ElementwiseOp>();

    /// <summary>The ops by name (the enum is internal, so tests take its names).</summary>
    static IEnumerable<string> OpNames() => Enum.GetNames<ElementwiseOp>();

    static ElementwiseOp Op(string name) => Enum.Parse<ElementwiseOp>(name);

    /// <summary>Random values in ±4 with every special one sprinkled in (the kernels' edge cases).</summary>
    internal static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        float[] special =
        [
            float.NaN, BitConverter.UInt32BitsToSingle(0xFFC0_1234), float.PositiveInfinity, float.NegativeInfinity, 0f, -0f,
            float.Epsilon, -float.Epsilon, 1e-40f, -3e-39f, float.MaxValue, -float.MaxValue, 1f, -1f,
            6f, MathF.BitDecrement(6f), MathF.BitIncrement(6f), -6f,
        ];
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = rng.Next(5) == 0 ? special[rng.Next(special.Length)] : (float)(rng.NextDouble() * 8 - 4);
        return v;
    }

    /// <summary>The CPU definition of one op on fresh arrays.</summary>
    internal static float[] Expected(ElementwiseOp op, float[] a, float[] b, float alpha)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(op, a, b, alpha, o);
        return o;
    }

    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    [Test]
    public void EveryEntryMatchesTheCpuDefinitionBitForBit(
        [ValueSource(nameof(OpNames))] string name, [Values(1, 7, 63, 64, 65, 1000)] int n, [Values(1f, -0.37f, 3e38f)] float alpha)
    {
        var op = Op(name);
        var a = Values(n, 10 + n);
        var b = Values(n, 20 + n);
        var mem = new PtxGlobalMemory();
        ulong pa = mem.Upload(a), pb = mem.Upload(b), po = mem.AllocatePoisoned(n);
        // 2 blocks of 32: a stride of 64, so n = 1000 runs 16 rounds and the last block of n = 65 has one live thread.
        var args = ElementwiseKernels.Arguments(op, po, pa, pb, alpha, n);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op)), new PtxDim3(2), new PtxDim3(32), args);
        Assert.That(Bits(mem.Download(po, n)), Is.EqualTo(Bits(Expected(op, a, b, alpha))), $"{op} n={n} alpha={alpha}");
        Assert.That(Bits(mem.Download(pa, n)), Is.EqualTo(Bits(a)), "input a untouched");
        Assert.That(Bits(mem.Download(pb, n)), Is.EqualTo(Bits(b)), "input b untouched");
    }

    public static IEnumerable<TestCaseData> InPlaceCases() =>
        from op in Enum.GetValues<ElementwiseOp>()
        from overwritten in op.Inputs() == 1 ? new[] { 0 } : [0, 1]
        select new TestCaseData(op.ToString(), overwritten);

    [TestCaseSource(nameof(InPlaceCases))]
    public void InPlaceOnEitherInputGivesTheSameBits(string name, int overwritten)
    {
        var op = Op(name);
        const int n = 333;
        var a = Values(n, 3);
        var b = Values(n, 4);
        var expected = Expected(op, a, b, 0.5f);
        var mem = new PtxGlobalMemory();
        ulong pa = mem.Upload(a), pb = mem.Upload(b);
        ulong po = overwritten == 0 ? pa : pb;
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op)), new PtxDim3(3), new PtxDim3(64),
            ElementwiseKernels.Arguments(op, po, pa, pb, 0.5f, n));
        Assert.That(Bits(mem.Download(po, n)), Is.EqualTo(Bits(expected)));
    }

    [Test]
    public void TheLaunchHelperCoversEveryElementWithTheBackendsBlockSize([ValueSource(nameof(OpNames))] string name)
    {
        var op = Op(name);
        // Through ElementwiseKernels.Launch on the simulated runtime: grid from the count, 256-thread blocks.
        const int n = 257 * 3;
        var rt = new SimulatedPtxRuntime();
        var a = Values(n, 5);
        var b = Values(n, 6);
        var ta = rt.Upload(a, new GpuConv.Tensors.TensorShape(n));
        var tb = rt.Upload(b, new GpuConv.Tensors.TensorShape(n));
        var to = rt.Allocate(new GpuConv.Tensors.TensorShape(n));
        ElementwiseKernels.Launch(rt, op, rt.PointerOf(to), rt.PointerOf(ta), rt.PointerOf(tb), 2.5f, n);
        Assert.That(rt.LaunchShapes, Is.EqualTo(new[] { (4u, 256u) }));
        Assert.That(Bits(rt.Download(to)), Is.EqualTo(Bits(Expected(op, a, b, 2.5f))));
        ElementwiseKernels.Launch(rt, op, rt.PointerOf(to), rt.PointerOf(ta), rt.PointerOf(tb), 2.5f, 0);
        Assert.That(rt.LaunchShapes, Has.Count.EqualTo(1), "nothing is launched for an empty tensor");
    }

    [Test]
    public void SpecialValuesFollowPyTorch()
    {
        // Spelled out rather than only compared with the CPU loop, which implements the same definition.
        float nan = float.NaN, inf = float.PositiveInfinity;
        float[] x = [nan, -0f, 0f, -1f, 2f, -inf, inf, -1e-40f];
        float[] dy = [5f, 5f, 5f, 5f, 5f, 5f, 5f, 5f];
        var relu = Run(ElementwiseOp.Relu, x, x, 0);
        Assert.That(float.IsNaN(relu[0]), "relu(NaN) = NaN, as torch.relu");
        Assert.That(BitConverter.SingleToUInt32Bits(relu[1]), Is.EqualTo(0x8000_0000u), "relu(-0) = -0 (the sign is not changed)");
        Assert.That(relu[2..], Is.EqualTo(new[] { 0f, 0f, 2f, 0f, inf, 0f }));
        var relu6 = Run(ElementwiseOp.Relu6, x, x, 0);
        Assert.That(float.IsNaN(relu6[0]), "relu6(NaN) = NaN, as torch's hardtanh");
        Assert.That(BitConverter.SingleToUInt32Bits(relu6[1]), Is.EqualTo(0x8000_0000u), "relu6(-0) = -0");
        Assert.That(relu6[2..], Is.EqualTo(new[] { 0f, 0f, 2f, 0f, 6f, 0f }));
        var grad6 = Run(ElementwiseOp.Relu6Backward, dy, [nan, -0f, 0f, 6f, 2f, MathF.BitDecrement(6f), inf, 1e-40f], 0);
        Assert.That(grad6, Is.EqualTo(new[] { 5f, 0f, 0f, 0f, 5f, 5f, 0f, 5f }), "hardtanh_backward: x <= 0 or x >= 6 blocks, NaN x passes dy");
        var grad = Run(ElementwiseOp.ReluBackward, dy, x, 0);
        Assert.That(grad, Is.EqualTo(new[] { 5f, 0f, 0f, 0f, 5f, 0f, 5f, 0f }), "threshold_backward: y <= 0 blocks, NaN y passes dy");
        var sum = Run(ElementwiseOp.Add, [float.MaxValue, inf, -0f, -0f], [float.MaxValue, -inf, -0f, 0f], 0);
        Assert.That(sum[0], Is.EqualTo(inf));
        Assert.That(float.IsNaN(sum[1]));
        Assert.That(BitConverter.SingleToUInt32Bits(sum[2]), Is.EqualTo(0x8000_0000u), "-0 + -0 = -0");
        Assert.That(BitConverter.SingleToUInt32Bits(sum[3]), Is.Zero, "-0 + 0 = +0");
        // fma: 3·(1 + 2^-23) + (-3) = 3·2^-23 exactly, where a rounded product would first lose the low bit.
        float a = 1f + MathF.Pow(2, -23);
        var axpy = Run(ElementwiseOp.AddScaled, [a], [-3f], 3f);
        Assert.That(axpy[0], Is.EqualTo(3f * MathF.Pow(2, -23)), "alpha·x + y rounded once");
        var scaled = Run(ElementwiseOp.Scale, [inf, 2f], [0f, 0f], 0f);
        Assert.That(float.IsNaN(scaled[0]), "0·Inf = NaN (no shortcut for alpha = 0, as in PyTorch)");
        Assert.That(scaled[1], Is.EqualTo(0f));
    }

    static float[] Run(ElementwiseOp op, float[] a, float[] b, float alpha)
    {
        var mem = new PtxGlobalMemory();
        ulong pa = mem.Upload(a), pb = mem.Upload(b), po = mem.AllocatePoisoned(a.Length);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op)), new PtxDim3(1), new PtxDim3(32),
            ElementwiseKernels.Arguments(op, po, pa, pb, alpha, a.Length));
        var result = mem.Download(po, a.Length);
        Assert.That(Bits(result), Is.EqualTo(Bits(Expected(op, a, b, alpha))), $"{op}: kernel and CPU loop agree");
        return result;
    }

    [Test]
    public void EntriesHaveTheDocumentedParameters()
    {
        string source = ShippedKernels.Source(ElementwiseKernels.Module);
        Assert.That(source, Does.Contain(".version 7.0").And.Contain(".target sm_70").And.Contain(".address_size 64"));
        string code = System.Text.RegularExpressions.Regex.Replace(source, "//[^\n]*", "");
        Assert.That(code, Does.Contain("ld.global.f32").And.Not.Contain("ld.global.nc"), "the output may alias an input: no read-only cache loads");
        foreach (var op in Ops)
        {
            var kernel = ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op));
            Assert.That(kernel.Params, Has.Count.EqualTo(ElementwiseKernels.Arguments(op, 1, 2, 3, 1f, 4).Length), op.ToString());
        }
    }
}
