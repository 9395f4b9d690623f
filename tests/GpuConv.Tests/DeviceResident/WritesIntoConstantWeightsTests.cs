using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// A weight tensor run with constantWeights: true, then written by an engine op (an SGD step AddScaled(w, -lr, dw),
/// Scale into w, an element-wise op, a pool, a convolution's output, BackwardFilter's dw, BackwardBias's db, each also
/// through a Reshape view of w): the next constant-weights forward ran on the CPU backend's prepared copy of the old
/// values (max relative error 18.8 in the walkthrough) while a GPU, which prepares nothing, read the new ones. Each case
/// now equals the float64 reference on the values w holds after the write (max relative error ≤ 1e-5 — fp32 sums of
/// 288 products), on the cpu backend, the reference backend and the engine's own choice.
/// </summary>
public class WritesIntoConstantWeightsTests
{
    const double Tolerance = 1e-5;

    // A 3x3 layer the cpu backend prepares W for on the tiers with channel-tile kernels (64 output channels, a sum over
    // 288 products: channel-tiled's panels or Winograd's transforms lead; asserted below). The Vector128 tier (NEON on
    // ARM64) has no such kernels and prepares nothing for it: there the cases still check the values after the write.
    static readonly ConvSpec Layer = new([3, 3], padBegin: [1]);
    static readonly TensorShape XShape = new(1, 32, 8, 8), WShape = new(64, 32, 3, 3), YShape = new(1, 64, 8, 8);
    static readonly int WCount = WShape.ElementCountInt;

    /// <summary>One write into w (a tensor of <see cref="WShape"/>, or a view of it) through the engine.</summary>
    public sealed record Write(string Name, Action<ConvEngine, Tensor> Into)
    {
        public override string ToString() => Name;
    }

    static Tensor Random(ConvEngine engine, TensorShape shape, int seed) => engine.Upload(HostTensor.Random(shape, seed));

    public static IEnumerable<Write> Writes()
    {
        // Element-wise ops with w as their output (in place where the op allows it).
        yield return new("AddScaled (an SGD step)", (e, w) => e.AddScaled(w, -0.5f, Random(e, w.Shape, 21)));
        yield return new("Scale in place", (e, w) => e.Scale(w, -2f, output: w));
        yield return new("Add in place", (e, w) => e.Add(w, Random(e, w.Shape, 22), output: w));
        yield return new("Relu in place", (e, w) => e.Relu(w, output: w));
        yield return new("Relu6 of another tensor", (e, w) => e.Relu6(e.Scale(Random(e, w.Shape, 23), 8f), output: w));
        yield return new("ReluBackward", (e, w) => e.ReluBackward(Random(e, w.Shape, 24), Random(e, w.Shape, 25), output: w));
        yield return new("Relu6Backward", (e, w) => e.Relu6Backward(Random(e, w.Shape, 26), w, output: w));
        yield return new("Silu in place", (e, w) => e.Silu(w, output: w));
        yield return new("SiluBackward", (e, w) => e.SiluBackward(Random(e, w.Shape, 27), w, output: w));
        // Pools whose output has w's shape [64, 32, 3, 3].
        var window = new PoolSpec([2, 2], [1, 1]);
        yield return new("MaxPool", (e, w) => e.MaxPool(window, Random(e, new TensorShape(64, 32, 4, 4), 28), output: w));
        yield return new("AvgPool", (e, w) => e.AvgPool(window, Random(e, new TensorShape(64, 32, 4, 4), 29), output: w));
        yield return new("MaxPoolBackward", (e, w) => e.MaxPoolBackward(window, Random(e, new TensorShape(64, 32, 2, 2), 30), Random(e, w.Shape, 31), output: w));
        yield return new("AvgPoolBackward", (e, w) => e.AvgPoolBackward(window, Random(e, new TensorShape(64, 32, 2, 2), 32), w.Shape, output: w));
        yield return new("GlobalAvgPool into a view", (e, w) => e.GlobalAvgPool(Random(e, new TensorShape(64, 288, 2, 2), 33), output: e.Reshape(w, new TensorShape(64, 288, 1, 1))));
        // Convolutions writing w: BackwardFilter's dw (the gradient into the weight), a forward's y, a backward-data's dx.
        yield return new("BackwardFilter", (e, w) => e.BackwardFilter(Layer, Random(e, XShape, 34), Random(e, YShape, 35), w.Shape, output: w));
        yield return new("BackwardFilter accumulating", (e, w) => e.BackwardFilter(Layer, Random(e, XShape, 34), Random(e, YShape, 35), w.Shape, output: w, accumulate: true));
        var valid = new ConvSpec([3, 3]);   // [64, 8, 5, 5] * [32, 8, 3, 3] → [64, 32, 3, 3]
        yield return new("Forward", (e, w) => e.Forward(valid, Random(e, new TensorShape(64, 8, 5, 5), 36), Random(e, new TensorShape(32, 8, 3, 3), 37), output: w));
        yield return new("Forward accumulating", (e, w) => e.Forward(valid, Random(e, new TensorShape(64, 8, 5, 5), 36), Random(e, new TensorShape(32, 8, 3, 3), 37), output: w, accumulate: true));
        yield return new("ForwardBiasActivation", (e, w) => e.ForwardBiasActivation(valid, Random(e, new TensorShape(64, 8, 5, 5), 36), Random(e, new TensorShape(32, 8, 3, 3), 37),
            Random(e, new TensorShape(32), 38), Activation.Relu, output: w));
        var pointwise = new ConvSpec([1, 1]);   // dx of [64, 32, 3, 3] from dy [64, 4, 3, 3] and w' [4, 32, 1, 1]
        yield return new("BackwardData", (e, w) => e.BackwardData(pointwise, Random(e, new TensorShape(64, 4, 3, 3), 39), Random(e, new TensorShape(4, 32, 1, 1), 40), w.Shape, output: w));
        yield return new("BackwardData accumulating", (e, w) => e.BackwardData(pointwise, Random(e, new TensorShape(64, 4, 3, 3), 39), Random(e, new TensorShape(4, 32, 1, 1), 40), w.Shape, output: w, accumulate: true));
        yield return new("BackwardBias into a view", (e, w) => e.BackwardBias(Random(e, new TensorShape(2, WCount, 1, 1), 41), output: e.Reshape(w, new TensorShape(WCount))));
        yield return new("Run (BackwardFilter into w)", (e, w) => e.Run(ConvProblem.Create(Layer, XShape, WShape, ConvOp.BackwardFilter),
            new ConvTensors(Random(e, XShape, 42), w, Random(e, YShape, 43))));
        // Through a Reshape view of w: the view shares w's array.
        yield return new("Scale through a view", (e, w) => { var v = e.Reshape(w, new TensorShape(WCount)); e.Scale(v, 3f, output: v); });
        yield return new("AddScaled through a view", (e, w) => { var v = e.Reshape(w, new TensorShape(64, 288)); e.AddScaled(v, -1f, Random(e, v.Shape, 44)); });
        yield return new("Upload", (e, w) => e.Upload(HostTensor.Random(w.Shape, 45).Data, w));
        yield return new("Upload through a view", (e, w) => e.Upload(HostTensor.Random(w.Shape, 46).Data, e.Reshape(w, new TensorShape(64, 288, 1, 1))));
    }

