using FsCheck;
using FsCheck.Fluent;
using GpuConv.Cli;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Tensors;

namespace GpuConv.Tests.Fuzz;

/// <summary>
/// Properties of the CLI's parsers on arbitrary option values and CSV rows: a value is either accepted
/// or refused with an ArgumentException naming the option or field (exit 2), never another exception
/// (exit 3 or a crash); and `gpuconv run` on what is accepted writes the reference's answer.
/// </summary>
[NonParallelizable]
public class CliParserProperties
{
    static readonly HashSet<string> RunFields =
        ["--x", "--w", "--b", "--groups", "--output-padding", "--stride", "--dilation", "--pads", "--pad",
         "kernel", "stride", "dilation", "padBegin", "padEnd", "groups", "outputPadding", "input", "filter", "spec", "inputSpatial", "dims"];

    public sealed record RunCase(int[] X, int[] W, string? Stride, string? Pads, string? Pad, string? Dilation, int Groups, bool Transposed, string? OutputPadding)
    {
        public RunRequest Request(string x = "x.npy", string w = "w.npy", string output = "y.npy") =>
            new(x, w, output, null, Stride, Pads, Pad, Dilation, Groups, Transposed, OutputPadding);

        public override string ToString() =>
            $"x=[{string.Join(",", X)}] w=[{string.Join(",", W)}] --stride {Stride} --pads {Pads} --pad {Pad} --dilation {Dilation} --groups {Groups} transposed={Transposed} --output-padding {OutputPadding}";
    }

    static Gen<string?> Maybe(Gen<string> g) => Gen.Frequency((2, Gen.Constant<string?>(null)), (3, g.Select(s => (string?)s)));

    static Gen<RunCase> RunCases(bool smallTensors) =>
        from rank in smallTensors ? Gen.Constant(2) : Gen.Choose(1, 3)
        from n in Gen.Choose(1, 2)
        from groups in Gen.Frequency((6, Gen.Choose(1, 2)), (1, Gen.Elements(FuzzGen.Extremes)))
        from cpg in Gen.Choose(1, 3)
        from kpg in Gen.Choose(1, 3)
        from transposed in Gen.Elements(false, true)
        from spatial in (smallTensors ? Gen.Choose(1, 6) : FuzzGen.Int(1, 9)).ArrayOf(rank)
        from kernel in Gen.Choose(1, 3).ArrayOf(rank)
        from stride in Maybe(FuzzGen.OptionText(rank, FuzzGen.Int(1, 3)))
        from pads in Gen.Frequency((3, Gen.Constant<string?>(null)), (1, FuzzGen.OptionText(2 * rank, FuzzGen.Int(0, 2)).Select(s => (string?)s)))
        from pad in Maybe(FuzzGen.OptionText(rank, FuzzGen.Int(0, 2)))
        from dilation in Maybe(FuzzGen.OptionText(rank, FuzzGen.Int(1, 3)))
        from outputPadding in transposed ? Maybe(FuzzGen.OptionText(rank, FuzzGen.Int(0, 2))) : Gen.Constant<string?>(null)
        let g = Math.Clamp(groups, 1, 2)
        select new RunCase([n, g * cpg, .. spatial], transposed ? [g * cpg, kpg, .. kernel] : [g * kpg, cpg, .. kernel],
            stride, pads, pad, dilation, groups, transposed, outputPadding);

    [Test]
    public void RunOptionsAreAcceptedOrRefusedNamingTheOption()
    {
        int refused = 0, accepted = 0;
        Prop.ForAll(RunCases(smallTensors: false).ToArbitrary(), c =>
        {
            try
            {
                var p = RunJob.BuildProblem(c.Request(), new TensorShape(c.X), new TensorShape(c.W), null);
                accepted++;
                Assert.That(p.XShape.ElementCount, Is.LessThanOrEqualTo(Array.MaxLength), c.ToString());
            }
            catch (ArgumentException e) when (e is not ArgumentNullException)
            {
                refused++;
                Assert.That(e.ParamName, Is.Not.Null.And.AnyOf([.. RunFields]), $"{c}: {e.Message}");
            }
        }).Check(FuzzSettings.Cases(400));
        Assert.That(refused, Is.GreaterThan(0));
        Assert.That(accepted, Is.GreaterThan(0));
    }

