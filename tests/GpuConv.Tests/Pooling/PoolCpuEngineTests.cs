using GpuConv.Cpu.Pooling;
using GpuConv.Cpu.Threading;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The CPU engine's pools against float64 definitions on random non-zero inputs. Max pooling selects an input, so it
/// must equal the float64 maximum exactly. An average of k fp32 inputs summed in order has an error of at most
/// (k − 1)·2^-24·Σ|x| plus the division's 2^-24 relative; each element is held to that bound (stated per element), and
/// the whole tensor to max |error| / max |reference| &lt; 1e-6. The global average likewise with k = the plane's size;
/// the backward passes (sums of at most a few dy, or dy / divisor) likewise, each element within its rounding bound.
/// </summary>
public class PoolCpuEngineTests
{
    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    public static IEnumerable<TestCaseData> Cases() => PoolKernelTests.Cases();

    /// <summary>
    /// Every pooling window in float64 terms, straight from PyTorch's rules (independent of CpuPooling): the output's
    /// flat index, the flat indices of the inputs it covers (padding left out) and its average divisor.
    /// </summary>
    static IEnumerable<(int Output, List<int> Inputs, double Divisor)> Windows(PoolSpec spec, TensorShape shape)
    {
        var outShape = spec.OutputShape(shape);
        int rank = spec.Rank, planes = shape.Dims[0] * shape.Dims[1];
        int[] inS = [.. shape.Dims.Skip(2)], outS = [.. outShape.Dims.Skip(2)];
        int outPlane = outS.Aggregate(1, (a, b) => a * b), inPlane = inS.Aggregate(1, (a, b) => a * b);
        for (int p = 0; p < planes; p++)
            for (int o = 0; o < outPlane; o++)
            {
                var oc = new int[rank];
                for (int d = rank - 1, r = o; d >= 0; d--) { oc[d] = r % outS[d]; r /= outS[d]; }
                long padded = 1, inside = 1;
                for (int d = 0; d < rank; d++)
                {
                    long start = (long)oc[d] * spec.StrideOf(d) - spec.PaddingOf(d);
                    long end = Math.Min(start + spec.Kernel[d], inS[d] + spec.PaddingOf(d));
                    padded *= end - start;
                    inside *= Math.Min(end, inS[d]) - Math.Max(start, 0);
                }
                var inputs = new List<int>();
                foreach (var tap in Taps(spec))
                {
                    int flat = 0;
                    bool ok = true;
                    for (int d = 0; d < rank; d++)
                    {
                        long i = (long)oc[d] * spec.StrideOf(d) - spec.PaddingOf(d) + (long)tap[d] * spec.DilationOf(d);
                        if (i < 0 || i >= inS[d]) { ok = false; break; }
                        flat = flat * inS[d] + (int)i;
                    }
                    if (ok) inputs.Add(p * inPlane + flat);
                }
                yield return (p * outPlane + o, inputs, spec.CountIncludePad ? padded : inside);
            }
    }

    /// <summary>Max and average per output in float64 (<see cref="Windows"/>), and the bound on the average's rounding.</summary>
    static (double[] Max, double[] Avg, double[] Bound) Reference(PoolSpec spec, TensorShape shape, float[] x)
    {
        int outputs = spec.OutputShape(shape).ElementCountInt;
        var max = new double[outputs];
        var avg = new double[outputs];
        var bound = new double[outputs];
        foreach (var (k, inputs, divisor) in Windows(spec, shape))
        {
            double m = double.NegativeInfinity, sum = 0, abs = 0;
            foreach (int i in inputs)
            {
                double v = x[i];
                m = Math.Max(m, v);
                sum += v;
                abs += Math.Abs(v);
            }
            max[k] = m;
            avg[k] = sum / divisor;
            bound[k] = (Math.Max(inputs.Count - 1, 0) * abs / divisor + Math.Abs(avg[k])) * Math.Pow(2, -24) * 1.0001;
        }
        return (max, avg, bound);
    }

