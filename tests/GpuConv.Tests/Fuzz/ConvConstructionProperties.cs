using FsCheck;
using FsCheck.Fluent;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Fuzz;

/// <summary>
/// Property: ConvSpec + ConvProblem construction from arbitrary integers (extremes and negatives
/// included) either refuses with an ArgumentException naming a field, or yields a problem every size of
/// which a kernel can compute without overflow — and that, when small, runs on the CPU backend (every
/// op) and matches the float64 reference. Any other exception, or a mismatch, fails with the shrunk case.
/// </summary>
public class ConvConstructionProperties
{
    /// <summary>Every field name a construction error may carry.</summary>
    static readonly HashSet<string> Fields =
        ["kernel", "stride", "dilation", "padBegin", "padEnd", "groups", "outputPadding", "input", "filter", "spec", "inputSpatial", "dims", "batch"];

    public sealed record Case(int Rank, int[] Kernel, int[] Stride, int[] Dilation, int[] PadBegin, int[] PadEnd, int Groups, bool Transposed,
        int[] OutputPadding, int[] Input, int[] Filter, ConvOp Op)
    {
        public override string ToString() =>
            $"rank {Rank} k=[{string.Join(",", Kernel)}] s=[{string.Join(",", Stride)}] d=[{string.Join(",", Dilation)}] pb=[{string.Join(",", PadBegin)}] pe=[{string.Join(",", PadEnd)}] " +
            $"g={Groups} t={Transposed} op=[{string.Join(",", OutputPadding)}] in=[{string.Join(",", Input)}] w=[{string.Join(",", Filter)}] {Op}";
    }

    static Gen<Case> Cases(int extremeWeight) =>
        from rank in Gen.Choose(1, 3)
        from kernel in FuzzGen.PerDim(rank, FuzzGen.Int(1, 3, extremeWeight)).Select(k => k.Length == rank ? k : Enumerable.Repeat(k.FirstOrDefault(1), rank).ToArray())
        from stride in FuzzGen.PerDim(rank, FuzzGen.Int(1, 3, extremeWeight))
        from dilation in FuzzGen.PerDim(rank, FuzzGen.Int(1, 3, extremeWeight))
        from padBegin in FuzzGen.PerDim(rank, FuzzGen.Int(0, 2, extremeWeight))
        from padEnd in FuzzGen.PerDim(rank, FuzzGen.Int(0, 2, extremeWeight))
        from groups in Gen.Frequency((8, Gen.Choose(1, 3)), (extremeWeight, Gen.Elements(FuzzGen.Extremes)))
        from transposed in Gen.Elements(false, true)
        from outputPadding in transposed ? FuzzGen.PerDim(rank, FuzzGen.Int(0, 2, extremeWeight)) : Gen.Constant(Array.Empty<int>())
        from n in FuzzGen.Int(1, 2, extremeWeight)
        from spatial in FuzzGen.Int(1, 7, extremeWeight).ArrayOf(rank)
        // Channels consistent with the groups most of the time (else nearly every case is a channel refusal).
        from consistent in Gen.Frequency((4, Gen.Constant(true)), (1, Gen.Constant(false)))
        from cpg in Gen.Choose(1, 3)
        from kpg in Gen.Choose(1, 3)
        from c in consistent ? Gen.Constant(groups * cpg) : FuzzGen.Int(1, 4, extremeWeight)
        from f0 in consistent ? Gen.Constant(transposed ? groups * cpg : groups * kpg) : FuzzGen.Int(1, 4, extremeWeight)
        from f1 in consistent ? Gen.Constant(transposed ? kpg : cpg) : FuzzGen.Int(1, 4, extremeWeight)
        from op in Gen.Elements(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)
        select new Case(rank, kernel, stride, dilation, padBegin, padEnd, groups, transposed, outputPadding,
            [n, c, .. spatial], [f0, f1, .. kernel], op);

    [TestCase(3, 400)]     // extremes often: mostly refusals, each checked for its field
    [TestCase(1, 150)]     // extremes rarely: mostly problems, each run and judged
    public void ConstructionRefusesOrRunsAndMatchesTheReference(int extremeWeight, int cases)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        int refused = 0, ran = 0;
        Prop.ForAll(Cases(extremeWeight).ToArbitrary(), c =>
        {
            ConvProblem p;
            try
            {
                var spec = new ConvSpec(c.Kernel, c.Stride, c.Dilation, c.PadBegin, c.PadEnd, c.Groups, c.Transposed, c.Transposed ? c.OutputPadding : null);
                p = ConvProblem.Create(spec, new TensorShape(c.Input), new TensorShape(c.Filter), c.Op);
            }
            catch (ArgumentException e) when (e is not ArgumentNullException)
            {
                refused++;
                Assert.That(e.ParamName, Is.Not.Null.And.AnyOf([.. Fields]), $"{c}: {e.Message}");
                Assert.That(e.Message, Does.Match("[0-9]"), $"{c}: the message quotes the values");
                return;
            }
            CheckBounds(p, c);
            if (Small(p))
            {
                ran++;
                foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
                {
                    var (err, where) = Backends.ConvCheck.AllAlgorithms(cpu, p.WithOp(op), seed: 5, withBias: true);
                    Assert.That(err, Is.LessThan(1e-5), $"{c}: {where}");
                }
            }
        }).Check(FuzzSettings.Cases(cases));
        TestContext.Out.WriteLine($"{refused} refused, {ran} ran against the reference");
        Assert.That(refused, Is.GreaterThan(0), "the generator reaches refusals");
        if (extremeWeight == 1) Assert.That(ran, Is.GreaterThan(cases / 25), "the generator reaches runnable problems");
    }

    /// <summary>The sizes kernels derive stay inside int; every tensor fits one buffer.</summary>
    static void CheckBounds(ConvProblem p, Case c)
    {
        foreach (var t in new[] { p.XShape, p.WShape, p.YShape })
            Assert.That(t.ElementCount, Is.LessThanOrEqualTo(Array.MaxLength), c.ToString());
        for (int d = 0; d < p.Rank; d++)
        {
            long padded = (long)p.InSpatial[d] + p.Spec.PadBegin[d] + p.Spec.PadEnd[d];
            Assert.That(padded + p.Spec.Stride[d], Is.LessThanOrEqualTo(int.MaxValue), c.ToString());
            Assert.That((long)p.Spec.Dilation[d] * (p.Spec.Kernel[d] - 1) + 1, Is.LessThanOrEqualTo(padded), $"{c}: the dilated kernel fits the padded input");
            Assert.That(p.Spec.ConvOutputSize(d, p.InSpatial[d]), Is.GreaterThanOrEqualTo(p.OutSpatial[d]), c.ToString());
        }
        Assert.That(p.EstimatedBytes, Is.GreaterThan(0));
    }

    static bool Small(ConvProblem p) =>
        p.XShape.ElementCount <= 4096 && p.YShape.ElementCount <= 4096 && p.WShape.ElementCount <= 1024 && p.Flops <= 2e6 && p.EstimatedBytes < 1 << 20;
}
