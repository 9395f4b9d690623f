using GpuConv.Cli;
using GpuConv.Conv;

namespace GpuConv.Tests.Cli;

public class ShapeSetTests
{
    const string Header = "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups";

    static ShapeSet Parse(params string[] lines) => ShapeSet.Parse(new StringReader(string.Join("\n", lines)), "test.csv");

    static string ErrorOf(params string[] lines) => CliErrors.MessageOf(Assert.Throws<ArgumentException>(() => Parse(lines))!);

    [Test]
    public void ParsesAGoodFileIntoProblems()
    {
        var set = Parse(Header, "# a comment", "", "a,2,8,10,12,16,3,1,2,1,1,0,1,2,4", "dw,1,6,5,5,6,3,3,1,1,1,1,1,1,6");
        Assert.That(set.Rows, Has.Count.EqualTo(2));
        var a = set.Rows[0];
        Assert.That(a.Name, Is.EqualTo("a"));
        Assert.That(a.Line, Is.EqualTo(4));
        var p = a.Problem;
        Assert.That(p.Op, Is.EqualTo(ConvOp.Forward));
        Assert.That(p.XShape.Dims, Is.EqualTo(new[] { 2, 8, 10, 12 }));
        Assert.That(p.WShape.Dims, Is.EqualTo(new[] { 16, 2, 3, 1 }));
        Assert.That(p.Spec.Stride, Is.EqualTo(new[] { 2, 1 }));
        Assert.That(p.Spec.PadBegin, Is.EqualTo(new[] { 1, 0 }));
        Assert.That(p.Spec.PadEnd, Is.EqualTo(new[] { 1, 0 }));
        Assert.That(p.Spec.Dilation, Is.EqualTo(new[] { 1, 2 }));
        // out h = floor((10 + 2 - 3) / 2) + 1 = 5; out w = floor((12 - 1) / 1) + 1 = 12
        Assert.That(p.YShape.Dims, Is.EqualTo(new[] { 2, 16, 5, 12 }));
        Assert.That(set.Rows[1].Problem.IsDepthwise, Is.True);
    }

    [TestCase("resnet50", 53)]
    [TestCase("resnet18", 20)]
    [TestCase("mobilenet_v2", 52)]
    [TestCase("efficientnet_b0", 49)]
    [TestCase("convnext_tiny", 58)]
    [TestCase("deepbench-inference", 107)]
    [TestCase("deepbench-train", 94)]
    [TestCase("deepbench-device", 16)]
    public void EveryBuiltInSetLoadsAndValidates(string name, int rows)
    {
        var set = ShapeSet.Load(name);
        Assert.That(set.Rows, Has.Count.EqualTo(rows));
        Assert.That(set.Source, Is.EqualTo(name));
    }

    [Test]
    public void ResNet50HasTheFourGigaMacsTorchvisionPublishes()
    {
        double macs = ShapeSet.Load("resnet50").Rows.Sum(r => r.Problem.Flops / 2);
        Assert.That(macs / 1e9, Is.EqualTo(4.087).Within(0.001));
    }

    /// <summary>torchvision publishes 4.46 GFLOPS (multiply-adds) for ConvNeXt-T; its classifier adds 0.8 M of them.</summary>
    [Test]
    public void ConvNeXtTinyHasTheMacsTorchvisionPublishes()
    {
        double macs = ShapeSet.Load("convnext_tiny").Rows.Sum(r => r.Problem.Flops / 2);
        Assert.That((macs + 768 * 1000) / 1e9, Is.EqualTo(4.46).Within(0.005));
    }

    [Test]
    public void LoadsAFileByPathAndRejectsAnUnknownName()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpuconv-shapes-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, Header + "\nonly,1,3,8,8,4,3,3,1,1,1,1,1,1,1\n");
        try { Assert.That(ShapeSet.Load(path).Rows.Single().Name, Is.EqualTo("only")); }
        finally { File.Delete(path); }
        var e = Assert.Throws<ArgumentException>(() => ShapeSet.Load("resnet51"))!;
        Assert.That(e.Message, Does.Contain("'resnet51' is neither a built-in shape set").And.Contain("resnet50"));
    }

    [Test]
    public void BadHeaderIsNamedWithLineOne() =>
        Assert.That(ErrorOf("name,n,c,h,w,k,r,s", "a,1,1,1,1,1,1,1"), Does.StartWith("test.csv line 1: the header must be").And.Contain("found 'name,n,c,h,w,k,r,s'"));

    [Test]
    public void BadRowsNameTheLineTheRowAndTheField()
    {
        Assert.That(ErrorOf(Header, "ok,1,3,8,8,4,3,3,1,1,1,1,1,1,1", "bad,1,3,8,x,4,3,3,1,1,1,1,1,1,1"),
            Is.EqualTo("test.csv line 3 (bad): field 'w' = 'x' is not an integer."));
        Assert.That(ErrorOf(Header, "", "bad,1,3,8,8,4,3,3,0,1,1,1,1,1,1"),
            Is.EqualTo("test.csv line 3 (bad): field 'stride_h' must be >= 1, got 0."));
        Assert.That(ErrorOf(Header, "bad,1,3,8,8,4,3,3,1,1,1,1,1,1"), Does.StartWith("test.csv line 2: expected 15 comma-separated fields").And.Contain("found 14"));
        Assert.That(ErrorOf(Header, "g,1,6,8,8,4,3,3,1,1,1,1,1,1,4"), Is.EqualTo("test.csv line 2 (g): field 'c' = 6 must be divisible by field 'groups' = 4."));
        Assert.That(ErrorOf(Header, "tiny,1,3,2,2,4,3,3,1,1,0,0,1,1,1"), Does.StartWith("test.csv line 2 (tiny): output size in spatial dimension 0 would be 0"));
        Assert.That(ErrorOf(Header, "a,1,3,8,8,4,3,3,1,1,1,1,1,1,1", "a,1,3,8,8,4,3,3,1,1,1,1,1,1,1"), Is.EqualTo("test.csv line 3: name 'a' is already used on line 2."));
    }

    [Test]
    public void EmptyFilesAreRejected()
    {
        Assert.That(ErrorOf(""), Does.Contain("empty shape file"));
        Assert.That(ErrorOf(Header), Does.Contain("header but no shape rows"));
    }

    [TestCase("deepbench_inference")]
    [TestCase("deepbench-inference")]
    [TestCase("resnet50.csv")]
    [TestCase("mobilenet_v2")]
    public void BuiltInNamesAreAcceptedInEverySpellingTheCommandsUsedToAccept(string name) =>
        // plan accepted underscores and a .csv suffix, bench dashes: the one reader accepts them all.
        Assert.That(ShapeSet.Load(name).Rows, Is.Not.Empty);
}
