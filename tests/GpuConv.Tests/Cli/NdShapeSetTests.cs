using GpuConv.Cli;
using GpuConv.Conv;

namespace GpuConv.Tests.Cli;

/// <summary>
/// The shape CSV's N-d header form (rank 1–3, transposed rows, 'x'-separated lists), its error rules,
/// and the built-in 1-d, 3-d and transposed sets with their MAC totals.
/// </summary>
public class NdShapeSetTests
{
    const string Header = "name,n,c,spatial,k,kernel,stride,pad_begin,pad_end,dilation,groups,transposed,output_padding";

    static ShapeSet Parse(params string[] lines) => ShapeSet.Parse(new StringReader(string.Join("\n", lines)), "nd.csv");

    static ArgumentException Error(params string[] lines) => Assert.Throws<ArgumentException>(() => Parse(lines))!;

    [Test]
    public void ParsesOneTwoAndThreeDimensionalRows()
    {
        var set = Parse(Header,
            "a1,2,4,100,8,5,2,2,1,3,2,0,0",                    // 1-d: pads 2 and 1, dilation 3, groups 2
            "a2,1,3,9x7,6,3x1,1x2,1x0,1x0,1,3,0,0",              // 2-d, depthwise with multiplier 2
            "a3,1,3,8x16x16,4,3x7x7,1x2x2,1x3x3,1x3x3,1,1,0,0"); // 3-d stem-like
        var a1 = set.Rows[0].Problem;
        Assert.That(a1.Op, Is.EqualTo(ConvOp.Forward));
        Assert.That(a1.XShape.Dims, Is.EqualTo(new[] { 2, 4, 100 }));
        Assert.That(a1.WShape.Dims, Is.EqualTo(new[] { 8, 2, 5 }));
        Assert.That(a1.Spec.PadBegin, Is.EqualTo(new[] { 2 }));
        Assert.That(a1.Spec.PadEnd, Is.EqualTo(new[] { 1 }));
        Assert.That(a1.Spec.Dilation, Is.EqualTo(new[] { 3 }));
        // (100 + 3 - 3*(5-1) - 1) / 2 + 1 = 46
        Assert.That(a1.YShape.Dims, Is.EqualTo(new[] { 2, 8, 46 }));
        var a2 = set.Rows[1].Problem;
        Assert.That(a2.Spec.Kernel, Is.EqualTo(new[] { 3, 1 }));
        Assert.That(a2.Spec.Stride, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(a2.YShape.Dims, Is.EqualTo(new[] { 1, 6, 9, 4 }));
        Assert.That(a2.IsDepthwise, Is.True);
        var a3 = set.Rows[2].Problem;
        Assert.That(a3.Rank, Is.EqualTo(3));
        // one value ("1") stands for every dimension
        Assert.That(a3.Spec.Dilation, Is.EqualTo(new[] { 1, 1, 1 }));
        Assert.That(a3.YShape.Dims, Is.EqualTo(new[] { 1, 4, 8, 8, 8 }));
        Assert.That(set.Rows.Select(r => r.Transposed), Is.All.False);
    }

    [Test]
    public void ATransposedRowIsTheUnderlyingConvolutionsBackwardData()
    {
        // ConvTranspose2d(6, 4, 3, stride 2, padding 1, output_padding 1, groups 2) on 5x7: out 10x14.
        var row = Parse(Header, "up,1,6,5x7,4,3,2,1,1,1,2,1,1").Rows.Single();
        Assert.That(row.Transposed, Is.True);
        var p = row.Problem;
        Assert.That(p.Op, Is.EqualTo(ConvOp.BackwardData));
        Assert.That(p.YShape.Dims, Is.EqualTo(new[] { 1, 6, 5, 7 }), "the layer's input is the underlying Y");
        Assert.That(p.XShape.Dims, Is.EqualTo(new[] { 1, 4, 10, 14 }), "its output is the underlying X, output padding included");
        Assert.That(p.WShape.Dims, Is.EqualTo(new[] { 6, 2, 3, 3 }), "weights [C_in, C_out/groups, k…] as PyTorch and ONNX hold them");
        // plan --op names the layer's pass; for a transposed layer forward is backward data and back.
        Assert.That(row.ForLayerOp(ConvOp.Forward).Op, Is.EqualTo(ConvOp.BackwardData));
        Assert.That(row.ForLayerOp(ConvOp.BackwardData).Op, Is.EqualTo(ConvOp.Forward));
        Assert.That(row.ForLayerOp(ConvOp.BackwardFilter).Op, Is.EqualTo(ConvOp.BackwardFilter));
        Assert.That(row.WithBatch(3, "--batch").Op, Is.EqualTo(ConvOp.BackwardData));
    }

    [Test]
    public void BothHeaderFormsAreAcceptedAndAnythingElseIsNamedWithBoth()
    {
        Assert.That(Parse(Header.ToUpperInvariant(), "a,1,1,8,1,3,1,0,0,1,1,0,0").Rows, Has.Count.EqualTo(1));
        var e = Error("name,n,c,spatial,k,kernel", "a,1,1,8,1,3");
        Assert.That(e.Message, Does.StartWith("nd.csv line 1: the header must be 'name,n,c,h,w,").And.Contain($"or '{Header}'"));
        // A file keeps the form of its header: a 2-d row under the N-d header is the wrong field count.
        Assert.That(CliErrors.MessageOf(Error(Header, "a,1,3,8,8,4,3,3,1,1,1,1,1,1,1")),
            Does.StartWith("nd.csv line 2: expected 13 comma-separated fields").And.Contain("found 15"));
    }

    static IEnumerable<TestCaseData> BadRows()
    {
        TestCaseData Bad(string row, string field, string message) => new TestCaseData(row, field, message).SetName($"Bad N-d row: {field}: {row}");
        yield return Bad(",1,1,8,1,3,1,0,0,1,1,0,0", "name", "nd.csv line 2: field 'name' is empty.");
        yield return Bad("b,0,1,8,1,3,1,0,0,1,1,0,0", "n", "nd.csv line 2 (b): field 'n' must be >= 1, got 0.");
        yield return Bad("b,1,x,8,1,3,1,0,0,1,1,0,0", "c", "nd.csv line 2 (b): field 'c' = 'x' is not an integer.");
        yield return Bad("b,1,1,8x8x8x8,1,3,1,0,0,1,1,0,0", "spatial", "nd.csv line 2 (b): field 'spatial' = '8x8x8x8' must list 1 to 3 sizes joined by 'x', found 4.");
        yield return Bad("b,1,1,8x,1,3,1,0,0,1,1,0,0", "spatial", "nd.csv line 2 (b): field 'spatial' = '8x' is not a list of integers joined by 'x'.");
        yield return Bad("b,1,1,8x0,1,3,1,0,0,1,1,0,0", "spatial", "nd.csv line 2 (b): field 'spatial' must be >= 1 in every dimension, got '8x0'.");
        yield return Bad("b,1,1,8x8,1,3x3x3,1,0,0,1,1,0,0", "kernel", "nd.csv line 2 (b): field 'kernel' = '3x3x3' must have 1 or 2 values joined by 'x' (field 'spatial' has 2), found 3.");
        // A 1-d row said "must have 1 or 1 values".
        yield return Bad("b,1,1,8,1,3x3x3,1,0,0,1,1,0,0", "kernel", "nd.csv line 2 (b): field 'kernel' = '3x3x3' must be one value (field 'spatial' has 1), found 3 joined by 'x'.");
        yield return Bad("b,1,1,8x8,1,3,2x0,0,0,1,1,0,0", "stride", "nd.csv line 2 (b): field 'stride' must be >= 1 in every dimension, got '2x0'.");
        yield return Bad("b,1,1,8x8,1,3,1,-1,0,1,1,0,0", "pad_begin", "nd.csv line 2 (b): field 'pad_begin' = '-1' is not a list of integers joined by 'x'.");
        yield return Bad("b,1,1,8x8,1,3,1,0,1x1x1,1,1,0,0", "pad_end", "nd.csv line 2 (b): field 'pad_end' = '1x1x1' must have 1 or 2 values joined by 'x' (field 'spatial' has 2), found 3.");
        yield return Bad("b,1,1,8,1,3,1,0,0,0,1,0,0", "dilation", "nd.csv line 2 (b): field 'dilation' must be >= 1 in every dimension, got '0'.");
        yield return Bad("b,1,6,8,4,3,1,0,0,1,4,0,0", "c", "nd.csv line 2 (b): field 'c' = 6 must be divisible by field 'groups' = 4.");
        yield return Bad("b,1,4,8,6,3,1,0,0,1,4,0,0", "k", "nd.csv line 2 (b): field 'k' = 6 must be divisible by field 'groups' = 4.");
        yield return Bad("b,1,1,8,1,3,1,0,0,1,1,yes,0", "transposed", "nd.csv line 2 (b): field 'transposed' = 'yes' must be 0 or 1.");
        yield return Bad("b,1,1,8,1,3,2,0,0,1,1,0,1", "output_padding", "nd.csv line 2 (b): field 'output_padding' = '1' must be 0 when field 'transposed' is 0.");
    }

    [TestCaseSource(nameof(BadRows))]
    public void BadRowsNameTheLineTheRowAndTheField(string row, string field, string message)
    {
        var e = Error(Header, row);
        Assert.That(CliErrors.MessageOf(e), Is.EqualTo(message));
        Assert.That(e.ParamName, Is.EqualTo(field));
    }

    [Test]
    public void GeometryTheLibraryRefusesIsPrefixedWithTheRow()
    {
        // output padding 2 is not below stride 2 (nor dilation 1)
        Assert.That(CliErrors.MessageOf(Error(Header, "ok,1,1,8,1,3,1,0,0,1,1,0,0", "t,1,4,5,4,3,2,1,1,1,1,1,2")),
            Does.StartWith("nd.csv line 3 (t): outputPadding[0] = 2 must be smaller than stride[0] = 2"));
        Assert.That(CliErrors.MessageOf(Error(Header, "tiny,1,1,2x2,1,3,1,0,0,1,1,0,0")),
            Does.StartWith("nd.csv line 2 (tiny): output size in spatial dimension 0 would be 0"));
        Assert.That(CliErrors.MessageOf(Error(Header, "a,1,1,8,1,3,1,0,0,1,1,0,0", "a,1,1,9,1,3,1,0,0,1,1,1,0")),
            Is.EqualTo("nd.csv line 3: name 'a' is already used on line 2."));
    }

    [TestCase("wav2vec2_encoder", 7, 1, 0)]
    [TestCase("convtasnet_tcn", 36, 1, 1)]
    [TestCase("r3d_18", 20, 3, 0)]
    [TestCase("dcgan_generator", 5, 2, 5)]
    [TestCase("unet_upconv", 4, 2, 4)]
    [TestCase("erfnet_decoder", 3, 2, 3)]
    public void EveryNewBuiltInSetLoadsWithItsRankAndDirection(string name, int rows, int rank, int transposedRows)
    {
        var set = ShapeSet.Load(name);
        Assert.That(set.Rows, Has.Count.EqualTo(rows));
        Assert.That(set.Rows.Select(r => r.Problem.Rank), Is.All.EqualTo(rank));
        Assert.That(set.Rows.Count(r => r.Transposed), Is.EqualTo(transposedRows));
        Assert.That(ShapeSet.BuiltInNames.Count(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)), Is.EqualTo(1));
    }