    [Test]
    public void RunEndToEndExitsZeroWithTheReferenceAnswerOrTwo()
    {
        using var h = new Cli.CliHarness();
        int ran = 0;
        Prop.ForAll(RunCases(smallTensors: true).ToArbitrary(), c =>
        {
            var x = HostTensor.Random(new TensorShape(c.X), 1);
            var w = HostTensor.Random(new TensorShape(c.W), 2);
            string xPath = h.Save("x.npy", x), wPath = h.Save("w.npy", w), yPath = h.Path("y.npy");
            if (File.Exists(yPath)) File.Delete(yPath);
            var args = new List<string> { "run", "--x", xPath, "--w", wPath, "--out", yPath, "--groups", c.Groups.ToString(System.Globalization.CultureInfo.InvariantCulture), "--plan-cache", h.Path("plans.json") };
            if (c.Stride is not null) args.AddRange(["--stride", c.Stride]);
            if (c.Pads is not null) args.AddRange(["--pads", c.Pads]);
            if (c.Pad is not null) args.AddRange(["--pad", c.Pad]);
            if (c.Dilation is not null) args.AddRange(["--dilation", c.Dilation]);
            if (c.Transposed) args.Add("--transposed");
            if (c.OutputPadding is not null) args.AddRange(["--output-padding", c.OutputPadding]);
            var (exit, _, err) = Cli.CliHarness.Invoke([.. args]);
            Assert.That(exit, Is.EqualTo(0).Or.EqualTo(2), $"{c}: {err}");
            if (exit == 2)
            {
                Assert.That(err, Does.StartWith("error: ").And.Not.Contain("unexpected"), c.ToString());
                return;
            }
            ran++;
            var p = RunJob.BuildProblem(c.Request(), x.Shape, w.Shape, null);
            var y = NpyFile.Read(yPath);
            Assert.That(y.Shape, Is.EqualTo(p.OutputShape), c.ToString());
            var reference = c.Transposed ? ReferenceConv.BackwardData(p, x.Data, w.Data) : ReferenceConv.Forward(p, x.Data, w.Data);
            Assert.That(ErrorMetrics.Compare(y.Data, reference).MaxRelative, Is.LessThan(1e-5), c.ToString());
        }).Check(FuzzSettings.Cases(40));
        Assert.That(ran, Is.GreaterThan(0), "some cases ran");
    }

