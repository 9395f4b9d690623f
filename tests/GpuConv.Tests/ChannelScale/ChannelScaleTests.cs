using System.Text.Json;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.ChannelScale;

/// <summary>
/// ScaleChannels and its gradient on the CPU engine: against float64 on random inputs (y and dx are single products,
/// so exact; dscale's sums within <see cref="Tolerance"/>), against torch 1.13's x * s and autograd
/// (torch_channel_scale_cases.json: y and dx bit for bit, ds within the tolerance: torch sums in another order), in place,
/// a squeeze-and-excitation block end to end, and bad input refused by name before any work.
/// </summary>
[TestFixture, NonParallelizable]
public class ChannelScaleTests
{
    /// <summary>max |error| / max |expected| of dscale: fp32 sums of up to ~500 products (fused multiply-adds, then a tree).</summary>
    const double Tolerance = 2e-6;

    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open() => engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    [TestCase(new[] { 2, 3, 9, 7 }, new[] { 2, 3, 1, 1 })]
    [TestCase(new[] { 1, 5, 300 }, new[] { 1, 5 })]
    [TestCase(new[] { 2, 2, 3, 4, 5 }, new[] { 2, 2, 1, 1, 1 })]
    [TestCase(new[] { 4, 6 }, new[] { 4, 6 })]
    [TestCase(new[] { 1, 3, 40, 40 }, new[] { 1, 3, 1 })]
    public void MatchesTheFloat64Reference(int[] xDims, int[] sDims)
    {
        var x = HostTensor.Random(new TensorShape(xDims), 1);
        var s = HostTensor.Random(new TensorShape(sDims), 2);
        var dy = HostTensor.Random(x.Shape, 3);
        long planes = (long)xDims[0] * xDims[1], spatial = x.Shape.ElementCount / planes;
        var y = engine.Download(engine.ScaleChannels(x, s)).Data;
        var g = engine.ScaleChannelsBackward(dy, x, s);
        float[] dx = engine.Download(g.Dx).Data, ds = engine.Download(g.DScale).Data;
        Assert.That(engine.Download(g.DScale).Shape, Is.EqualTo(s.Shape));
        var dsRef = new double[planes];
        for (long p = 0; p < planes; p++)
            for (long i = 0; i < spatial; i++)
            {
                long e = p * spatial + i;
                Assert.That(y[e], Is.EqualTo((float)((double)x.Data[e] * s.Data[p])), "y: one product, exact in float64 then rounded");
                Assert.That(dx[e], Is.EqualTo((float)((double)dy.Data[e] * s.Data[p])), "dx");
                dsRef[p] += (double)dy.Data[e] * x.Data[e];
            }
        var report = GpuConv.Reference.ErrorMetrics.Compare(ds, dsRef);
        TestContext.Out.WriteLine($"dscale: {report}");
        Assert.That(report.MaxRelative, Is.LessThan(Tolerance));
    }

    sealed record Case(int[] shape, int[] scale_shape, uint[] x, uint[] s, uint[] y, uint[] dy, uint[] dx, uint[] ds);
    sealed record File(string torch, Case[] cases);