    static double GigaMacs(string set) => ShapeSet.Load(set).Rows.Sum(r => r.Problem.Flops / 2) / 1e9;

    [Test]
    public void R3d18HasTheFortyGigaMacsTorchvisionPublishes()
    {
        // torchvision's R3D_18_Weights.KINETICS400_V1 meta: '_ops': 40.697 (GFLOPS counted as multiply-adds,
        // three decimals), convolutions plus the fc layer (512 x 400 = 0.0002 G).
        double convolutions = GigaMacs("r3d_18");
        Assert.That(convolutions, Is.EqualTo(40.696348672).Within(1e-9));
        Assert.That(Math.Round(convolutions + 512 * 400 / 1e9, 3), Is.EqualTo(40.697));
    }

    [Test]
    public void Wav2vec2EncoderEndsInFortyNineFramesAndCountsItsMacs()
    {
        var rows = ShapeSet.Load("wav2vec2_encoder").Rows;
        Assert.That(rows[^1].Problem.OutSpatial, Is.EqualTo(new[] { 49 }), "1 s of 16 kHz audio gives 49 frames (20 ms hop, 25 ms receptive field)");
        Assert.That(rows.Zip(rows.Skip(1)).All(p => p.First.Problem.OutSpatial[0] == p.Second.Problem.InSpatial[0]), Is.True, "each layer reads the one before");
        // 512 x 10 x 3199 + 512^2 x 3 x (1599 + 799 + 399 + 199) + 512^2 x 2 x (99 + 49); no published figure to check against.
        Assert.That(GigaMacs("wav2vec2_encoder"), Is.EqualTo(2.450123776).Within(1e-9));
    }

