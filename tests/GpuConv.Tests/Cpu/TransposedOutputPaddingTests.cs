using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Issue 14 item 9: PyTorch accepts a transposed convolution whose output padding is &gt;= stride but
/// &lt; dilation; the output then ends in positions that no input reaches (bias only). GpuConv refused it
/// ("transposed geometry is inconsistent"). Checked against conv_transpose written as PyTorch defines
/// it (a scatter: out[i] += in[o] * w[t] for i = o*stride - pad + t*dilation), and every CPU algorithm
/// of every op against the reference.
/// </summary>
public class TransposedOutputPaddingTests
{
    [Test]
    public void IssueExampleHasPyTorchsShapeAndValues()
    {
        // x [1,2,4,4], w [2,3,2,2], dilation 2, output_padding 1 -> torch gives [1,3,7,7].
        var spec = new ConvSpec([2, 2], dilation: [2], transposed: true, outputPadding: [1]);
        var x = HostTensor.Random(new TensorShape(1, 2, 4, 4), 1);
        var w = HostTensor.Random(new TensorShape(2, 3, 2, 2), 2);
        var b = HostTensor.Random(new TensorShape(3), 3);
        var p = ConvProblem.Create(spec, x.Shape, w.Shape);
        Assert.That(p.XShape, Is.EqualTo(new TensorShape(1, 3, 7, 7)), "the transposed output");
        var expected = Scatter2d(x, w, b, stride: 1, dilation: 2, pad: 0, outSize: 7);
        double[] reference = ReferenceConv.Run(p, [], w.Data, x.Data, b.Data);
        Assert.That(reference, Is.EqualTo(expected).Within(1e-12), "reference vs the PyTorch definition");
        // Row and column 6 are reached by no input: bias only.
        for (int c = 0; c < 3; c++)
            Assert.That(reference[c * 49 + 6 * 7 + 3], Is.EqualTo(b.Data[c]).Within(1e-12));

        using var engine = ConvEngine.Open(new ConvEngineOptions { Backend = "cpu", PersistPlans = false });
        var y = engine.Forward(spec, x, w, b);
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(1, 3, 7, 7)));
        Assert.That(ErrorMetrics.Compare(y.Data, expected).MaxRelative, Is.LessThan(1e-5));
    }

    [Test]
    public void EveryOpAndCpuAlgorithmMatchesTheReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var rng = new Random(914);
        var failures = new List<string>();
        int cases = 0;
        for (int i = 0; cases < 60 && i < 2000; i++)
        {
            int rank = 1 + i % 3;
            var kernel = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 4)).ToArray();
            var stride = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 3)).ToArray();
            var dil = Enumerable.Range(0, rank).Select(_ => rng.Next(2, 5)).ToArray();
            // Output padding at or above the stride where the dilation allows it (the newly accepted case).
            var op = Enumerable.Range(0, rank).Select(d => rng.Next(stride[d], dil[d])).ToArray();
            var pad = Enumerable.Range(0, rank).Select(_ => rng.Next(0, 2)).ToArray();
            var input = Enumerable.Range(0, rank).Select(_ => rng.Next(1, rank == 3 ? 4 : 6)).ToArray();
            int groups = rng.Next(1, 3), cin = groups * rng.Next(1, 3), coutPerGroup = rng.Next(1, 3);
            ConvProblem p;
            try
            {
                var spec = new ConvSpec(kernel, stride, dil, pad, pad, groups, transposed: true, outputPadding: op);
                p = ConvProblem.Create(spec, new TensorShape([1 + i % 2, cin, .. input]), new TensorShape([cin, coutPerGroup, .. kernel]));
            }
            catch (ArgumentException) { continue; } // padding larger than the output: refused as by PyTorch
            cases++;
            foreach (var o in Enum.GetValues<ConvOp>())
            {
                var (err, where) = Backends.ConvCheck.AllAlgorithms(backend, p.WithOp(o), seed: i, withBias: i % 2 == 0);
                if (!(err < 1e-5)) failures.Add(where);
            }
        }
        Assert.That(cases, Is.EqualTo(60), "enough of the generated geometries are accepted");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    [Test]
    public void EveryOpAndPtxAlgorithmMatchesTheReferenceOnTheSimulator()
    {
        // The ptx backend's kernels (in the PTX interpreter) on the issue's geometry and a strided 1-d one.
        var problems = new[]
        {
            ConvProblem.Create(new ConvSpec([2, 2], dilation: [2], transposed: true, outputPadding: [1]), new TensorShape(1, 2, 4, 4), new TensorShape(2, 3, 2, 2)),
            ConvProblem.Create(new ConvSpec([3], stride: [2], dilation: [4], padBegin: [1], transposed: true, outputPadding: [3]), new TensorShape(2, 2, 3), new TensorShape(2, 2, 3)),
        };
        var failures = new List<string>();
        foreach (var problem in problems)
            foreach (var o in Enum.GetValues<ConvOp>())
            {
                var p = problem.WithOp(o);
                var rt = new Ptx.SimulatedPtxRuntime();
                var backend = new GpuConv.Backends.Ptx.PtxConvBackend(rt);
                var rng = new Random(7);
                var x = Support.RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
                var w = Support.RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
                var y = Support.RandomConvProblems.RandomData(rng, p.YShape.ElementCount);
                var expected = ReferenceConv.Run(p, x, w, y);
                foreach (var algorithm in backend.GetAlgorithms(p, ConvPrecision.Strict))
                {
                    Tensor X = p.Op == ConvOp.BackwardData ? rt.Allocate(p.XShape) : rt.Upload(x, p.XShape);
                    Tensor W = p.Op == ConvOp.BackwardFilter ? rt.Allocate(p.WShape) : rt.Upload(w, p.WShape);
                    Tensor Y = p.Op == ConvOp.Forward ? rt.Allocate(p.YShape) : rt.Upload(y, p.YShape);
                    backend.Run(p, algorithm, new ConvTensors(X, W, Y, null));
                    var actual = rt.Download(p.Op switch { ConvOp.Forward => Y, ConvOp.BackwardData => X, _ => W });
                    var report = ErrorMetrics.Compare(actual, expected);
                    if (!(report.MaxRelative < 1e-5)) failures.Add($"{algorithm.Key} on {p}: {report}");
                }
            }
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    [Test]
    public void OnlyOutputPaddingAtOrAboveTheStrideLeavesUnreachedInput()
    {
        var p = ConvProblem.Create(new ConvSpec([2, 2], dilation: [2], transposed: true, outputPadding: [1]), new TensorShape(1, 2, 4, 4), new TensorShape(2, 3, 2, 2));
        Assert.That(p.HasUnreachedInput, Is.True);
        var plain = ConvProblem.Create(new ConvSpec([2, 2], stride: [2], transposed: true, outputPadding: [1]), new TensorShape(1, 2, 4, 4), new TensorShape(2, 3, 2, 2));
        Assert.That(plain.HasUnreachedInput, Is.False, "output padding below the stride is absorbed by the floor");
    }

    [Test]
    public void OutputPaddingNotBelowStrideOrDilationIsStillRefused() =>
        Support.ExpectArgument.Throws(() => new ConvSpec([2, 2], stride: [2], dilation: [2], transposed: true, outputPadding: [2]), "outputPadding", "outputPadding[0] = 2");

    /// <summary>conv_transpose2d as PyTorch defines it, written independently of ReferenceConv.</summary>
    static double[] Scatter2d(HostTensor x, HostTensor w, HostTensor b, int stride, int dilation, int pad, int outSize)
    {
        int cin = x.Shape[1], inH = x.Shape[2], inW = x.Shape[3], cout = w.Shape[1], k = w.Shape[2];
        var y = new double[cout * outSize * outSize];
        for (int co = 0; co < cout; co++)
            for (int i = 0; i < outSize * outSize; i++) y[co * outSize * outSize + i] = b.Data[co];
        for (int ci = 0; ci < cin; ci++)
            for (int oh = 0; oh < inH; oh++)
                for (int ow = 0; ow < inW; ow++)
                    for (int co = 0; co < cout; co++)
                        for (int th = 0; th < k; th++)
                            for (int tw = 0; tw < k; tw++)
                            {
                                int i = oh * stride - pad + th * dilation, j = ow * stride - pad + tw * dilation;
                                if (i < 0 || j < 0 || i >= outSize || j >= outSize) continue;
                                y[(co * outSize + i) * outSize + j] += (double)x.Data[(ci * inH + oh) * inW + ow] * w.Data[((ci * cout + co) * k + th) * k + tw];
                            }
        return y;
    }
}
