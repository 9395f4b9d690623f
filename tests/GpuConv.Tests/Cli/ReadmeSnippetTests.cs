using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>The library snippet in README.md, kept here so it cannot silently stop compiling or working.</summary>
[NonParallelizable] // changes the current directory, as the snippet uses relative paths
public class ReadmeSnippetTests
{
    [Test]
    public void LibrarySnippetComputesTheReferenceConvolution()
    {
        using var h = new CliHarness();
        h.Save("x.npy", HostTensor.Random(new TensorShape(2, 3, 9, 9), 5));
        h.Save("w.npy", HostTensor.Random(new TensorShape(4, 3, 3, 3), 6));
        string cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = h.Folder;
        try
        {
            // --- README snippet (keep identical) ---
            var x = NpyFile.Read("x.npy");                 // [N, C, H, W] (float32, or float64 converted)
            var w = NpyFile.Read("w.npy");                 // [K, C/groups, R, S], PyTorch layout
            var spec = new ConvSpec(kernel: [3, 3], stride: [2], padBegin: [1]);   // F.conv2d(stride=2, padding=1)
            var problem = ConvProblem.Create(spec, x.Shape, w.Shape);              // validates; Y shape computed
            var y = new HostTensor(problem.YShape);

            using var backend = new ReferenceBackend();
            var algorithm = backend.GetAlgorithms(problem, ConvPrecision.Strict)[0];
            backend.Run(problem, algorithm, new ConvTensors(x, w, y));
            NpyFile.Write("y.npy", y);
            // --- end of snippet ---

            var back = NpyFile.Read("y.npy");
            Assert.That(back.Shape, Is.EqualTo(new TensorShape(2, 4, 5, 5)));
            Assert.That(ErrorMetrics.Compare(back.Data, ReferenceConv.Forward(problem, x.Data, w.Data)).MaxRelative, Is.LessThan(1e-6));
        }
        finally { Environment.CurrentDirectory = cwd; }
    }
}