    [Test]
    public void ConvTasNetTcnHasTheDilatedDepthwiseBlocksAndCountsItsMacsAndWeights()
    {
        var rows = ShapeSet.Load("convtasnet_tcn").Rows;
        var depthwise = rows.Where(r => r.Name.EndsWith(".dconv", StringComparison.Ordinal)).ToArray();
        Assert.That(depthwise.Select(r => r.Problem.Spec.Dilation[0]), Is.EqualTo(new[] { 1, 2, 4, 8, 16, 32, 64, 128 }));
        Assert.That(depthwise.Select(r => r.Problem.IsDepthwise && r.Problem.OutSpatial[0] == 3999), Is.All.True, "non-causal padding keeps the 3999 frames");
        var decoder = rows.Single(r => r.Transposed).Problem;
        Assert.That(decoder.XShape.Dims, Is.EqualTo(new[] { 2, 1, 32000 }), "the decoder gives back 4 s of 8 kHz audio per source");
        // encoder + bottleneck + 8 x (3 x 128 x 512 + 512 x 3) + mask + decoder (2 sources), frames 3999
        Assert.That(GigaMacs("convtasnet_tcn"), Is.EqualTo(7.223537664).Within(1e-12));
        // Weights with the listed repeat counted R = 3 times: 4.97 M, the paper's 5.1 M less biases and norms.
        long weights = rows.Sum(r => r.Problem.WShape.ElementCount * (r.Name.StartsWith("tcn.", StringComparison.Ordinal) ? 3 : 1));
        Assert.That(weights, Is.EqualTo(4_968_448));
    }