    [Test]
    public void MatchesPyTorch()
    {
        using var stream = typeof(ChannelScaleTests).Assembly.GetManifestResourceStream("GpuConv.Tests.ChannelScale.torch_channel_scale_cases.json")
            ?? throw new InvalidOperationException("torch_channel_scale_cases.json is not embedded");
        var file = JsonSerializer.Deserialize<File>(stream)!;
        Assert.That(file.torch, Does.StartWith("1.13"));
        static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];
        foreach (var c in file.cases)
        {
            var x = new HostTensor(new TensorShape(c.shape), F(c.x));
            var s = new HostTensor(new TensorShape(c.scale_shape), F(c.s));
            var dy = new HostTensor(x.Shape, F(c.dy));
            string name = $"[{string.Join(", ", c.shape)}]";
            Assert.That(engine.Download(engine.ScaleChannels(x, s)).Data, Is.EqualTo(F(c.y)), $"{name} y");
            var g = engine.ScaleChannelsBackward(dy, x, s);
            Assert.That(engine.Download(g.Dx).Data, Is.EqualTo(F(c.dx)), $"{name} dx");
            var ds = engine.Download(g.DScale).Data;
            var expected = F(c.ds);
            double scale = expected.Max(v => Math.Abs((double)v));
            Assert.That(ds.Select((v, i) => Math.Abs(v - (double)expected[i])).Max() / scale, Is.LessThan(Tolerance), $"{name} ds");
        }
    }

    [Test]
    public void InPlaceAndIntoGivenTensors()
    {
        var x = HostTensor.Random(new TensorShape(2, 3, 5, 5), 4);
        var s = HostTensor.Random(new TensorShape(2, 3, 1, 1), 5);
        var expected = engine.Download(engine.ScaleChannels(x, s)).Data;
        var inPlace = engine.Upload(x);
        Assert.That(engine.ScaleChannels(inPlace, s, output: inPlace), Is.SameAs(inPlace));
        Assert.That(engine.Download(inPlace).Data, Is.EqualTo(expected));

        var dy = HostTensor.Random(x.Shape, 6);
        var reference = engine.ScaleChannelsBackward(dy, x, s);
        var dyCopy = engine.Upload(dy);
        var dScale = engine.Allocate(s.Shape);
        var g = engine.ScaleChannelsBackward(dyCopy, x, s, dx: dyCopy, dScale: dScale);
        Assert.That(g.Dx, Is.SameAs(dyCopy));
        Assert.That(g.DScale, Is.SameAs(dScale));
        Assert.That(engine.Download(g.Dx).Data, Is.EqualTo(engine.Download(reference.Dx).Data), "dx written over dy");
        Assert.That(engine.Download(g.DScale).Data, Is.EqualTo(engine.Download(reference.DScale).Data), "dscale read dy before dx overwrote it");
    }

    /// <summary>
    /// A squeeze-and-excitation block (EfficientNet's: GlobalAvgPool, 1×1 conv, SiLU, 1×1 conv, sigmoid, scale) on the
    /// engine against the same steps in float64.
    /// </summary>
    [Test]
    public void ASqueezeAndExcitationBlockMatchesFloat64()
    {
        int n = 2, c = 8, r = 2, h = 6, w = 5;
        var x = HostTensor.Random(new TensorShape(n, c, h, w), 7);
        var w1 = HostTensor.Random(new TensorShape(r, c, 1, 1), 8);
        var b1 = HostTensor.Random(new TensorShape(r), 9);
        var w2 = HostTensor.Random(new TensorShape(c, r, 1, 1), 10);
        var b2 = HostTensor.Random(new TensorShape(c), 11);
        var spec = new GpuConv.Conv.ConvSpec([1, 1]);
        var tx = engine.Upload(x);
        var squeezed = engine.GlobalAvgPool(tx);
        var hidden = engine.ForwardBiasActivation(spec, squeezed, engine.Upload(w1), engine.Upload(b1), Activation.Silu);
        var gate = engine.Sigmoid(engine.Forward(spec, hidden, engine.Upload(w2), engine.Upload(b2)));
        var y = engine.Download(engine.ScaleChannels(tx, gate)).Data;

        var expected = new double[x.Data.Length];
        for (int b = 0; b < n; b++)
        {
            var mean = new double[c];
            for (int k = 0; k < c; k++) mean[k] = Enumerable.Range(0, h * w).Average(i => (double)x.Data[(b * c + k) * h * w + i]);
            var hid = new double[r];
            for (int j = 0; j < r; j++)
            {
                double v = b1.Data[j];
                for (int k = 0; k < c; k++) v += w1.Data[j * c + k] * mean[k];
                hid[j] = v / (1 + Math.Exp(-v));
            }
            for (int k = 0; k < c; k++)
            {
                double v = b2.Data[k];
                for (int j = 0; j < r; j++) v += w2.Data[k * r + j] * hid[j];
                double sk = 1 / (1 + Math.Exp(-v));
                for (int i = 0; i < h * w; i++) expected[(b * c + k) * h * w + i] = x.Data[(b * c + k) * h * w + i] * sk;
            }
        }
        Assert.That(GpuConv.Reference.ErrorMetrics.Compare(y, expected).MaxRelative, Is.LessThan(1e-6));
    }

    [Test]
    public void BadInputIsRefusedByName()
    {
        var x = HostTensor.Random(new TensorShape(2, 3, 4, 4), 1);
        var s = HostTensor.Random(new TensorShape(2, 3, 1, 1), 2);
        ExpectArgument.Throws(() => engine.ScaleChannels(x, HostTensor.Random(new TensorShape(1, 3, 1, 1), 1)), "scale", "[1, 3, 1, 1]", "[2, 3]");
        ExpectArgument.Throws(() => engine.ScaleChannels(x, HostTensor.Random(new TensorShape(2, 3, 2, 1), 1)), "scale", "trailing 1s");
        ExpectArgument.Throws(() => engine.ScaleChannels(HostTensor.Random(new TensorShape(6), 1), s), "x", "[N, C, …]");
        ExpectArgument.Throws(() => engine.ScaleChannels(x, s, output: engine.Allocate(new TensorShape(2, 3, 4, 5))), "output", "expected [2, 3, 4, 4]");
        ExpectArgument.Throws(() => engine.ScaleChannels(x, s, output: engine.Reshape(s, s.Shape)), "output", "expected");
        var dy = HostTensor.Random(x.Shape, 3);
        ExpectArgument.Throws(() => engine.ScaleChannelsBackward(HostTensor.Random(new TensorShape(2, 3, 4, 5), 1), x, s), "dy", "expected [2, 3, 4, 4]");
        ExpectArgument.Throws(() => engine.ScaleChannelsBackward(dy, x, s, dx: x), "dx", "shares memory with x");
        ExpectArgument.Throws(() => engine.ScaleChannelsBackward(dy, x, s, dScale: s), "dScale", "shares memory with scale");
        Assert.Throws<ArgumentNullException>(() => engine.ScaleChannels(x, null!));
    }
}
