using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Conformance;

/// <summary>
/// The ONNX conformance cases (every rank; Conv and ConvTranspose) run through the CPU backend with
/// every candidate algorithm and compared with ONNX's stored outputs, not with ReferenceConv: a
/// geometry bug shared by the reference and the fast paths would still show here.
/// Tolerance: 1e-5 · max(1, max |expected|) on the max abs difference (fp32 accumulation on both sides).
/// </summary>
public class OnnxConformanceCpuBackendTests
{
    const double Tolerance = 1e-5;

    public static IEnumerable<TestCaseData> Cases() => OnnxConformanceTests.Cases().Select(t => t.SetName("CpuBackend" + t.TestName));

    [TestCaseSource(nameof(Cases))]
    public void CpuBackendMatchesExpectedOutput(string caseDir, string label)
    {
        if (!Directory.Exists(caseDir))
            Assert.Ignore($"conformance data not found: looked in {label}");
        var graph = OnnxModelReader.ReadModel(Path.Combine(caseDir, "model.onnx"));
        if (graph.Nodes.Count != 1)
            Assert.Ignore($"{label} chains {graph.Nodes.Count} nodes; OnnxConformanceTests covers it through the reference");
        var dataDir = Path.Combine(caseDir, "test_data_set_0");
        var values = new Dictionary<string, OnnxTensor>(graph.Initializers);
        int index = 0;
        foreach (var input in graph.FedInputs)
            values[input] = OnnxModelReader.ReadTensor(Path.Combine(dataDir, $"input_{index++}.pb"));
        var node = graph.Nodes[0];
        var input0 = values[node.Inputs[0]];
        var weights = values[node.Inputs[1]];
        float[] bias = node.Inputs.Length > 2 && node.Inputs[2].Length > 0 ? values[node.Inputs[2]].Data : [];
        var spec = OnnxConvMapping.ToSpec(node, ShapeOf(input0), ShapeOf(weights));
        var p = ConvProblem.Create(spec, ShapeOf(input0), ShapeOf(weights));
        var expected = OnnxModelReader.ReadTensor(Path.Combine(dataDir, "output_0.pb"));
        Assert.That(p.OutputShape.Dims.Select(d => (long)d), Is.EqualTo(expected.Dims), $"output shape of {label}");
        double maxExpected = expected.Data.Max(v => Math.Abs((double)v));
        Assert.That(maxExpected, Is.GreaterThan(0), "expected output is all zeros: the comparison would prove nothing");

        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.Strict);
        Assert.That(algorithms, Is.Not.Empty, $"no CPU algorithm for {p}");
        foreach (var algorithm in algorithms)
        {
            // Forward reads x and writes y; a transposed convolution is backward-data: it reads dy (the node's input) and writes dx.
            bool forward = p.Op == ConvOp.Forward;
            var x = forward ? new HostTensor(p.XShape, (float[])input0.Data.Clone()) : new HostTensor(p.XShape);
            var y = forward ? new HostTensor(p.YShape) : new HostTensor(p.YShape, (float[])input0.Data.Clone());
            var output = forward ? y : x;
            Array.Fill(output.Data, float.NaN);
            var b = bias.Length > 0 ? new HostTensor(new TensorShape(bias.Length), bias) : null;
            backend.Run(p, algorithm, new ConvTensors(x, new HostTensor(p.WShape, weights.Data), y, b));
            double maxDiff = Support.Differences.MaxAbs(output.Data, expected.Data);
            Assert.That(maxDiff, Is.LessThanOrEqualTo(Tolerance * Math.Max(1, maxExpected)), $"{algorithm.Key} on {label} ({p}): max |diff| {maxDiff:E3}");
        }
    }

    static TensorShape ShapeOf(OnnxTensor t) => new(t.Dims.Select(d => checked((int)d)).ToArray());
}