    static Gen<string> Field(int min, int max) =>
        Gen.Frequency((16, FuzzGen.Int(min, max).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (1, Gen.Elements("", " ", "x", "1.0", "+2", "-0", "99999999999", "0x3")));

    /// <summary>
    /// Parses one row under <paramref name="header"/>: refused with an ArgumentException naming the source and a
    /// parameter (null returned), or accepted (its row returned), and then its batch scaled by
    /// <paramref name="factor"/> is accepted or refused naming --batch.
    /// </summary>
    static ShapeRow? ParsedOrRefused(string header, string line, int factor)
    {
        ShapeSet set;
        try
        {
            set = ShapeSet.Parse(new StringReader(header + "\n" + line + "\n"), "fuzz.csv");
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            Assert.That(e.Message, Does.StartWith("fuzz.csv"), $"{line}: {e.Message}");
            Assert.That(e.ParamName, Is.Not.Null, line);
            return null;
        }
        try { set.Rows[0].ScaledBatch(factor, "--batch"); }
        catch (ArgumentException e) { Assert.That(e.ParamName, Is.EqualTo("--batch"), $"{line} x{factor}: {e.Message}"); }
        return set.Rows[0];
    }

    [Test]
    public void ShapeRowsAreAcceptedOrRefusedNamingSourceLineAndField()
    {
        const string header = "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups";
        var rows =
            from name in Gen.Frequency((6, Gen.Constant("a")), (1, Gen.Elements("", "b c", "#x", "conv,1")))
            from n in Field(1, 2)
            from c in Field(1, 4)
            from hw in Field(4, 9).ArrayOf(2)
            from k in Field(1, 4)
            from rs in Field(1, 3).ArrayOf(2)
            from st in Field(1, 3).ArrayOf(2)
            from pd in Field(0, 2).ArrayOf(2)
            from dl in Field(1, 2).ArrayOf(2)
            from g in Gen.Frequency((4, Gen.Constant("1")), (1, Field(1, 2)))
            from factor in FuzzGen.Int(1, 3)
            select (Line: string.Join(",", [name, n, c, hw[0], hw[1], k, rs[0], rs[1], st[0], st[1], pd[0], pd[1], dl[0], dl[1], g]), Factor: factor);
        int accepted = 0;
        Prop.ForAll(rows.ToArbitrary(), r =>
        {
            if (ParsedOrRefused(header, r.Line, r.Factor) is not null) accepted++;
        }).Check(FuzzSettings.Cases(400));
        Assert.That(accepted, Is.GreaterThan(0));
    }

    /// <summary>A list field of the N-d form: one value for all dimensions, one per dimension, or a malformed list.</summary>
    static Gen<string> ListField(int rank, int min, int max) =>
        Gen.Frequency(
            (4, Field(min, max)),
            (8, Field(min, max).ArrayOf(rank).Select(v => string.Join("x", v))),
            (1, Gen.Elements("1x", "x1", "1xx1", "1x2x3x4", "2*2", "1 x 2")));

    [Test]
    public void NdShapeRowsAreAcceptedOrRefusedNamingSourceLineAndField()
    {
        const string header = "name,n,c,spatial,k,kernel,stride,pad_begin,pad_end,dilation,groups,transposed,output_padding";
        var rows =
            from name in Gen.Frequency((6, Gen.Constant("a")), (1, Gen.Elements("", "b c", "#x", "conv,1")))
            from rank in Gen.Choose(1, 3)
            from n in Field(1, 2)
            from c in Field(1, 4)
            from spatial in ListField(rank, 3, 9)
            from k in Field(1, 4)
            from kernel in ListField(rank, 1, 3)
            from stride in ListField(rank, 1, 3)
            from padBegin in ListField(rank, 0, 2)
            from padEnd in ListField(rank, 0, 2)
            from dilation in ListField(rank, 1, 2)
            from g in Gen.Frequency((4, Gen.Constant("1")), (1, Field(1, 2)))
            from transposed in Gen.Frequency((4, Gen.Elements("0", "1")), (1, Gen.Elements("2", "", "yes")))
            from outputPadding in Gen.Frequency((4, Gen.Constant("0")), (1, ListField(rank, 0, 2)))
            from factor in FuzzGen.Int(1, 3)
            select (Line: string.Join(",", [name, n, c, spatial, k, kernel, stride, padBegin, padEnd, dilation, g, transposed, outputPadding]), Factor: factor);
        int accepted = 0, transposedAccepted = 0;
        Prop.ForAll(rows.ToArbitrary(), r =>
        {
            if (ParsedOrRefused(header, r.Line, r.Factor) is not { } row) return;
            accepted++;
            if (row.Transposed) transposedAccepted++;
            // What is accepted is a problem the library builds and the reference can judge.
            Assert.That(row.Problem.XShape.ElementCount, Is.GreaterThan(0), r.Line);
            Assert.That(row.Problem.YShape.ElementCount, Is.GreaterThan(0), r.Line);
        }).Check(FuzzSettings.Cases(400));
        Assert.That(accepted, Is.GreaterThan(0));
        Assert.That(transposedAccepted, Is.GreaterThan(0), "some transposed rows were accepted");
    }
}
