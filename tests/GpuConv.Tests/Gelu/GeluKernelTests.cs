using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// gelu_f32, gelu_backward_f32, gelu_tanh_f32 and gelu_tanh_backward_f32 (kernels/elementwise.ptx) on the PTX
/// interpreter against the CPU loops (GeluMath), bit for bit, over many bit patterns: random ones from the whole float
/// range (every exponent, subnormals, NaNs with payloads), a sweep over ±16 (where the results are not x or ±0), the
/// edges of the pieces (|x| = 1, x²/2 and |w| around 120) and the specials; dy random bit patterns too. ElementwiseKernelTests
/// runs every entry on its mixed values, in place and through the launch helper.
/// </summary>
public class GeluKernelTests
{
    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    internal static float[] Patterns(int seed)
    {
        var rng = new Random(seed);
        var x = new List<float>();
        for (int i = 0; i < 30000; i++) x.Add(BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)));
        for (uint b = 0; b <= 0x4180_0000; b += 0x4180_0000 / 6000)
        {
            x.Add(BitConverter.UInt32BitsToSingle(b));
            x.Add(BitConverter.UInt32BitsToSingle(b | 0x8000_0000));
        }
        float[] edges = [1f, 15.4919338f, 10.8f, 11.2f, 11.5f, 16f];
        foreach (float e in edges)
            for (int k = -40; k <= 40; k++)
            {
                float v = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(e) + k);
                x.Add(v);
                x.Add(-v);
            }
        x.AddRange([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.UInt32BitsToSingle(0xFFC0_1234),
            float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, float.MaxValue, -float.MaxValue, 1e20f, -1e20f, 7e12f, -7e12f]);
        return [.. x];
    }

    [TestCase("Gelu")]
    [TestCase("GeluBackward")]
    [TestCase("GeluTanh")]
    [TestCase("GeluTanhBackward")]
    public void KernelMatchesTheCpuLoopsBitForBitOnManyBitPatterns(string name)
    {
        var op = Enum.Parse<ElementwiseOp>(name);
        var x = Patterns(1);
        var rng = new Random(2);
        var dy = x.Select(_ => rng.Next(4) == 0 ? BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)) : (float)(rng.NextDouble() * 6 - 3)).ToArray();
        // The one-input ops read x as a; the gradients read dy as a and x as b.
        float[] a = op.Inputs() == 2 ? dy : x, b = op.Inputs() == 2 ? x : dy;
        var expected = new float[x.Length];
        CpuElementwise.Run(op, a, b, 0f, expected);
        var mem = new PtxGlobalMemory();
        ulong pa = mem.Upload(a), pb = mem.Upload(b), po = mem.AllocatePoisoned(x.Length);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op)), new PtxDim3(8), new PtxDim3(128),
            ElementwiseKernels.Arguments(op, po, pa, pb, 0f, x.Length));
        var got = mem.Download(po, x.Length);
        var bad = Enumerable.Range(0, x.Length).Where(i => BitConverter.SingleToUInt32Bits(got[i]) != BitConverter.SingleToUInt32Bits(expected[i]))
            .Take(5).Select(i => $"x = {x[i]:R} (0x{BitConverter.SingleToUInt32Bits(x[i]):X8}): kernel {got[i]:R}, CPU {expected[i]:R}").ToList();
        Assert.That(bad, Is.Empty, $"{op} on {x.Length} values");
        Assert.That(expected.Count(v => float.IsFinite(v) && v != 0), Is.GreaterThan(x.Length / 2), "mostly finite nonzero results were compared");
    }

    [Test]
    public void TheKernelsUseOnlyBitSpecifiedInstructions()
    {
        string source = ShippedKernels.Source(ElementwiseKernels.Module);
        foreach (var entry in new[] { "gelu_f32", "gelu_backward_f32", "gelu_tanh_f32", "gelu_tanh_backward_f32" })
        {
            int start = source.IndexOf($".entry {entry}(", StringComparison.Ordinal);
            Assert.That(start, Is.GreaterThan(0), entry);
            int end = source.IndexOf("\n}", start, StringComparison.Ordinal);
            string code = System.Text.RegularExpressions.Regex.Replace(source[start..end], "//[^\n]*", "");
            Assert.That(code, Does.Not.Contain(".approx").And.Not.Contain("ex2").And.Not.Contain("tanh.").And.Not.Contain("rcp").And.Not.Contain(".ftz"), entry);
            // GeluMath's constants, as their documented bits: the exponent clamp in all four, the tail's centre in the 'none' pair, c1's low part in the 'tanh' pair.
            Assert.That(code, Does.Contain("0f42F00000").And.Contain(entry.StartsWith("gelu_tanh", StringComparison.Ordinal) ? "0fB342BC9B" : "0f3E47C1F0"), entry);
        }
        uint[] documented = [0x3ECC422A, 0xBD882C62, 0x3C2378D4, 0xBA9D0290, 0x3904A658, 0xB756CC52,
            0x3F19F3A6, 0x3FA08803, 0x3F555EBB, 0xC00615B3, 0xC010DCED, 0x4102AC5B, 0x400ED15A, 0xC21AA8D3, 0x41D947F8, 0x43048B3E,
            0x3E47C1F0, 0x3FCC422A, 0xB342BC9B, 0x3D922279, 0x3124D8B5, 0x3E5B33B6, 0x42F00000];
        float[] constants = [GeluMath.P0, GeluMath.P1, GeluMath.P2, GeluMath.P3, GeluMath.P4, GeluMath.P5,
            GeluMath.Q0, GeluMath.Q1, GeluMath.Q2, GeluMath.Q3, GeluMath.Q4, GeluMath.Q5, GeluMath.Q6, GeluMath.Q7, GeluMath.Q8, GeluMath.Q9,
            GeluMath.TailCentre, GeluMath.C1Hi, GeluMath.C1Lo, GeluMath.C2Hi, GeluMath.C2Lo, GeluMath.ThreeC2, GeluMath.MaxExponent];
        Assert.That(Bits(constants), Is.EqualTo(documented), "the C# literals round to the documented bits (GeluMath's notes, the kernels' immediates)");
        Assert.That(BitConverter.SingleToUInt32Bits(GeluMath.InvSqrt2Pi), Is.EqualTo(0x3ECC422Au));
    }
}
