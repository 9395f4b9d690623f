using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>The library snippet in README.md, kept here so it cannot silently stop compiling or working.</summary>
[NonParallelizable] // changes the current directory, as the snippet uses relative paths
public class ReadmeSnippetTests
{
    [Test]
    public void LibrarySnippetRunsThroughTheEngineAndMatchesTheReference()
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
            var b = HostTensor.Random(new TensorShape(w.Shape[0]), seed: 1);
            var spec = new ConvSpec(kernel: [3, 3], stride: [2], padBegin: [1]);   // F.conv2d(stride=2, padding=1)

            using var engine = ConvEngine.Open(new ConvEngineOptions { PlanCachePath = "plans.json" });
            Console.WriteLine($"running on {engine.Device}; GPU off because: {engine.GpuUnavailableReason ?? "it is on"}");
            HostTensor y = engine.Forward(spec, x, w, b);                    // planned, cached, run
            Console.WriteLine($"{engine.LastPlan!.Algorithm.Key}: {y.Shape}");
            var report = engine.Validate(spec, x, w, b);                     // same plan vs the float64 reference
            Console.WriteLine(report);
            NpyFile.Write("y.npy", y);
            // --- end of snippet ---

            var back = NpyFile.Read("y.npy");
            Assert.That(back.Shape, Is.EqualTo(new TensorShape(2, 4, 5, 5)));
            var problem = ConvProblem.Create(spec, x.Shape, w.Shape);
            Assert.That(ErrorMetrics.Compare(back.Data, ReferenceConv.Forward(problem, x.Data, w.Data, b.Data)).MaxRelative, Is.LessThan(1e-5));
            Assert.That(report.Error.MaxRelative, Is.LessThan(1e-5));
        }
        finally { Environment.CurrentDirectory = cwd; }
        Assert.That(File.Exists(h.Path("plans.json")), "the engine persists its plan cache where it was told to");
    }
}
