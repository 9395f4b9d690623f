using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>One layer of the demo: where and how fast it ran, and how close it came to the reference.</summary>
public sealed record DemoLayer(string Name, ConvProblem Problem, string Backend, string Algorithm, double Milliseconds, ErrorReport Error, string Method)
{
    public bool Passed => OutputCheck.Passes(Error);
    public double GflopsPerSecond => Milliseconds > 0 ? Problem.Flops / (Milliseconds * 1e6) : double.NaN;
}

/// <summary>
/// <c>gpuconv demo</c>: the ResNet-50 convolution layers forward on the best available backend, each
/// output validated against the float64 reference (in full for small layers, else at sampled elements).
/// </summary>
public static class DemoJob
{
    public const string ShapeSetName = "resnet50";
    public const int SamplesPerLayer = 64;

    public static IEnumerable<DemoLayer> Run(CliBackends backends, ShapeSet shapes, int batch, int? limit)
    {
        if (batch < 1)
            throw new ArgumentException($"--batch: must be >= 1, got {batch}.", "--batch");
        if (limit is < 1)
            throw new ArgumentException($"--limit: must be >= 1, got {limit}.", "--limit");
        var rows = shapes.Rows.Take(limit ?? int.MaxValue).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            var p = rows[i].Problem.WithBatch(batch);
            int seed = 7919 * (i + 1);
            var x = HostTensor.Random(p.XShape, seed);
            var w = HostTensor.Random(p.WShape, seed + 1);
            var bias = HostTensor.Random(new TensorShape(p.K), seed + 2);
            var (backend, algorithm) = backends.Choose(p);
            var outcome = ConvRunner.Run(backend, p, x, w, null, bias, algorithm);
            var (error, method) = OutputCheck.Auto(p, x, w, null, bias, outcome.Output, SamplesPerLayer, seed + 3);
            yield return new DemoLayer(rows[i].Name, p, outcome.Backend, outcome.Algorithm.Key, outcome.Milliseconds, error, method);
        }
    }
}