    static ConvEngineOptions Options(string? backend) => new()
    {
        Device = DeviceKind.Cpu,
        Backend = backend,
        PersistPlans = false,
        Warning = m => Assert.Fail($"unexpected warning: {m}"),
    };

    [Test]
    public void AConstantWeightsForwardAfterTheWrite_RunsOnTheNewValues_OnTheCpuBackend([ValueSource(nameof(Writes))] Write write) =>
        Check(write, "cpu");

    [Test]
    public void AConstantWeightsForwardAfterTheWrite_RunsOnTheNewValues_OnTheReferenceBackend([ValueSource(nameof(Writes))] Write write) =>
        Check(write, "reference");

    [Test]
    public void AConstantWeightsForwardAfterTheWrite_RunsOnTheNewValues_OnTheEnginesChoice([ValueSource(nameof(Writes))] Write write) =>
        Check(write, null);

    static void Check(Write write, string? backend)
    {
        using var engine = ConvEngine.Open(Options(backend));
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        var hx = HostTensor.Random(XShape, 1);
        using var x = engine.Upload(hx);
        using var w = engine.Upload(HostTensor.Random(WShape, 2));
        using var y = engine.Allocate(YShape);
        int packs = cpu.PreparedWeightPacks;
        engine.Forward(Layer, x, w, output: y, constantWeights: true);
        if (backend != "reference" && ChannelTileTier.HasKernels)
            Assert.That(cpu.PreparedWeightPacks, Is.GreaterThan(packs), $"the plan {engine.LastPlan?.Algorithm.Key} prepared no W, so the case proves nothing");
        var before = engine.Download(w).Data;

        write.Into(engine, w);
        var after = engine.Download(w).Data;
        Assert.That(after, Is.Not.EqualTo(before), "the write changed nothing, so the case proves nothing");
        engine.Forward(Layer, x, w, output: y, constantWeights: true);

        var problem = ConvProblem.Create(Layer, XShape, WShape);
        var error = ErrorMetrics.Compare(engine.Download(y).Data, ReferenceConv.Forward(problem, hx.Data, after));
        Assert.That(error.MaxRelative, Is.LessThan(Tolerance),
            $"{write.Name} then a constant-weights forward on {engine.LastPlan?.Algorithm.Key}: {error} against the float64 reference on the written values");
    }

    // The engine's writes leave other tensors' prepared copies alone: a constant W not written stays prepared (no repack).
    [Test]
    public void AWriteIntoAnotherTensor_KeepsTheConstantWeightsPrepared()
    {
        if (!ChannelTileTier.HasKernels) Assert.Ignore("this tier prepares no W for the layer (no channel-tile kernels): nothing to keep");
        using var engine = ConvEngine.Open(Options("cpu"));
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        using var x = engine.Upload(HostTensor.Random(XShape, 1));
        using var w = engine.Upload(HostTensor.Random(WShape, 2));
        using var other = engine.Upload(HostTensor.Random(WShape, 3));
        using var y = engine.Allocate(YShape);
        engine.Forward(Layer, x, w, output: y, constantWeights: true);
        int packs = cpu.PreparedWeightPacks;
        engine.AddScaled(other, -0.5f, w);
        engine.Scale(y, 2f, output: y);
        engine.Forward(Layer, x, w, output: y, constantWeights: true);
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(packs), "w was packed again though nothing wrote it");
        // Written, it is packed again once.
        engine.AddScaled(w, -0.5f, other);
        engine.Forward(Layer, x, w, output: y, constantWeights: true);
        engine.Forward(Layer, x, w, output: y, constantWeights: true);
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(packs + 1));
    }
}
