using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// Gelu and GeluBackward on the CPU engine against torch 1.13's CPU gelu and its autograd gradient, both approximations,
/// on 4529 values (torch_gelu_cases.json, make_torch_cases.py: uniform in ±1, normal·3, uniform in ±12, the specials and
/// large magnitudes). torch computes 0.5·x·(1 + erf(x/√2)) (Sleef's erf) and 0.5·x·(1 + tanh(…)) in float32, which
/// cancel for x &lt; 0: its error there is an ulp of 1 times 0.5·|x|, thousands of ulps of the tiny result (ours is within
/// 4 ulp of float64, GeluAccuracyTests). So the distance is counted in ulps of max(|torch's value|, 0.5·|x|) for the
/// forward and of max(|torch's value|, 0.5·|dy|) for the gradient — the magnitude of the terms torch rounds — and for
/// x ≥ 0, where torch does not cancel, in plain ulps of its value too. The ends are compared exactly (NaN as NaN, ±0 as
/// 0), except the one place torch's gradient overflows: its tanh-form gradient is NaN for |x| ≥ 1.85e19 (x² = ∞ times
/// 1 - tanh² = 0); ours is 1 (x &gt; 0) and 0 (x &lt; 0), the limits.
/// </summary>
public class GeluTorchCasesTests
{
    sealed record Cases(string torch, uint[] x, uint[] dy, uint[] none, uint[] none_dx, uint[] tanh, uint[] tanh_dx);

