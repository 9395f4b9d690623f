using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Conformance;

/// <summary>
/// Runs every float Conv / ConvTranspose case of the ONNX backend test data (../shared/conformance/onnx)
/// through <see cref="ReferenceConv"/> and compares with the stored expected output.
/// Tolerance: max |ours - expected| ≤ 1e-5 · max(1, max |expected|); the expected values were computed
/// in float32 by ONNX's reference / PyTorch, ours in float64 (observed worst: about 3e-7 relative).
/// </summary>
public class OnnxConformanceTests
{
    const double Tolerance = 1e-5;
    const string MissingMarker = "(conformance data missing)";

    public static IEnumerable<TestCaseData> Cases()
    {
        var root = SharedData.Find(Path.Combine("conformance", "onnx"), out var lookedIn);
        if (root is null)
        {
            yield return new TestCaseData(MissingMarker, lookedIn).SetName("OnnxConformance(data missing)");
            yield break;
        }
        foreach (var dir in Directory.EnumerateDirectories(root, "test_*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (!File.Exists(Path.Combine(dir, "model.onnx"))) continue;
            string name = Path.GetFileName(dir);
            // Integer convolution (ConvInteger) is out of this engine's float scope.
            if (name.StartsWith("test_convinteger", StringComparison.Ordinal)) continue;
            string relative = Path.GetRelativePath(root, dir).Replace('\\', '/');
            yield return new TestCaseData(dir, relative).SetName($"OnnxConformance({relative})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesExpectedOutput(string caseDir, string label)
    {
        if (caseDir == MissingMarker)
            Assert.Ignore($"conformance data not found: looked in {label}");

        var graph = OnnxModelReader.ReadModel(Path.Combine(caseDir, "model.onnx"));
        var dataDir = Path.Combine(caseDir, "test_data_set_0");
        var values = new Dictionary<string, OnnxTensor>(graph.Initializers);
        int index = 0;
        foreach (var input in graph.FedInputs)
            values[input] = OnnxModelReader.ReadTensor(Path.Combine(dataDir, $"input_{index++}.pb"));

        Assert.That(graph.Nodes, Is.Not.Empty, "model has no nodes");
        foreach (var node in graph.Nodes)
            values[node.Outputs[0]] = OnnxConvRunner.Run(node, values);

        var actual = values[graph.Outputs[0]];
        var expected = OnnxModelReader.ReadTensor(Path.Combine(dataDir, "output_0.pb"));
        Assert.That(actual.Dims, Is.EqualTo(expected.Dims), $"output shape of {label}");
        double maxExpected = expected.Data.Max(v => Math.Abs((double)v));
        double maxDiff = Differences.MaxAbs(actual.Data, expected.Data);   // +infinity on a NaN
        var specs = graph.Nodes.Select(n => OnnxConvMapping.ToSpec(n, ShapeOf(values[n.Inputs[0]]), ShapeOf(values[n.Inputs[1]])));
        TestContext.Out.WriteLine($"{label}: {string.Join("; ", specs)}, output [{string.Join(", ", expected.Dims)}], max |diff| {maxDiff:E2}, max |expected| {maxExpected:G4}");
        Assert.That(maxExpected, Is.GreaterThan(0), "expected output is all zeros: the comparison would prove nothing");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(Tolerance * Math.Max(1, maxExpected)), $"{label}: max |diff| {maxDiff:E3} vs max |expected| {maxExpected:G4}");
    }

    static TensorShape ShapeOf(OnnxTensor t) => new(t.Dims.Select(d => checked((int)d)).ToArray());
}

/// <summary>Evaluates one ONNX Conv / ConvTranspose node with the float64 reference.</summary>
public static class OnnxConvRunner
{
    public static OnnxTensor Run(OnnxNode node, IReadOnlyDictionary<string, OnnxTensor> values)
    {
        if (node.OpType is not ("Conv" or "ConvTranspose"))
            throw new NotSupportedException($"op_type '{node.OpType}' is not covered by the conformance runner.");
        var x = values[node.Inputs[0]];
        var w = values[node.Inputs[1]];
        float[] bias = node.Inputs.Length > 2 && node.Inputs[2].Length > 0 ? values[node.Inputs[2]].Data : [];
        var xShape = ShapeOf(x);
        var wShape = ShapeOf(w);
        var spec = OnnxConvMapping.ToSpec(node, xShape, wShape);
        var problem = ConvProblem.Create(spec, xShape, wShape);
        // A transposed convolution is stored as backward-data of the convolution it is the adjoint of.
        double[] result = problem.Op == ConvOp.Forward
            ? ReferenceConv.Forward(problem, x.Data, w.Data, bias)
            : ReferenceConv.BackwardData(problem, x.Data, w.Data, bias);
        var outShape = problem.OutputShape;
        return new OnnxTensor(node.Outputs[0], outShape.Dims.Select(d => (long)d).ToArray(), OnnxTensor.Float32,
            result.Select(v => (float)v).ToArray());
    }

    static TensorShape ShapeOf(OnnxTensor t) => new(t.Dims.Select(d => checked((int)d)).ToArray());
}