    static IEnumerable<int[]> Taps(PoolSpec spec)
    {
        IEnumerable<int[]> taps = [[]];
        foreach (int k in spec.Kernel) taps = taps.SelectMany(t => Enumerable.Range(0, k).Select(i => (int[])[.. t, i])).ToList();
        return taps;
    }

    [TestCaseSource(nameof(Cases))]
    public void MaxIsExactAndAverageIsWithinItsBound(int[] dims, PoolSpec spec)
    {
        var shape = new TensorShape(dims);
        var x = HostTensor.Random(shape, dims.Sum());
        Assert.That(x.Data.Count(v => v == 0), Is.Zero, "non-zero inputs");
        using var cpu = Cpu();
        var (max, _, _) = Reference(spec, shape, x.Data);
        var gotMax = cpu.Download(cpu.MaxPool(spec, x)).Data;
        Assert.That(gotMax.Select(v => (double)v), Is.EqualTo(max), "max pooling selects an input: exact");
        if (!spec.IsDense) return;
        foreach (bool include in new[] { true, false })
        {
            var s = spec with { CountIncludePad = include };
            var (_, avg, bound) = Reference(s, shape, x.Data);
            var got = cpu.Download(cpu.AvgPool(s, x)).Data;
            for (int i = 0; i < got.Length; i++)
                Assert.That(Math.Abs(got[i] - avg[i]), Is.LessThanOrEqualTo(bound[i]), $"avg include={include} output {i}: {got[i]} vs {avg[i]}");
            Assert.That(ErrorMetrics.Compare(got, avg).MaxRelative, Is.LessThan(1e-6), $"include={include}");
        }
    }