    static readonly Lazy<Cases> Data = new(() =>
    {
        using var stream = typeof(GeluTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Gelu.torch_gelu_cases.json")
            ?? throw new InvalidOperationException("torch_gelu_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    });

    static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];

    /// <summary>
    /// The distances measured, asserted with a little room: 'none' 6.00 forward and gradient in both units — torch's
    /// forward is itself up to 5.75 ulp from float64 for x ≥ 0 (0.5·x·(1 + erf) rounds three times; ours is within 1 ulp
    /// there), so most of the distance is torch's; 'tanh' 2.00 forward (torch 1.48 ulp from float64), gradient 3.00 in the
    /// units above and 14.0 plain ulps for x ≥ 0 (torch's 1 - tanh² near x = 5).
    /// </summary>
    [TestCase(GeluApproximation.None, 6.5, 6.5, 6.5, 6.5)]
    [TestCase(GeluApproximation.Tanh, 2.5, 2.5, 3.5, 16.0)]
    public void CloseToPyTorch(GeluApproximation approximate, double forwardBound, double forwardPositiveBound, double backwardBound, double backwardPositiveBound)
    {
        var c = Data.Value;
        Assert.That(c.torch, Does.StartWith("1.13"));
        float[] x = F(c.x), dy = F(c.dy);
        bool tanh = approximate == GeluApproximation.Tanh;
        float[] torchY = F(tanh ? c.tanh : c.none), torchDx = F(tanh ? c.tanh_dx : c.none_dx);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(x.Length);
        using var tx = engine.Upload(new HostTensor(shape, x));
        using var tdy = engine.Upload(new HostTensor(shape, dy));
        var y = engine.Download(engine.Gelu(tx, approximate)).Data;
        var dx = engine.Download(engine.GeluBackward(tdy, tx, approximate)).Data;
        var failures = new List<string>();
        double worstY = 0, worstYPositive = 0, worstDx = 0, worstDxPositive = 0;
        int sameBits = 0;
        double torchWorst = 0; // torch's own distance from float64 for x >= 0, in ulps: how far off the peer itself is
        for (int i = 0; i < x.Length; i++)
        {
            if (BitConverter.SingleToUInt32Bits(y[i]) == BitConverter.SingleToUInt32Bits(torchY[i])) sameBits++;
            if (!float.IsFinite(x[i]))
            {
                if (!Same(y[i], torchY[i])) failures.Add($"gelu({x[i]}) = {y[i]:R}, torch {torchY[i]:R}");
                if (!Same(dx[i], torchDx[i])) failures.Add($"gelu dx at {x[i]} = {dx[i]:R}, torch {torchDx[i]:R}");
                continue;
            }
            double u = Distance(y[i], torchY[i], 0.5 * Math.Abs(x[i]));
            worstY = Math.Max(worstY, u);
            if (u > forwardBound) failures.Add($"gelu({x[i]:R}) = {y[i]:R}, torch {torchY[i]:R}: {u:F2}");
            if (x[i] >= 0)
            {
                double p = Distance(y[i], torchY[i], 0);
                worstYPositive = Math.Max(worstYPositive, p);
                double exact = tanh ? GeluReference.GeluTanh(x[i]) : GeluReference.Gelu(x[i]);
                torchWorst = Math.Max(torchWorst, GeluAccuracyTests.Ulps(torchY[i], exact, exact));
                if (p > forwardPositiveBound) failures.Add($"gelu({x[i]:R}) = {y[i]:R}, torch {torchY[i]:R}: {p:F2} ulp");
            }
            if (tanh && float.IsNaN(torchDx[i]) && Math.Abs(x[i]) >= 1.85e19f)
            {
                if (dx[i] != (x[i] > 0 ? dy[i] : 0f)) failures.Add($"gelu dx at {x[i]:R} = {dx[i]:R}, the limit is {(x[i] > 0 ? dy[i] : 0f)}");
                continue;
            }
            double v = Distance(dx[i], torchDx[i], BackwardFloor(approximate, dy[i], x[i]));
            worstDx = Math.Max(worstDx, v);
            if (v > backwardBound) failures.Add($"gelu dx at {x[i]:R} (dy {dy[i]:R}) = {dx[i]:R}, torch {torchDx[i]:R}: {v:F2}");
            if (x[i] >= 0)
            {
                double p = Distance(dx[i], torchDx[i], 0);
                worstDxPositive = Math.Max(worstDxPositive, p);
                if (p > backwardPositiveBound) failures.Add($"gelu dx at {x[i]:R} (dy {dy[i]:R}) = {dx[i]:R}, torch {torchDx[i]:R}: {p:F2} ulp");
            }
        }
        TestContext.Out.WriteLine($"{approximate}: forward worst {worstY:F2} (x >= 0: {worstYPositive:F2} ulp), gradient worst {worstDx:F2} (x >= 0: {worstDxPositive:F2} ulp); {sameBits} of {x.Length} forward values bit for bit; torch's forward itself is {torchWorst:F2} ulp from float64 at worst for x >= 0");
        Assert.That(failures, Is.Empty);
    }

    /// <summary>
    /// The magnitude of the terms torch's gradient rounds: 0.5·|dy| for 'none' (cdf + x·pdf, cdf ≤ 1); for 'tanh' also
    /// 0.5·|x|·(1 - tanh²)·√(2/π)·(1 + 3·0.044715·x²) with 1 - tanh² ≤ 1, whose rounded tanh leaves an error of an ulp of 1
    /// in 1 - tanh² (torch's x = 5 is 14 ulp from float64).
    /// </summary>
    static double BackwardFloor(GeluApproximation approximate, float dy, float x) => approximate == GeluApproximation.Tanh
        ? 0.5 * Math.Abs(dy) * (1 + Math.Abs(x) * 0.7978845608 * (1 + 3 * 0.044715 * x * (double)x))
        : 0.5 * Math.Abs(dy);

    static bool Same(float a, float b) => (float.IsNaN(a) && float.IsNaN(b)) || a == b;

    /// <summary>|a - b| in ulps of the float nearest max(|b|, floor), that ulp at least 2^-149.</summary>
    static double Distance(float a, float b, double floor)
    {
        if (a == b) return 0;
        float m = (float)Math.Max(Math.Abs(b), floor);
        double ulp = Math.Max(MathF.BitIncrement(m) - m, float.Epsilon);
        return Math.Abs((double)a - b) / ulp;
    }
}
