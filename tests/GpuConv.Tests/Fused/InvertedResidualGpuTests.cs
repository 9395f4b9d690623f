using GpuConv.Reference;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Fused;

/// <summary>
/// On a GPU host: <see cref="ConvEngine.ForwardInvertedResidual"/> and <see cref="ConvEngine.ForwardExpandDepthwise"/> on a device engine (the three layers' calls on the
/// stream, the intermediates lent by the engine, the residual as an element-wise add) against the float64 chain of
/// <see cref="InvertedResidualTests"/>, strict fp32. Skipped with discovery's reason when no GPU is usable; under the
/// native fakes the layers run on the fakes' cuDNN and the PTX interpreter.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class InvertedResidualGpuTests : GpuAgainstCpuEngines
{
    const double Tolerance = 1e-5;

    [Test]
    public void EveryBlockMatchesTheFloat64Chain()
    {
        // The CPU fixture's blocks on smaller planes: the device path is the layers' own calls whatever the size, and under
        // the native fakes every kernel runs in the PTX interpreter (the full sizes took 28 s there).
        foreach (var b in InvertedResidualTests.Blocks().Select(b => b with { H = Math.Min(b.H, 13), W = Math.Min(b.W, 11), Banded = false }))
        {
            var p = InvertedResidualTests.Place(gpu, b, 13);
            using var y = InvertedResidualTests.Run(gpu, p, b);
            Assert.That(gpu.LastInvertedResidualBanded, Is.False, "a device engine runs the layers' own calls");
            var report = ErrorMetrics.Compare(gpu.Download(y).Data, InvertedResidualTests.Float64(gpu, p, b));
            TestContext.Out.WriteLine($"{b}: {report}");
            Assert.That(report.MaxRelative, Is.LessThan(Tolerance), b.ToString());
            // Into a given output, twice: the lent intermediates come back and are reused.
            using var output = gpu.Allocate(y.Shape);
            InvertedResidualTests.Run(gpu, p, b, output);
            InvertedResidualTests.Run(gpu, p, b, output);
            Assert.That(gpu.Download(output).Data, Is.EqualTo(gpu.Download(y).Data), $"{b}: into the given output");
            if (p.Ew is null) continue;
            using var d = gpu.ForwardExpandDepthwise(p.X, p.Ew, p.Eb!, p.Dw, p.Dww, p.Dwb, b.Act);
            var dReport = ErrorMetrics.Compare(gpu.Download(d).Data, InvertedResidualTests.Float64(gpu, p, b, project: false));
            Assert.That(dReport.MaxRelative, Is.LessThan(Tolerance), $"{b} without the projection");
        }
    }
}
