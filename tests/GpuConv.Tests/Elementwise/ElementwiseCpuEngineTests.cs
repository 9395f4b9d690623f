using GpuConv.Tensors;

namespace GpuConv.Tests.Elementwise;

/// <summary>
/// The element-wise ops on the CPU engine against a float64 reference on random non-zero inputs. Each op is one
/// IEEE operation per element (AddScaled a fused multiply-add), so each result must be the reference correctly
/// rounded: |got − ref| ≤ 2^-24·|ref| per element (half an ulp; the reference is exact in float64 for these inputs
/// but the add of a product, which is rounded once more at 2^-53). ReLU and its gradient are exact selections.
/// </summary>
public class ElementwiseCpuEngineTests
{
    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    /// <summary>Random non-zero values in ±[0.01, 4): both signs, no exact zeros.</summary>
    static HostTensor NonZero(TensorShape shape, int seed)
    {
        var rng = new Random(seed);
        var t = new HostTensor(shape);
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = (float)((rng.NextDouble() * 3.99 + 0.01) * (rng.Next(2) == 0 ? -1 : 1));
        return t;
    }

    static void AssertCorrectlyRounded(float[] got, double[] reference, string what)
    {
        Assert.That(got, Has.Length.EqualTo(reference.Length));
        double worst = 0;
        for (int i = 0; i < got.Length; i++)
            worst = Math.Max(worst, Math.Abs(got[i] - reference[i]) / Math.Abs(reference[i]));
        Assert.That(worst, Is.LessThanOrEqualTo(Math.Pow(2, -24) * (1 + 1e-8)), $"{what}: worst relative error {worst:E3}");
    }

    static IEnumerable<int[]> Shapes() => [[1], [7], [2, 3, 5, 5], [3, 8, 11, 13], [1, 2, 3, 4, 5]];

    [TestCaseSource(nameof(Shapes))]
    public void AddScaleAndAddScaledAreTheCorrectlyRoundedReference(int[] dims)
    {
        using var engine = Cpu();
        var shape = new TensorShape(dims);
        var a = NonZero(shape, 1);
        var b = NonZero(shape, 2);
        using var da = engine.Upload(a);
        using var db = engine.Upload(b);
        int n = a.Data.Length;

        AssertCorrectlyRounded(engine.Download(engine.Add(da, db)).Data, [.. Enumerable.Range(0, n).Select(i => (double)a.Data[i] + b.Data[i])], "Add");
        const float alpha = -0.0371f;
        AssertCorrectlyRounded(engine.Download(engine.Scale(da, alpha)).Data, [.. Enumerable.Range(0, n).Select(i => (double)alpha * a.Data[i])], "Scale");
        using var y = engine.Upload(b);
        Assert.That(engine.AddScaled(y, alpha, da), Is.SameAs(y), "returns the tensor it updated");
        AssertCorrectlyRounded(engine.Download(y).Data, [.. Enumerable.Range(0, n).Select(i => (double)b.Data[i] + (double)alpha * a.Data[i])], "AddScaled");
    }

    [TestCaseSource(nameof(Shapes))]
    public void ReluAndItsGradientSelectExactly(int[] dims)
    {
        using var engine = Cpu();
        var shape = new TensorShape(dims);
        var x = NonZero(shape, 3);
        var dy = NonZero(shape, 4);
        using var dx = engine.Upload(x);
        using var ddy = engine.Upload(dy);
        var y = engine.Download(engine.Relu(dx)).Data;
        Assert.That(y, Is.EqualTo(x.Data.Select(v => v < 0 ? 0f : v).ToArray()));
        if (y.Length > 8) Assert.That(y.Count(v => v == 0), Is.InRange(1, y.Length - 1), "both sides of the threshold are covered");
        using var dyOnEngine = engine.Upload(new HostTensor(shape, y));
        var grad = engine.Download(engine.ReluBackward(ddy, dyOnEngine)).Data;
        Assert.That(grad, Is.EqualTo(Enumerable.Range(0, y.Length).Select(i => x.Data[i] > 0 ? dy.Data[i] : 0f).ToArray()));
    }

    [Test]
    public void InPlaceCallsWriteTheirInput()
    {
        using var engine = Cpu();
        var shape = new TensorShape(2, 9);
        var x = NonZero(shape, 5);
        using var t = engine.Upload(x);
        Assert.That(engine.Relu(t, output: t), Is.SameAs(t));
        Assert.That(engine.Download(t).Data, Is.EqualTo(x.Data.Select(v => v < 0 ? 0f : v).ToArray()));
        // A Reshape view of the same memory is the same elements: in place too.
        using var view = engine.Reshape(t, new TensorShape(18));
        using var other = engine.Upload(NonZero(new TensorShape(18), 6));
        var before = engine.Download(t).Data;
        engine.Add(view, other, output: view);
        var added = engine.Download(other).Data;
        Assert.That(engine.Download(t).Data, Is.EqualTo(before.Select((v, i) => v + added[i]).ToArray()));
        engine.Scale(t, 2f, output: t);
        Assert.That(engine.Download(t).Data, Is.EqualTo(before.Select((v, i) => 2f * (v + added[i])).ToArray()));
    }

    [Test]
    public void ASgdStepOnTheEngine()
    {
        // w -= lr · dw, the update every optimiser step ends with, against the float64 computation.
        using var engine = Cpu();
        var shape = new TensorShape(16, 3, 3, 3);
        var w = NonZero(shape, 7);
        var dw = NonZero(shape, 8);
        using var tw = engine.Upload(w);
        using var tdw = engine.Upload(dw);
        const float lr = 0.01f;
        engine.AddScaled(tw, -lr, tdw);
        AssertCorrectlyRounded(engine.Download(tw).Data, [.. Enumerable.Range(0, w.Data.Length).Select(i => w.Data[i] - (double)lr * dw.Data[i])], "SGD step");
    }
}
