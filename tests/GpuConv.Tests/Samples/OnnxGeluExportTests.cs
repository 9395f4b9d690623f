using GpuConv.Conv;
using GpuConv.Networks.Onnx;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// The Networks sample's ONNX writer on Activation.Gelu and GeluTanh (opset 17, so formula nodes, not ONNX's opset-20
/// Gelu): a 3×3 convolution + bias, the activation, and an identity classifier (Gemm with the identity matrix, exact), so
/// ONNX Runtime's "logits" are the activation's output element by element. They match float64 ReferenceConv +
/// <see cref="ReferenceActivation"/> within 1e-6 (normwise; 9.5e-8 and 7.9e-8 seen) for the written form and are measurably further from the
/// other form (erf and tanh GELU differ by up to ~5e-4), so the two are not swapped.
/// Category OnnxRuntime: needs ORT's native library.
/// </summary>
[Category("OnnxRuntime")]
public class OnnxGeluExportTests
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    [Test]
    public void GeluFormulaNodesInOnnxRuntime_MatchFloat64([Values(Activation.Gelu, Activation.GeluTanh)] Activation act)
    {
        var x = HostTensor.Random(new TensorShape(1, 3, 6, 6), 21);
        var w = HostTensor.Random(new TensorShape(4, 3, 3, 3), 22);
        var b = new HostTensor(new TensorShape(4), [-2.5f, -0.5f, 0.75f, 2.5f]);
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] *= 1.5f;    // conv + bias over about ±6: GELU's dip, both tails
        var problem = ConvProblem.Create(Spec, x.Shape, w.Shape);
        int outputs = problem.YShape.ElementCountInt;
        var identity = new HostTensor(new TensorShape(outputs, outputs, 1, 1));
        for (int i = 0; i < outputs; i++) identity.Data[i * outputs + i] = 1f;

        var graph = new OnnxGraph(x.Shape);
        graph.Classifier("identity", identity, new HostTensor(new TensorShape(outputs)), graph.Activate(act, graph.Conv("conv", Spec, w, b, graph.Input)));
        var expectedOperators = act == Activation.Gelu
            ? new Dictionary<string, int> { ["Conv"] = 1, ["Div"] = 1, ["Erf"] = 1, ["Add"] = 1, ["Mul"] = 2, ["Flatten"] = 1, ["Gemm"] = 1 }
            : new Dictionary<string, int> { ["Conv"] = 1, ["Mul"] = 6, ["Add"] = 2, ["Tanh"] = 1, ["Flatten"] = 1, ["Gemm"] = 1 };
        Assert.That(graph.Operators, Is.EquivalentTo(expectedOperators));

        var got = new float[outputs];
        using (var ort = new OnnxRuntimeNetwork(graph.ToModel(), x.Data, [.. x.Shape.Dims.Select(d => (long)d)], got, threads: 1)) ort.Run();
        var plain = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        var other = act == Activation.Gelu ? Activation.GeluTanh : Activation.Gelu;
        double error = ErrorMetrics.Compare(got, plain.Select(v => ReferenceActivation.Apply(act, v)).ToArray()).MaxRelative;
        double fromOther = ErrorMetrics.Compare(got, plain.Select(v => ReferenceActivation.Apply(other, v)).ToArray()).MaxRelative;
        TestContext.Out.WriteLine($"{act} in ONNX Runtime: max rel error {error:E2} from float64 {act}, {fromOther:E2} from {other}");
        Assert.That(error, Is.LessThan(1e-6));
        Assert.That(fromOther, Is.GreaterThan(4 * error).And.GreaterThan(1e-5), "the other form is measurably further");
        Assert.That(got.Count(v => v < 0), Is.InRange(1, outputs - 1), "the negative dip is reached");
        Assert.That(plain.Count(v => Math.Abs(v) > 2), Is.GreaterThan(outputs / 10), "the tails are reached");
    }
}
