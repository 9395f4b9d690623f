using GpuConv.Cpu.Fused;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Fused;

/// <summary>
/// The band kernel on random small blocks, forced to run (no size or width threshold) in small bands (a 2 Ki-float budget: four
/// output rows a band on most of them), so that every edge a band can have turns up on planes CI runs in milliseconds:
/// the first band's top padding, the last band's bottom rows, bands of fewer rows than the kernel's four-row blocks,
/// stride 2 on odd heights, rows shared between bands kept or computed again, planes narrower than a vector, a single
/// image or two, blocks with and without expansion and residual. Each against the float64 chain of
/// <see cref="InvertedResidualTests"/>, with the path asserted.
/// </summary>
[TestFixture, NonParallelizable]
public class InvertedResidualBandEdgeTests
{
    const double Tolerance = 1e-5;

    static IEnumerable<InvertedResidualTests.Block> RandomBlocks()
    {
        var rng = new Random(20261206);
        var acts = new[] { Activation.Relu6, Activation.Relu, Activation.Silu, Activation.Hardswish, Activation.Identity };
        for (int i = 0; i < 48; i++)
        {
            int c = rng.Next(1, 20), h = rng.Next(3, 26), w = rng.Next(1, 40), s = rng.Next(1, 3);
            int e = rng.Next(4) == 0 ? 0 : rng.Next(1, 48);
            bool residual = s == 1 && rng.Next(2) == 0;
            int cOut = residual ? c : rng.Next(1, 24);
            yield return new InvertedResidualTests.Block(rng.Next(3) == 0 ? 2 : 1, c, h, w, e, 3, s, cOut, acts[rng.Next(acts.Length)], residual, true);
        }
    }

    [Test]
    public void RandomBlocksInSmallBandsMatchTheFloat64Chain()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        long bandFloats = InvertedResidualBands.BandFloats, minFloats = ConvEngine.BandedMinExpandedFloats;
        int minColumns = InvertedResidualBands.MinBandColumns;
        InvertedResidualBands.BandFloats = 2048;
        ConvEngine.BandedMinExpandedFloats = 0;
        InvertedResidualBands.MinBandColumns = 0;
        try
        {
            int banded = 0;
            foreach (var b in RandomBlocks())
            {
                var p = InvertedResidualTests.Place(engine, b, b.GetHashCode());
                var y = engine.Download(InvertedResidualTests.Run(engine, p, b)).Data;
                int outH = (b.H - 1) / b.S + 1;
                Assert.That(engine.LastInvertedResidualBanded, Is.EqualTo(b.BandedHere(engine) && outH >= 2), $"{b}: which path ran");
                if (engine.LastInvertedResidualBanded) banded++;
                var report = ErrorMetrics.Compare(y, InvertedResidualTests.Float64(engine, p, b));
                Assert.That(report.MaxRelative, Is.LessThan(Tolerance), $"{b}: {report}");
                if (b.E == 0) continue;
                var d = engine.Download(engine.ForwardExpandDepthwise(p.X, p.Ew!, p.Eb!, p.Dw, p.Dww, p.Dwb, b.Act)).Data;
                var dReport = ErrorMetrics.Compare(d, InvertedResidualTests.Float64(engine, p, b, project: false));
                Assert.That(dReport.MaxRelative, Is.LessThan(Tolerance), $"{b} without the projection: {dReport}");
            }
            TestContext.Out.WriteLine($"{banded} of 48 blocks in bands");
            if (InvertedResidualTests.Blocks().First().BandedHere(engine))
                Assert.That(banded, Is.GreaterThan(40), "most random blocks ran in bands");
        }
        finally
        {
            InvertedResidualBands.BandFloats = bandFloats;
            ConvEngine.BandedMinExpandedFloats = minFloats;
            InvertedResidualBands.MinBandColumns = minColumns;
        }
    }
}
