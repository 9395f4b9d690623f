using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// On a GPU host: every shipped kernel on the device against the interpreter on the same inputs (bit for
/// bit: the kernels use only correctly rounded operations in a fixed order), and the ptx backend against
/// ReferenceConv for every op and candidate on a randomized sweep. Skipped with the reason when no GPU
/// runtime can be opened.
/// </summary>
[Category("Gpu")]
public class PtxGpuTests
{
    IPtxRuntime _rt = null!;
    IDisposable? _owner;

    [OneTimeSetUp]
    public void Open()
    {
        if (!GpuPtxRuntime.TryOpen(out var runtime, out var owner, out string why))
            Assert.Ignore($"skipped: {why}");
        _rt = runtime!;
        _owner = owner;
    }

    [OneTimeTearDown]
    public void Close() => _owner?.Dispose();

    Tensor Upload(float[] data)
    {
        var t = _rt.Memory.Allocate(new TensorShape(Math.Max(1, data.Length)));
        _rt.Memory.CopyFromHost(data, t);
        return t;
    }

    float[] Download(Tensor t, int count)
    {
        _rt.Synchronize();
        var result = new float[t.Shape.ElementCount];
        _rt.Memory.CopyToHost(t, result);
        return result[..count];
    }

    /// <summary>Runs one entry on the GPU and in the interpreter with the same inputs; returns both outputs.</summary>
    (float[] Gpu, float[] Interpreted) RunBoth(string module, string entry, uint grid, uint block,
        float[][] inputs, int outputLength, Func<ulong[], object[]> args)
    {
        var devIn = inputs.Select(Upload).ToArray();
        var devOut = Upload(Enumerable.Repeat(float.NaN, outputLength).ToArray());
        _rt.Synchronize(); // uploads already finished on the runtime's stream; this only makes the order explicit
        _rt.Launch(module, entry, grid, block,
            args([.. devIn.Select(_rt.PointerOf), _rt.PointerOf(devOut)]));
        var gpu = Download(devOut, outputLength);

        var mem = new PtxGlobalMemory();
        var simIn = inputs.Select(d => mem.Upload(d)).ToArray();
        ulong simOut = mem.AllocatePoisoned(outputLength);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(module, entry), new PtxDim3((int)Math.Min(grid, 8)), new PtxDim3((int)block),
            args([.. simIn, simOut]));
        return (gpu, mem.Download(simOut, outputLength));
    }

    [Test]
    public void KernelsOnTheGpuMatchTheInterpreterBitForBit([Range(0, 7)] int seed)
    {
        var rng = new Random(7000 + seed);
        var p = RandomConvProblems.Next(rng);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        int colLength = (int)(p.N * PtxConvBackend.ColumnBytesPerImage(p) / 4);
        // Both index paths on the device: the 32-bit one (any launch this small) and the forced 64-bit one.
        bool force64 = seed % 2 == 1;

        var (gpu, sim) = RunBoth("im2col.ptx", "im2col_f32", 7, 128, [x], colLength,
            ptr => PtxKernelArguments.Im2Col(p, ptr[0], ptr[1], p.N, force64));
        Assert.That(gpu, Is.EqualTo(sim), $"im2col {p} force64={force64}");

        var col = RandomConvProblems.RandomData(rng, colLength);
        (gpu, sim) = RunBoth("col2im.ptx", "col2im_f32", 5, 128, [col], (int)p.XShape.ElementCount,
            ptr => PtxKernelArguments.Col2Im(p, ptr[0], ptr[1], p.N, force64));
        Assert.That(gpu, Is.EqualTo(sim), $"col2im {p}");

        var y = RandomConvProblems.RandomData(rng, p.YShape.ElementCount);
        var bias = RandomConvProblems.RandomData(rng, p.K);
        // bias_add works in place, so it gets its own harness.
        var (gpuAdd, simAdd) = BiasAddBoth(y, bias, p.YShape);
        Assert.That(gpuAdd, Is.EqualTo(simAdd), "bias_add");

        (gpu, sim) = RunBoth("bias.ptx", "bias_grad_f32", (uint)Math.Max(1, p.K / 2), 256, [y], p.K,
            ptr => [ptr[0], ptr[1], (uint)p.N, (uint)p.K, (ulong)p.YShape.SpatialSize]);
        Assert.That(gpu, Is.EqualTo(sim), "bias_grad with the same block size folds in the same order");

        var dp = RandomConvProblems.Next(rng, depthwise: true);
        var dx = RandomConvProblems.RandomData(rng, dp.XShape.ElementCount);
        var dw = RandomConvProblems.RandomData(rng, dp.WShape.ElementCount);
        var db = RandomConvProblems.RandomData(rng, dp.K);
        (gpu, sim) = RunBoth("depthwise.ptx", "depthwise_fwd_f32", 6, 128, [dx, dw, db], (int)dp.YShape.ElementCount,
            ptr => PtxKernelArguments.Depthwise(dp, ptr[0], ptr[1], ptr[2], ptr[3], force64));
        Assert.That(gpu, Is.EqualTo(sim), $"depthwise {dp}");
    }

    (float[], float[]) BiasAddBoth(float[] y, float[] bias, TensorShape shape)
    {
        var devY = Upload(y);
        var devB = Upload(bias);
        _rt.Synchronize();
        _rt.Launch("bias.ptx", "bias_add_f32", 3, 64, _rt.PointerOf(devY), _rt.PointerOf(devB),
            (ulong)shape.ElementCount, (uint)shape.C, (ulong)shape.SpatialSize, 1u);
        var gpu = Download(devY, y.Length);
        var mem = new PtxGlobalMemory();
        ulong simY = mem.Upload(y), simB = mem.Upload(bias);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new PtxDim3(3), new PtxDim3(64),
            simY, simB, (ulong)shape.ElementCount, (uint)shape.C, (ulong)shape.SpatialSize, 1u);
        return (gpu, mem.Download(simY, y.Length));
    }

    [Test]
    public void BackendMatchesTheReferenceForEveryOpAndCandidate(
        [Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op, [Range(0, 9)] int seed)
    {
        var rng = new Random(8000 + 100 * (int)op + seed);
        var p = RandomConvProblems.Next(rng, depthwise: seed % 4 == 3, op: op, maxSpatial: 12);
        var backend = new PtxConvBackend(_rt, maxWorkspaceBytes: seed % 2 == 0 ? PtxConvBackend.DefaultMaxWorkspaceBytes : PtxConvBackend.ColumnBytesPerImage(p));
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var y = RandomConvProblems.RandomData(rng, p.YShape.ElementCount);
        var bias = op != ConvOp.BackwardFilter && seed % 3 != 0 ? RandomConvProblems.RandomData(rng, p.BiasLength) : [];
        var expected = ReferenceConv.Run(p, x, w, y, bias);
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.AllowTF32);
        Assert.That(algorithms, Is.Not.Empty, $"the ptx backend offers no candidate for {p}");
        int ran = 0;
        var owned = new List<IDisposable>();
        foreach (var algorithm in algorithms)
        {
            var t = new ConvTensors(Make(p.XShape, op == ConvOp.BackwardData ? null : x), Make(p.WShape, op == ConvOp.BackwardFilter ? null : w),
                Make(p.YShape, op == ConvOp.Forward ? null : y), bias.Length > 0 ? Make(new TensorShape(bias.Length), bias) : null);
            _rt.Synchronize();
            backend.Run(p, algorithm, t);
            var output = op switch { ConvOp.Forward => t.Y, ConvOp.BackwardData => t.X, _ => t.W };
            var report = ErrorMetrics.Compare(Download(output, (int)output.Shape.ElementCount), expected);
            double tolerance = algorithm.Math == MathMode.TF32 ? 1e-2 : 1e-5;
            Assert.That(report.MaxRelative, Is.LessThan(tolerance), $"{algorithm.Key} on {p}: {report}");
            TestContext.Out.WriteLine($"{algorithm.Key} on {p}: error {report.MaxRelative:0.00e0}");
            ran++;
        }
        foreach (var t in owned) t.Dispose();
        Assert.That(ran, Is.EqualTo(algorithms.Count), "every candidate ran");

        Tensor Make(TensorShape shape, float[]? data)
        {
            var tensor = _rt.Memory.Allocate(shape);
            if (tensor is IDisposable d) owned.Add(d);
            _rt.Memory.CopyFromHost(data ?? Enumerable.Repeat(float.NaN, (int)shape.ElementCount).ToArray(), tensor);
            return tensor;
        }
    }
}
