using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Transposed convolution is the adjoint of convolution: &lt;conv(x), y&gt; == &lt;x, convT(y)&gt;, with convT
/// built the user's way, ConvProblem.Create(spec.AsTransposed(outputPadding), y's shape, filter).
/// Inputs on a 2^-10 grid make every product exact in float64; tolerance 1e-12 relative to the
/// sum of |terms| bounds only float64 summation rounding.
/// </summary>
public class TransposedAdjointTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        ConvCases.Named().Concat(ConvCases.Random(30, 7)).Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void ConvAndTransposedConvAreAdjoint(ConvCase c)
    {
        var forward = c.Problem;
        var transposed = ConvProblem.Create(c.Spec.AsTransposed(c.TransposedOutputPadding()), forward.YShape, c.FilterShape);

        // The transposed problem is stored as backward-data of exactly the forward geometry.
        Assert.That(transposed, Is.EqualTo(forward.WithOp(ConvOp.BackwardData)));
        Assert.That(transposed.OutputShape, Is.EqualTo(c.InputShape));

        var x = TestData.Grid(forward.XShape.ElementCount, 21);
        var w = TestData.Grid(forward.WShape.ElementCount, 22);
        var y = TestData.Grid(forward.YShape.ElementCount, 23);
        var convX = ReferenceConv.Forward(forward, x, w);
        var convTY = ReferenceConv.BackwardData(transposed, y, w);
        double lhs = TestData.Dot(convX, y), rhs = TestData.Dot(convTY, x);
        double magnitude = convX.Zip(y, (a, b) => Math.Abs(a * b)).Sum();
        Assert.That(magnitude, Is.GreaterThan(0));
        Assert.That(Math.Abs(lhs - rhs), Is.LessThanOrEqualTo(1e-12 * magnitude), $"<conv(x), y> = {lhs}, <x, convT(y)> = {rhs}");
    }

    [Test]
    public void TransposedBiasIsAddedPerOutputChannel()
    {
        var c = ConvCases.Named().First(k => k.Name.StartsWith("2d groups2", StringComparison.Ordinal));
        var t = ConvProblem.Create(c.Spec.AsTransposed(c.TransposedOutputPadding()), c.Problem.YShape, c.FilterShape);
        var dy = TestData.Grid(t.YShape.ElementCount, 1);
        var w = TestData.Grid(t.WShape.ElementCount, 2);
        var bias = TestData.Grid(t.BiasLength, 3);
        Assert.That(t.BiasLength, Is.EqualTo(c.C));
        var with = ReferenceConv.BackwardData(t, dy, w, bias);
        var without = ReferenceConv.BackwardData(t, dy, w);
        long spatial = t.XShape.SpatialSize;
        for (long i = 0; i < with.Length; i++)
            Assert.That(with[i] - without[i], Is.EqualTo(bias[(int)(i / spatial % t.C)]).Within(1e-12), $"element {i}");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void TransposedProblemMapsUserShapesOntoUnderlyingConvolution(int rank)
    {
        // ConvTranspose: input [N, Cin, in…], filter [Cin, Cout/g, k…] → output [N, Cout, out…].
        int[] kernel = [.. Enumerable.Repeat(3, rank)];
        int[] inSpatial = [.. Enumerable.Repeat(4, rank)];
        var spec = new ConvSpec(kernel, stride: [2], padBegin: [1], groups: 2, transposed: true, outputPadding: [1]);
        var p = ConvProblem.Create(spec, new TensorShape([2, 6, .. inSpatial]), new TensorShape([6, 5, .. kernel]));
        int outSize = (4 - 1) * 2 - 2 + 3 + 1; // 8
        Assert.Multiple(() =>
        {
            Assert.That(p.Op, Is.EqualTo(ConvOp.BackwardData));
            Assert.That(p.Spec.Transposed, Is.False);
            Assert.That(p.Spec, Is.EqualTo(spec.AsConvolution()));
            Assert.That(p.XShape, Is.EqualTo(new TensorShape([2, 10, .. Enumerable.Repeat(outSize, rank)])));
            Assert.That(p.YShape, Is.EqualTo(new TensorShape([2, 6, .. inSpatial])));
            Assert.That(p.WShape, Is.EqualTo(new TensorShape([6, 5, .. kernel])));
            Assert.That(p.C, Is.EqualTo(10));
            Assert.That(p.K, Is.EqualTo(6));
            Assert.That(p.OutputShape, Is.EqualTo(p.XShape));
            Assert.That(p.BiasLength, Is.EqualTo(10));
        });
    }

    [TestCase(ConvOp.Forward, ConvOp.BackwardData)]
    [TestCase(ConvOp.BackwardData, ConvOp.Forward)]
    [TestCase(ConvOp.BackwardFilter, ConvOp.BackwardFilter)]
    public void TransposedOpsMapToUnderlyingOps(ConvOp userOp, ConvOp underlying)
    {
        var spec = new ConvSpec([3, 3], stride: [2], transposed: true, outputPadding: [1]);
        var p = ConvProblem.Create(spec, new TensorShape(1, 4, 5, 5), new TensorShape(4, 3, 3, 3), userOp);
        Assert.That(p.Op, Is.EqualTo(underlying));
        Assert.That(p.XShape, Is.EqualTo(new TensorShape(1, 3, 12, 12)));
    }
}