    /// <summary>
    /// dx in float64 from PyTorch's rules, independent of CpuPooling: max sends dy to the window's largest input (inputs
    /// are random, so there are no ties), avg sends dy / divisor to every input of the window. Also the bound per element.
    /// </summary>
    static (double[] Dx, double[] Bound) ReferenceBackward(PoolSpec spec, TensorShape shape, float[] x, float[] dy, bool max)
    {
        var dx = new double[shape.ElementCountInt];
        var abs = new double[dx.Length];
        var terms = new int[dx.Length];
        foreach (var (o, inputs, divisor) in Windows(spec, shape))
        {
            if (inputs.Count == 0) continue;
            double g = dy[o];
            var targets = inputs;
            if (max) targets = [inputs.MaxBy(t => x[t])];
            else g /= divisor;
            foreach (int t in targets)
            {
                dx[t] += g;
                abs[t] += Math.Abs(g);
                terms[t]++;
            }
        }
        // Each term (avg: a rounded quotient, 2^-24 relative) and each add rounds once.
        var bound = dx.Select((v, i) => ((terms[i] + 1) * abs[i] + Math.Abs(v)) * Math.Pow(2, -24) * 1.0001).ToArray();
        return (dx, bound);
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardIsWithinItsBound(int[] dims, PoolSpec spec)
    {
        var shape = new TensorShape(dims);
        var x = HostTensor.Random(shape, dims.Sum() + 1);
        using var cpu = Cpu();
        foreach (bool max in new[] { true, false })
            foreach (bool include in max ? new[] { true } : [true, false])
            {
                var s = spec with { CountIncludePad = include };
                if (!max && !s.IsDense) continue;
                var dy = HostTensor.Random(s.OutputShape(shape), 9);
                var (expected, bound) = ReferenceBackward(s, shape, x.Data, dy.Data, max);
                var got = cpu.Download(max ? cpu.MaxPoolBackward(s, dy, x) : cpu.AvgPoolBackward(s, dy, shape)).Data;
                for (int i = 0; i < got.Length; i++)
                    Assert.That(Math.Abs(got[i] - expected[i]), Is.LessThanOrEqualTo(bound[i]), $"{(max ? "max" : "avg")} include={include} dx[{i}]: {got[i]} vs {expected[i]}");
                if (expected.Any(v => v != 0))
                    Assert.That(ErrorMetrics.Compare(got, expected).MaxRelative, Is.LessThan(1e-6));
            }
    }

    [Test]
    public void GlobalAverageGradientIsAvgPoolBackwardWithTheWholePlane()
    {
        using var cpu = Cpu();
        var shape = new TensorShape(2, 3, 5, 7);
        var dy = HostTensor.Random(new TensorShape(2, 3, 1, 1), 1);
        var dx = cpu.Download(cpu.AvgPoolBackward(new PoolSpec([5, 7]), dy, shape)).Data;
        for (int i = 0; i < dx.Length; i++) Assert.That(dx[i], Is.EqualTo(dy.Data[i / 35] / 35f), $"dx[{i}] = dy / 35");
    }

    [TestCase(1, 1, 17)]
    [TestCase(2, 3, 7, 7)]
    [TestCase(1, 64, 56, 56)]
    [TestCase(2, 2, 3, 5, 9)]
    public void GlobalAverageIsWithinItsBound(params int[] dims)
    {
        var shape = new TensorShape(dims);
        var x = HostTensor.Random(shape, 3);
        using var cpu = Cpu();
        var y = cpu.Download(cpu.GlobalAvgPool(x));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape([dims[0], dims[1], .. Enumerable.Repeat(1, dims.Length - 2)])));
        int spatial = shape.ElementCountInt / (dims[0] * dims[1]);
        var expected = new double[y.Data.Length];
        for (int p = 0; p < expected.Length; p++)
        {
            var plane = x.Data.Skip(p * spatial).Take(spatial).Select(v => (double)v).ToArray();
            expected[p] = plane.Sum() / spatial;
            double bound = ((spatial - 1) * plane.Sum(Math.Abs) / spatial + Math.Abs(expected[p])) * Math.Pow(2, -24);
            Assert.That(Math.Abs(y.Data[p] - expected[p]), Is.LessThanOrEqualTo(bound), $"plane {p}");
        }
        Assert.That(ErrorMetrics.Compare(y.Data, expected).MaxRelative, Is.LessThan(1e-6));
    }

    /// <summary>
    /// The engine's global average (batch &gt; 1: planes are N·C; the vector paths, and the workers' split from 64 Ki
    /// inputs) gives the scalar definition's bits (NaN as NaN) on inputs with NaN, ±Inf and ±0 among random values, and on
    /// planes of −0 alone: 1, 7 × 7, 14 × 14, 15 × 17, 16 × 16, 257 and 40 × 40 elements.
    /// </summary>
    [TestCase(2, 3, 1, 1)]
    [TestCase(2, 5, 7, 7)]
    [TestCase(3, 4, 14, 14)]
    [TestCase(2, 3, 15, 17)]
    [TestCase(2, 2, 16, 16)]
    [TestCase(2, 3, 257)]
    [TestCase(2, 3, 40, 40)]
    [TestCase(2, 40, 32, 32)]
    public void GlobalAverageGivesTheScalarDefinitionsBits(params int[] dims)
    {
        var shape = new TensorShape(dims);
        var rng = new Random(dims.Sum());
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f];
        int planes = dims[0] * dims[1], spatial = shape.ElementCountInt / planes;
        var data = new float[shape.ElementCountInt];
        for (int i = 0; i < data.Length; i++)
            data[i] = i / spatial == 1 ? -0f // one plane of −0 alone
                : rng.Next(50) == 0 ? specials[rng.Next(specials.Length)] : (float)(rng.NextDouble() * 4 - 2);
        using var cpu = Cpu();
        var y = cpu.Download(cpu.GlobalAvgPool(new HostTensor(shape, data))).Data;
        var expected = new float[planes];
        CpuPooling.GlobalAverage(data, expected, planes, spatial, vector: false);
        Assert.That(PoolKernelTests.Bits(y), Is.EqualTo(PoolKernelTests.Bits(expected)));
        Assert.That(BitConverter.SingleToUInt32Bits(y[1]), Is.Zero, "a plane of −0 averages to +0");
    }

    [Test]
    public void IntoAGivenOutputAndOnHostTensors()
    {
        using var cpu = Cpu();
        var x = HostTensor.Random(new TensorShape(1, 2, 6, 6), 4);
        var spec = new PoolSpec([2, 2]);
        var output = cpu.Allocate(spec.OutputShape(x.Shape));
        Assert.That(cpu.MaxPool(spec, x, output), Is.SameAs(output));
        var fresh = cpu.Download(cpu.MaxPool(spec, x)).Data;
        Assert.That(cpu.Download(output).Data, Is.EqualTo(fresh));
        var g = cpu.Allocate(new TensorShape(1, 2, 1, 1));
        Assert.That(cpu.GlobalAvgPool(x, g), Is.SameAs(g));
    }

    /// <summary>
    /// Tensors past CpuPooling's parallel threshold (2^16 elements) run runs of planes as tasks on the CPU workers
    /// (3 threads here, 16 planes: 12 tasks of 1–2 planes): each plane gives the bits it gives alone, on the calling thread.
    /// </summary>
    [Test]
    public void TheParallelSplitGivesEachPlanesSerialBits()
    {
        using var workers = new CpuWorkers(3);
        var spec = new PoolSpec([3, 3], [2], [1], CountIncludePad: false);
        var shape = new TensorShape(2, 8, 129, 131);
        var outShape = spec.OutputShape(shape);
        var x = HostTensor.Random(shape, 21).Data;
        var dy = HostTensor.Random(outShape, 22).Data;
        var g = PoolGeometry.Of(spec, shape, outShape);
        Assert.That(g.OutputCount, Is.GreaterThanOrEqualTo(1 << 16), "the parallel branch runs");
        var (max, avg, dMax, dAvg) = (new float[g.OutputCount], new float[g.OutputCount], new float[x.Length], new float[x.Length]);
        var means = new float[g.Planes];
        CpuPooling.Max(g, x, max, workers);
        CpuPooling.Average(g, x, avg, workers);
        CpuPooling.MaxBackward(g, x, dy, dMax, workers);
        CpuPooling.AverageBackward(g, dy, dAvg, workers);
        CpuPooling.GlobalAverage(x, means, g.Planes, g.PlaneSize, workers: workers);
        var one = g with { Planes = 1 };
        int inPlane = g.PlaneSize, outPlane = (int)one.OutputCount;
        for (int p = 0; p < g.Planes; p++)
        {
            float[] xp = x[(p * inPlane)..((p + 1) * inPlane)], dyp = dy[(p * outPlane)..((p + 1) * outPlane)];
            var (m, a, dm, da, mean) = (new float[outPlane], new float[outPlane], new float[inPlane], new float[inPlane], new float[1]);
            CpuPooling.Max(one, xp, m);
            CpuPooling.Average(one, xp, a);
            CpuPooling.MaxBackward(one, xp, dyp, dm);
            CpuPooling.AverageBackward(one, dyp, da);
            CpuPooling.GlobalAverage(xp, mean, 1, inPlane);
            Assert.That(PoolKernelTests.Bits(max[(p * outPlane)..((p + 1) * outPlane)]), Is.EqualTo(PoolKernelTests.Bits(m)), $"max, plane {p}");
            Assert.That(PoolKernelTests.Bits(avg[(p * outPlane)..((p + 1) * outPlane)]), Is.EqualTo(PoolKernelTests.Bits(a)), $"average, plane {p}");
            Assert.That(PoolKernelTests.Bits(dMax[(p * inPlane)..((p + 1) * inPlane)]), Is.EqualTo(PoolKernelTests.Bits(dm)), $"max backward, plane {p}");
            Assert.That(PoolKernelTests.Bits(dAvg[(p * inPlane)..((p + 1) * inPlane)]), Is.EqualTo(PoolKernelTests.Bits(da)), $"average backward, plane {p}");
            Assert.That(PoolKernelTests.Bits([means[p]]), Is.EqualTo(PoolKernelTests.Bits(mean)), $"global average, plane {p}");
        }
        Assert.That(max, Has.Some.Not.EqualTo(0f), "real values were compared");
    }
}