    [Test]
    public void TransposedSetsDoubleTheirInputsAndCountTheirMacs()
    {
        foreach (var set in new[] { "dcgan_generator", "unet_upconv", "erfnet_decoder" })
            foreach (var row in ShapeSet.Load(set).Rows.Where(r => r.Problem.Spec.Stride[0] == 2))
                Assert.That(row.Problem.XShape.Spatial, Is.EqualTo(row.Problem.YShape.Spatial.Select(s => 2 * s)), $"{set} {row.Name}");
        // DCGAN: 100 x 512 x 16 + 3 x 2^25 (the 512->256, 256->128, 128->64 layers) + 64 x 3 x 16 x 32^2
        Assert.That(GigaMacs("dcgan_generator"), Is.EqualTo((819_200 + 3 * 33_554_432 + 3_145_728) / 1e9).Within(1e-12));
        Assert.That(ShapeSet.Load("dcgan_generator").Rows[^1].Problem.XShape.Dims, Is.EqualTo(new[] { 1, 3, 64, 64 }));
        // U-Net: C_in x C_out x 4 x H x W for 1024->512 at 28^2, 512->256 at 52^2, 256->128 at 100^2, 128->64 at 196^2
        Assert.That(GigaMacs("unet_upconv"), Is.EqualTo((1024.0 * 512 * 4 * 784 + 512.0 * 256 * 4 * 2704 + 256.0 * 128 * 4 * 10000 + 128.0 * 64 * 4 * 38416) / 1e9).Within(1e-12));
        // ERFNet: 128 x 64 x 9 x 64 x 128 + 64 x 16 x 9 x 128 x 256 + 16 x 20 x 4 x 256 x 512 = 2^30; it ends at the
        // 512 x 1024 Cityscapes input with 20 class maps.
        Assert.That(GigaMacs("erfnet_decoder"), Is.EqualTo(1.073741824).Within(1e-12));
        Assert.That(ShapeSet.Load("erfnet_decoder").Rows[^1].Problem.XShape.Dims, Is.EqualTo(new[] { 1, 20, 512, 1024 }));
    }
}
