using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Review;

/// <summary>
/// The device-resident calls' tensor sets kept per weight tensor (ConvEngine.TensorsFor): threads sharing one engine and
/// one W with their own x and y, a Reshape view of W beside W, flags alternating on the same tensors, and W's tensor
/// written as a backward-filter output between forwards — every result equal to the same call on a fresh engine.
/// </summary>
[TestFixture, NonParallelizable]
public class ResidentTensorSetReuseTests
{
    static readonly ConvSpec Spec = ConvSpec.Same([3, 3]);
    static readonly TensorShape XShape = new(1, 8, 9, 11), WShape = new(16, 8, 3, 3), YShape = new(1, 16, 9, 11);

    static float[] Expected(HostTensor x, HostTensor w, HostTensor b, Activation act)
    {
        using var fresh = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 1 });
        return fresh.ForwardBiasActivation(Spec, x, w, b, act).Data;
    }

    /// <summary>
    /// Max |a − e| / max |e|: the fresh engine may plan another algorithm, so not bit for bit; 1e-5 is far below what a
    /// wrong W, x or y gives (order 1) and above fp32 sums of 72 products.
    /// </summary>
    static bool Close(float[] a, float[] e)
    {
        double err = 0, scale = 0;
        for (int i = 0; i < e.Length; i++) { err = Math.Max(err, Math.Abs(a[i] - e[i])); scale = Math.Max(scale, Math.Abs(e[i])); }
        return err <= 1e-5 * scale;
    }

    [Test]
    public void ThreadsSharingOneWeightTensorGetTheirOwnResults()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        var hw = HostTensor.Random(WShape, 2);
        var hb = HostTensor.Random(new TensorShape(16), 3);
        using var w = engine.Upload(hw);
        using var b = engine.Upload(hb);
        const int threads = 4;
        var hx = Enumerable.Range(0, threads).Select(t => HostTensor.Random(XShape, 10 + t)).ToArray();
        var expected = hx.Select(x => Expected(x, hw, hb, Activation.Silu)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            using var x = engine.Upload(hx[t]);
            using var y = engine.Allocate(YShape);
            using var other = engine.Allocate(YShape);
            for (int i = 0; i < 60; i++)
            {
                var target = i % 2 == 0 ? y : other; // alternating outputs on the same W: the kept set changes hands
                engine.ForwardBiasActivation(Spec, x, w, b, Activation.Silu, target, constantWeights: i % 3 == 0);
                var got = engine.Download(target).Data;
                if (!Close(got, expected[t])) { failures.Add($"thread {t} call {i}: differs"); return; }
            }
        });
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void AViewOfWAndWAndABackwardFilterIntoWGiveFreshResults()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        var hx = HostTensor.Random(XShape, 1);
        var hw = HostTensor.Random(WShape, 2);
        var hb = HostTensor.Random(new TensorShape(16), 3);
        var hdy = HostTensor.Random(YShape, 4);
        using var x = engine.Upload(hx);
        using var w = engine.Upload(hw);
        using var b = engine.Upload(hb);
        using var dy = engine.Upload(hdy);
        using var y = engine.Allocate(YShape);
        var flat = engine.Reshape(w, new TensorShape(16, 72));
        var view = engine.Reshape(flat, WShape);

        engine.Forward(Spec, x, w, b, y, constantWeights: true);
        Assert.That(Close(engine.Download(y).Data, Expected(hx, hw, hb, Activation.Identity)), "W");
        engine.Forward(Spec, x, view, b, y, constantWeights: true);
        Assert.That(Close(engine.Download(y).Data, Expected(hx, hw, hb, Activation.Identity)), "view of W");

        // dW into W's own tensor, then the same forward call (same tensors, same flags: the kept set) must use the new W.
        engine.BackwardFilter(Spec, x, dy, WShape, output: w);
        var newW = engine.Download(w);
        engine.Forward(Spec, x, w, b, y, constantWeights: true);
        Assert.That(Close(engine.Download(y).Data, Expected(hx, newW, hb, Activation.Identity)), "W after dW into it");
        engine.Forward(Spec, x, view, b, y, constantWeights: true);
        Assert.That(Close(engine.Download(y).Data, Expected(hx, newW, hb, Activation.Identity)), "view after dW into W");
    }
}
