using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The CPU engine's adaptive pools against the float64 reference (<see cref="ReferenceAdaptivePool"/>) on random
/// inputs: forward and both gradients, ranks 1–3, sizes up and down, one size for every dimension or one each. The
/// reference's average gradient is the adjoint of its forward. An output size that divides the input gives the bits of
/// the ordinary pool with kernel = stride = in / out. Bad input is refused by name before any work.
/// </summary>
[TestFixture, NonParallelizable]
public class AdaptivePoolCpuEngineTests
{
    /// <summary>max |error| / max |expected|: fp32 sums of at most a few hundred values (average, its gradient, the max gradient's sums).</summary>
    const double Tolerance = 1e-6;

    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open() => engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData C(int[] shape, int[] output) => new TestCaseData(shape, output).SetArgDisplayNames($"[{string.Join(", ", shape)}] -> [{string.Join(", ", output)}]");
        yield return C([2, 3, 17], [5]);
        yield return C([1, 2, 4], [9]);
        yield return C([2, 4, 13, 15], [7, 7]);
        yield return C([1, 3, 20, 9], [6]);
        yield return C([1, 2, 5, 6], [1, 1]);
        yield return C([2, 2, 6, 9, 7], [2, 4, 3]);
        yield return C([1, 2, 3, 4, 5], [5]);
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesTheFloat64Reference(int[] dims, int[] outputSize)
    {
        var x = HostTensor.Random(new TensorShape(dims), dims.Sum());
        foreach (bool max in new[] { true, false })
        {
            var y = engine.Download(max ? engine.AdaptiveMaxPool(x, outputSize) : engine.AdaptiveAvgPool(x, outputSize));
            var yRef = ReferenceAdaptivePool.Forward(x.Shape, x.Data, outputSize, max);
            Assert.That(y.Data.Length, Is.EqualTo(yRef.Length));
            Assert.That(ErrorMetrics.Compare(y.Data, yRef).MaxRelative, Is.LessThan(max ? 1e-300 : Tolerance), $"{(max ? "max" : "avg")} forward");

            var dy = HostTensor.Random(y.Shape, 3);
            var dx = engine.Download(max ? engine.AdaptiveMaxPoolBackward(dy, x) : engine.AdaptiveAvgPoolBackward(dy, x.Shape));
            var dxRef = ReferenceAdaptivePool.Backward(x.Shape, x.Data, dy.Data, outputSize, max);
            Assert.That(ErrorMetrics.Compare(dx.Data, dxRef).MaxRelative, Is.LessThan(Tolerance), $"{(max ? "max" : "avg")} backward");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void TheReferenceAverageGradientIsTheAdjointOfItsForward(int[] dims, int[] outputSize)
    {
        var x = HostTensor.Random(new TensorShape(dims), 1);
        var y = ReferenceAdaptivePool.Forward(x.Shape, x.Data, outputSize, max: false);
        var g = HostTensor.Random(new TensorShape(dims[0], dims[1], y.Length / (dims[0] * dims[1])), 2);
        var dx = ReferenceAdaptivePool.Backward(x.Shape, [], g.Data, outputSize, max: false);
        double lhs = y.Select((v, i) => v * g.Data[i]).Sum(), rhs = dx.Select((v, i) => v * x.Data[i]).Sum();
        Assert.That(Math.Abs(lhs - rhs), Is.LessThan(1e-9 * Math.Abs(lhs) + 1e-12), $"<Pool(x), g> = {lhs}, <x, Pool'(g)> = {rhs}");
    }

    [TestCase(new[] { 1, 3, 12, 12 }, new[] { 3, 4 })]
    [TestCase(new[] { 2, 2, 16 }, new[] { 4 })]
    [TestCase(new[] { 1, 2, 4, 6, 8 }, new[] { 2, 3, 2 })]
    public void AnEvenSizeIsTheOrdinaryPool(int[] dims, int[] outputSize)
    {
        var x = HostTensor.Random(new TensorShape(dims), 9);
        int[] kernel = [.. outputSize.Select((o, d) => dims[2 + d] / o)];
        var spec = new PoolSpec(kernel);
        Assert.That(engine.Download(engine.AdaptiveMaxPool(x, outputSize)).Data, Is.EqualTo(engine.Download(engine.MaxPool(spec, x)).Data), "max");
        Assert.That(engine.Download(engine.AdaptiveAvgPool(x, outputSize)).Data, Is.EqualTo(engine.Download(engine.AvgPool(spec, x)).Data).Within(1).Ulps, "avg (one division by the window's size there, three here)");
    }

    [Test]
    public void BadInputIsRefusedByName()
    {
        var x = HostTensor.Random(new TensorShape(1, 2, 6, 6), 1);
        ExpectArgument.Throws(() => engine.AdaptiveAvgPool(x, [3, 3, 3]), "outputSize", "3 values", "2 spatial dimension(s)");
        ExpectArgument.Throws(() => engine.AdaptiveMaxPool(x, [0, 2]), "outputSize", "outputSize[0] must be at least 1, got 0");
        ExpectArgument.Throws(() => engine.AdaptiveMaxPool(HostTensor.Random(new TensorShape(2, 3), 1), [1]), "x", "[N, C] and 1 to 3 spatial dimensions");
        ExpectArgument.Throws(() => engine.AdaptiveAvgPool(x, [2], output: engine.Allocate(new TensorShape(1, 2, 3, 3))), "output", "expected [1, 2, 2, 2]");
        ExpectArgument.Throws(() => engine.AdaptiveAvgPool(x, [6], output: x), "output", "shares memory with x");
        ExpectArgument.Throws(() => engine.AdaptiveAvgPoolBackward(HostTensor.Random(new TensorShape(1, 2, 3), 1), x.Shape), "dy", "same rank");
        ExpectArgument.Throws(() => engine.AdaptiveMaxPoolBackward(HostTensor.Random(new TensorShape(1, 3, 3, 3), 1), x), "dy", "expected [1, 3, 3, 3]".Replace("3, 3, 3", "2, 3, 3"));
        Assert.Throws<ArgumentNullException>(() => engine.AdaptiveAvgPool(x, null!));
    }
}
