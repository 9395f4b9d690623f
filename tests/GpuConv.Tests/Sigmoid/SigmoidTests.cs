using System.Text.Json;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tensors;

namespace GpuConv.Tests.Sigmoid;

/// <summary>
/// The sigmoid and its gradient (ConvEngine.Sigmoid / SigmoidBackward): against float64 on a sweep of float32 values
/// (every 61st float32 in ±100, both signs), the special values PyTorch gives, torch 1.13's own CPU results
/// (torch_sigmoid_cases.json, make_torch_cases.py): the forward within 3e-7 relative (torch's exp is another
/// approximation; both are within an ulp or so of the true value), the backward bit for bit given torch's own y (the
/// same formula in the same order); the scalar and Vector256 loops give the same bits (a tensor of odd length goes
/// through both). The kernels' bits are the CPU's (ElementwiseKernelTests, every op on the interpreter).
/// </summary>
public class SigmoidTests
{
    /// <summary>Relative error of the forward against float64 where the result is a normal float.</summary>
    const double Tolerance = 3e-7;

    static float[] Run(ElementwiseOp op, float[] a, float[]? b = null)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(op, a, b ?? [], 0f, o);
        return o;
    }

    [Test]
    public void ForwardIsWithinToleranceOfFloat64OnASweepOfFloats()
    {
        var xs = new List<float>();
        for (uint bits = 0; bits < 0x42C8_0000u; bits += 61) // 0 .. 100
        {
            xs.Add(BitConverter.UInt32BitsToSingle(bits));
            xs.Add(-BitConverter.UInt32BitsToSingle(bits));
        }
        var x = xs.ToArray();
        var y = Run(ElementwiseOp.Sigmoid, x);
        double worst = 0;
        int checkedCount = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double expected = 1.0 / (1.0 + Math.Exp(-(double)x[i]));
            if (expected < 1.1754944e-38) continue; // subnormal results: absolute error below the smallest normal
            double error = Math.Abs(y[i] - expected) / expected;
            worst = Math.Max(worst, error);
            checkedCount++;
        }
        TestContext.Out.WriteLine($"{checkedCount} values, worst relative error {worst:E2}");
        Assert.That(worst, Is.LessThan(Tolerance));
    }

    [Test]
    public void SpecialValuesFollowPyTorch()
    {
        float nan = float.NaN, inf = float.PositiveInfinity;
        var y = Run(ElementwiseOp.Sigmoid, [nan, inf, -inf, 0f, -0f, 40f, -200f]);
        Assert.That(float.IsNaN(y[0]));
        Assert.That(BitConverter.SingleToUInt32Bits(y[0]), Is.EqualTo(SiluMath.CanonicalNaNBits), "a NaN result is the canonical NaN, as the kernels store it");
        Assert.That(y[1..], Is.EqualTo(new[] { 1f, 0f, 0.5f, 0.5f, 1f, 0f }));
        Assert.That(BitConverter.SingleToUInt32Bits(y[2]), Is.Zero, "sigmoid(-inf) = +0");
        var dx = Run(ElementwiseOp.SigmoidBackward, [2f, 2f, nan, 3f], [0.5f, 1f, 0.25f, nan]);
        Assert.That(dx[0], Is.EqualTo(0.5f));
        Assert.That(dx[1], Is.EqualTo(0f));
        Assert.That(float.IsNaN(dx[2]) && float.IsNaN(dx[3]));
    }

    sealed record Cases(string torch, uint[] x, uint[] y, uint[] dy, uint[] dx);

    static Cases Load()
    {
        using var stream = typeof(SigmoidTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Sigmoid.torch_sigmoid_cases.json")
            ?? throw new InvalidOperationException("torch_sigmoid_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    }

    static float[] Floats(uint[] bits) => [.. bits.Select(BitConverter.UInt32BitsToSingle)];

    [Test]
    public void MatchesPyTorch()
    {
        var c = Load();
        Assert.That(c.torch, Does.StartWith("1.13"));
        float[] x = Floats(c.x), yTorch = Floats(c.y), dy = Floats(c.dy), dxTorch = Floats(c.dx);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(x.Length); // 4017: the Vector256 loop and the scalar tail
        var y = engine.Download(engine.Sigmoid(engine.Upload(new HostTensor(shape, x)))).Data;
        var failures = new List<string>();
        for (int i = 0; i < x.Length; i++)
        {
            if (float.IsNaN(yTorch[i]) != float.IsNaN(y[i])) { failures.Add($"x = {x[i]:R}: {y[i]:R}, torch {yTorch[i]:R}"); continue; }
            if (float.IsNaN(y[i])) continue;
            double scale = Math.Max(Math.Abs((double)yTorch[i]), 1.1754944e-38);
            if (Math.Abs(y[i] - (double)yTorch[i]) / scale > Tolerance) failures.Add($"x = {x[i]:R}: {y[i]:R}, torch {yTorch[i]:R}");
        }
        // The gradient from torch's own y: the same formula and order, so torch's bits.
        var dx = engine.Download(engine.SigmoidBackward(engine.Upload(new HostTensor(shape, dy)), engine.Upload(new HostTensor(shape, yTorch)))).Data;
        for (int i = 0; i < x.Length; i++)
            if (BitConverter.SingleToUInt32Bits(dx[i]) != BitConverter.SingleToUInt32Bits(dxTorch[i]) && !(float.IsNaN(dx[i]) && float.IsNaN(dxTorch[i])))
                failures.Add($"dx at x = {x[i]:R}: {dx[i]:R}, torch {dxTorch[i]:R}");
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void ScalarAndVectorLoopsGiveTheSameBits()
    {
        var x = Elementwise.ElementwiseKernelTests.Values(1003, 5);
        var all = Run(ElementwiseOp.Sigmoid, x);
        for (int i = 0; i < x.Length; i++)
        {
            float one = SiluMath.Sigmoid(x[i]);
            Assert.That(BitConverter.SingleToUInt32Bits(all[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(one)), $"x = {x[i]:R}");
        }
    }
}
