using GpuConv.Tensors;

namespace GpuConv.Tests.Concat;

/// <summary>
/// The CPU engine's Concat, Narrow and Split against the element-by-element definition (<see cref="ConcatReference"/>)
/// bit for bit, on random never-zero data: ranks 2–5, every dim given both ways (d and d − rank), 1–4 inputs of uneven
/// sizes; a round trip Concat then Split giving the inputs back exactly; the adjoint identity that makes Split Concat's
/// gradient; and a tensor large enough to split the copies over the worker threads.
/// </summary>
public class ConcatCpuEngineTests
{
    static ConvEngine Cpu(int threads = 2) => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads });

    public static IEnumerable<TestCaseData> Cases()
    {
        for (int rank = 2; rank <= 5; rank++)
            for (int dim = 0; dim < rank; dim++)
                yield return new TestCaseData(rank, dim).SetArgDisplayNames($"rank {rank}, dim {dim}");
    }

    [TestCaseSource(nameof(Cases))]
    public void ConcatNarrowAndSplitMatchTheDefinition(int rank, int dim)
    {
        using var cpu = Cpu();
        var rng = new Random(rank * 10 + dim);
        for (int count = 1; count <= 4; count++)
        {
            var xs = ConcatReference.RandomInputs(rank, dim, count, rng);
            var expected = ConcatReference.Cat(xs, dim, out var shape);
            foreach (int given in new[] { dim, dim - rank })
            {
                var y = cpu.Download(cpu.Concat(xs, given));
                Assert.That(y.Shape, Is.EqualTo(new TensorShape(shape)), $"{count} inputs, dim {given}");
                Assert.That(ConcatReference.Bits(y.Data), Is.EqualTo(ConcatReference.Bits(expected)), $"{count} inputs, dim {given}");
            }
            var whole = new HostTensor(new TensorShape(shape), expected);
            int start = rng.Next(shape[dim]), length = rng.Next(1, shape[dim] - start + 1);
            var narrowed = ConcatReference.Narrow(whole, dim, start, length);
            Assert.That(ConcatReference.Bits(cpu.Download(cpu.Narrow(whole, dim, start, length)).Data), Is.EqualTo(ConcatReference.Bits(narrowed)), $"narrow [{start}, +{length})");
            Assert.That(ConcatReference.Bits(cpu.Download(cpu.Narrow(whole, dim - rank, start - shape[dim], length)).Data), Is.EqualTo(ConcatReference.Bits(narrowed)),
                $"narrow with a negative dim and start [{start - shape[dim]}, +{length})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void SplitIntoGivenOutputsGivesSplitsBits(int rank, int dim)
    {
        using var cpu = Cpu();
        var rng = new Random(200 + rank * 10 + dim);
        var xs = ConcatReference.RandomInputs(rank, dim, rng.Next(1, 5), rng);
        var y = cpu.Concat(xs, dim);
        var parts = cpu.Split(y, dim, [.. xs.Select(x => (long)x.Shape[dim])]);
        // Outputs holding other data first: every element must be overwritten.
        var outputs = xs.Select(x => cpu.Upload(ConcatReference.Random(x.Shape, rng))).ToArray();
        cpu.SplitInto(y, dim - rank, outputs);
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.That(ConcatReference.Bits(cpu.Download(outputs[i]).Data), Is.EqualTo(ConcatReference.Bits(cpu.Download(parts[i]).Data)), $"part {i}");
            Assert.That(ConcatReference.Bits(cpu.Download(outputs[i]).Data), Is.EqualTo(ConcatReference.Bits(xs[i].Data)), $"part {i} is input {i}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void ConcatThenSplitGivesTheInputsBackExactly(int rank, int dim)
    {
        using var cpu = Cpu();
        var rng = new Random(100 + rank * 10 + dim);
        var xs = ConcatReference.RandomInputs(rank, dim, rng.Next(2, 5), rng);
        var y = cpu.Concat(xs, dim);
        var parts = cpu.Split(y, dim - rank, [.. xs.Select(x => (long)x.Shape[dim])]);
        Assert.That(parts, Has.Length.EqualTo(xs.Length));
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.That(parts[i].Shape, Is.EqualTo(xs[i].Shape), $"part {i}");
            Assert.That(ConcatReference.Bits(cpu.Download(parts[i]).Data), Is.EqualTo(ConcatReference.Bits(xs[i].Data)), $"part {i}");
        }
    }

    /// <summary>
    /// Split is the adjoint of Concat: &lt;Concat(xs), g&gt; = Σ &lt;xᵢ, Split(g)ᵢ&gt; in float64 for random xs and g —
    /// the identity that makes Split(dy) the gradient of a loss through Concat. A slab misplaced on either side breaks it.
    /// </summary>
    [TestCaseSource(nameof(Cases))]
    public void SplitIsTheAdjointOfConcat(int rank, int dim)
    {
        using var cpu = Cpu();
        var rng = new Random(200 + rank * 10 + dim);
        var xs = ConcatReference.RandomInputs(rank, dim, rng.Next(2, 5), rng);
        var y = cpu.Download(cpu.Concat(xs, dim));
        var g = ConcatReference.Random(y.Shape, rng);
        var dxs = cpu.Split(g, dim, [.. xs.Select(x => (long)x.Shape[dim])]);
        double left = Dot(y.Data, g.Data);
        double right = xs.Select((x, i) => Dot(x.Data, cpu.Download(dxs[i]).Data)).Sum();
        Assert.That(right, Is.EqualTo(left).Within(1e-9 * (1 + Math.Abs(left))));
        // And each part is the Narrow of g at that input's place.
        int start = 0;
        for (int i = 0; i < xs.Length; start += xs[i].Shape[dim], i++)
            Assert.That(ConcatReference.Bits(cpu.Download(dxs[i]).Data),
                Is.EqualTo(ConcatReference.Bits(cpu.Download(cpu.Narrow(g, dim, start, xs[i].Shape[dim])).Data)), $"part {i} as a narrow");
    }

    static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }

    /// <summary>Past the parallel threshold the rows are split over the workers: the same bits as one thread, and as the definition.</summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void LargeTensorsCopiedOnTheWorkersGiveTheSameBits(int dim)
    {
        using var two = Cpu(2);
        using var one = Cpu(1);
        var rng = new Random(7);
        int[] dims = [3, 40, 48, 50];
        var a = ConcatReference.Random(new TensorShape(dims), rng);
        dims[dim] = 7;
        var b = ConcatReference.Random(new TensorShape(dims), rng);
        Assert.That(a.Shape.ElementCount + b.Shape.ElementCount, Is.GreaterThan(GpuConv.Cpu.Layers.CpuSlabCopy.ParallelThreshold));
        var expected = ConcatReference.Cat([a, b], dim, out _);
        var y2 = two.Download(two.Concat([a, b], dim));
        Assert.That(ConcatReference.Bits(y2.Data), Is.EqualTo(ConcatReference.Bits(expected)), "two threads");
        Assert.That(ConcatReference.Bits(one.Download(one.Concat([a, b], dim)).Data), Is.EqualTo(ConcatReference.Bits(expected)), "one thread");
        var parts = two.Split(y2, dim, [a.Shape[dim], b.Shape[dim]]);
        Assert.That(ConcatReference.Bits(two.Download(parts[0]).Data), Is.EqualTo(ConcatReference.Bits(a.Data)));
        Assert.That(ConcatReference.Bits(two.Download(parts[1]).Data), Is.EqualTo(ConcatReference.Bits(b.Data)));
    }

    [Test]
    public void AnInputListedTwiceAndAGivenOutputAreFine()
    {
        using var cpu = Cpu();
        var rng = new Random(3);
        var a = ConcatReference.Random(new TensorShape(2, 3, 4), rng);
        var b = ConcatReference.Random(new TensorShape(2, 1, 4), rng);
        var output = cpu.Allocate(new TensorShape(2, 7, 4));
        Assert.That(cpu.Concat([a, b, a], 1, output), Is.SameAs(output));
        Assert.That(ConcatReference.Bits(cpu.Download(output).Data), Is.EqualTo(ConcatReference.Bits(ConcatReference.Cat([a, b, a], 1, out _))));
        var narrowed = cpu.Allocate(new TensorShape(2, 2, 4));
        Assert.That(cpu.Narrow(output, 1, 3, 2, narrowed), Is.SameAs(narrowed));
        Assert.That(ConcatReference.Bits(cpu.Download(narrowed).Data), Is.EqualTo(ConcatReference.Bits(ConcatReference.Narrow(cpu.Download(output), 1, 3, 2))));
    }

    /// <summary>
    /// docs/library.md's U-Net decoder step on the CPU engine: the join bit for bit the definition, the join's gradient
    /// against the float64 reference, its split parts the two channel ranges, and the skip's gradient summed.
    /// </summary>
    [Test]
    public void TheLibraryDocsUNetStepMatchesTheReference()
    {
        using var engine = Cpu();
        var rng = new Random(11);
        var upSpec = new GpuConv.Conv.ConvSpec([2, 2], stride: [2], transposed: true);
        var spec3x3 = new GpuConv.Conv.ConvSpec([3, 3], padBegin: [1]);
        var deep = ConcatReference.Random(new TensorShape(2, 6, 3, 3), rng);
        var wUp = ConcatReference.Random(new TensorShape(6, 4, 2, 2), rng);
        var skip = ConcatReference.Random(new TensorShape(2, 4, 6, 6), rng);
        var w = ConcatReference.Random(new TensorShape(5, 8, 3, 3), rng);
        var b = ConcatReference.Random(new TensorShape(5), rng);
        var dSkipTotal = engine.Upload(ConcatReference.Random(skip.Shape, rng));
        var heldSkip = engine.Download(dSkipTotal).Data;

        using var up = engine.Forward(upSpec, deep, wUp);
        using var joined = engine.Concat([up, skip]);
        using var y = engine.ForwardBiasActivation(spec3x3, joined, w, b, Activation.Relu);
        var dy = ConcatReference.Random(y.Shape, rng);
        using var dJoined = engine.BackwardData(spec3x3, dy, w, joined.Shape);
        var grads = engine.Split(dJoined, 1, [4, 4]);
        engine.AddScaled(dSkipTotal, 1, grads[1]);

        var hostUp = engine.Download(up);
        Assert.That(ConcatReference.Bits(engine.Download(joined).Data), Is.EqualTo(ConcatReference.Bits(ConcatReference.Cat([hostUp, skip], 1, out _))), "the join");
        var p = GpuConv.Conv.ConvProblem.Create(spec3x3, joined.Shape, w.Shape, GpuConv.Conv.ConvOp.BackwardData);
        var reference = ReferenceConv.BackwardData(p, dy.Data, w.Data);
        var e = ErrorMetrics.Compare(engine.Download(dJoined).Data, reference);
        Assert.That(e.MaxRelative, Is.LessThan(1e-5), $"the join's gradient: {e}");
        int plane = 6 * 6;
        for (int part = 0; part < 2; part++)
        {
            var got = engine.Download(grads[part]).Data;
            for (int n = 0; n < 2; n++)
                for (int c = 0; c < 4; c++)
                    for (int k = 0; k < plane; k++)
                        Assert.That(got[(n * 4 + c) * plane + k], Is.EqualTo(engine.Download(dJoined).Data[(n * 8 + part * 4 + c) * plane + k]), $"part {part}, n {n}, c {c}");
        }
        var total = engine.Download(dSkipTotal).Data;
        var skipGrad = engine.Download(grads[1]).Data;
        Assert.That(ConcatReference.Bits(total), Is.EqualTo(ConcatReference.Bits([.. heldSkip.Select((v, i) => MathF.FusedMultiplyAdd(1f, skipGrad[i], v))])), "the skip's gradients summed");
    }

    /// <summary>A warm Concat, Narrow or SplitInto into given outputs allocates nothing on the CPU engine (a training loop's join and its gradient).</summary>
    [Test]
    public void WarmCallsIntoAGivenOutputAllocateNothing()
    {
        using var cpu = Cpu(1);
        var rng = new Random(12);
        var a = cpu.Upload(ConcatReference.Random(new TensorShape(2, 3, 5, 5), rng));
        var b = cpu.Upload(ConcatReference.Random(new TensorShape(2, 4, 5, 5), rng));
        var y = cpu.Allocate(new TensorShape(2, 7, 5, 5));
        var part = cpu.Allocate(new TensorShape(2, 4, 5, 5));
        var da = cpu.Allocate(a.Shape);
        var db = cpu.Allocate(b.Shape);
        IReadOnlyList<Tensor> inputs = [a, b], grads = [da, db];
        for (int i = 0; i < 20; i++) { cpu.Concat(inputs, 1, y); cpu.Narrow(y, 1, 3, 4, part); cpu.SplitInto(y, 1, grads); }
        long fewest = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) { cpu.Concat(inputs, 1, y); cpu.Narrow(y, 1, 3, 4, part); cpu.SplitInto(y, 1, grads); }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(fewest, Is.Zero);
        Assert.That(ConcatReference.Bits(cpu.Download(part).Data), Is.EqualTo(ConcatReference.Bits(cpu.Download(b).Data)));
        Assert.That(ConcatReference.Bits(cpu.Download(da).Data), Is.EqualTo(ConcatReference.Bits(cpu.Download(a).Data)));
    }
}
