using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>
/// A network resident in an engine's memory for a fixed input shape: the parts every network shares — the input and
/// logits tensors, BatchNorm folded into each convolution (<see cref="BatchNormFolding"/>) and the folded weights
/// uploaded once (run with <c>constantWeights: true</c>), every buffer owned and freed together. A subclass allocates
/// its activations and <see cref="Logits"/> in its constructor and issues the layers in <see cref="Run"/>.
/// Activations come from <see cref="Take"/> and go back with <see cref="Release"/> where the run reads them for the last
/// time, in the order <see cref="Run"/> issues the layers: a later layer then writes into a buffer a recent layer used,
/// still in cache, as a runtime's memory planner does. On the CPU path writing a buffer the previous run left in memory
/// costs its reads too (each line is fetched before it is written): MobileNetV2 touched ~22 MB of activations per image
/// with a buffer each, more than the caches keep.
/// </summary>
public abstract class DeviceNetwork : IDisposable
{
    /// <summary>A convolution as it runs: its name (the model's), its spec and the folded weight and bias in engine memory.</summary>
    protected sealed record Layer(string Name, ConvSpec Spec, Tensor Weight, Tensor Bias);

    readonly List<Tensor> owned = [];
    /// <summary>Released activation buffers by element count, the most recently released last (<see cref="Take"/>).</summary>
    readonly Dictionary<long, List<Tensor>> released = [];

    /// <summary>Allocates the input; a subclass's constructor then builds the rest and calls <see cref="Dispose"/> if that fails.</summary>
    protected DeviceNetwork(ConvEngine engine, TensorShape inputShape)
    {
        Engine = engine;
        Input = Own(engine.Allocate(inputShape));
    }

    protected ConvEngine Engine { get; }

    /// <summary>Bytes of the activation buffers <see cref="Take"/> allocated: what the network's activations hold in engine memory.</summary>
    public long ActivationBytes { get; private set; }
    /// <summary>Bytes the activations <see cref="Take"/> handed out would hold with a buffer each (none reused).</summary>
    public long ActivationBytesWithoutReuse { get; private set; }

    /// <summary>Where the caller uploads a batch of images [N, 3, H, W].</summary>
    public Tensor Input { get; }
    /// <summary>The classifier's output [N, classes, 1, 1]; valid after <see cref="Run"/> once downloaded (the download waits).</summary>
    public Tensor Logits { get; protected set; } = null!;

    /// <summary>Issues the network on the engine's stream and returns without waiting. <see cref="Input"/> is not changed.</summary>
    public abstract void Run();

    /// <summary>
    /// Where <see cref="Run"/> times its steps (<c>--profile</c>), each between two <see cref="ConvEngine.Synchronize"/>
    /// calls; null (the default): no timing, no synchronization, nothing allocated.
    /// </summary>
    public NetworkProfile? Profile { get; set; }

    /// <summary>Times one step of <see cref="Run"/> under <paramref name="label"/> (a string made once, at placement) when profiling.</summary>
    protected StepTimer Step(string label) => new(this, label);

    /// <summary>Disposed at the end of a step: records its time into <see cref="Profile"/>, if any.</summary>
    protected readonly struct StepTimer : IDisposable
    {
        readonly DeviceNetwork network;
        readonly string label;
        readonly long start;

        public StepTimer(DeviceNetwork network, string label)
        {
            this.network = network;
            this.label = label;
            if (network.Profile is null) return;
            network.Engine.Synchronize();   // the previous steps' work is not this step's
            start = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        public void Dispose()
        {
            if (network.Profile is not { } profile) return;
            network.Engine.Synchronize();
            profile.Record(label, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
    }

    /// <summary>The convolution with its BatchNorm folded in, uploaded once.</summary>
    protected Layer Upload(ConvBn c)
    {
        var (w, b) = BatchNormFolding.Fold(c.Spec, c.Weight, bias: null, c.BatchNorm);
        return new Layer(c.Name, c.Spec, Own(Engine.Upload(w)), Own(Engine.Upload(b)));
    }

    /// <summary>A 1×1 convolution with bias as the classifier (fully connected on [N, C, 1, 1]), uploaded once.</summary>
    protected Layer UploadClassifier(string name, ConvSpec spec, HostTensor weight, HostTensor bias) => UploadConv(name, spec, weight, bias);

    /// <summary>A convolution with bias and no BatchNorm (a squeeze-and-excitation block's 1×1s, a classifier), uploaded once.</summary>
    protected Layer UploadConv(string name, ConvSpec spec, HostTensor weight, HostTensor bias) =>
        new(name, spec, Own(Engine.Upload(weight)), Own(Engine.Upload(bias)));

    /// <summary>Parameters other than a convolution's (a LayerNorm's weight and bias), uploaded once.</summary>
    protected Tensor UploadValues(HostTensor values) => Own(Engine.Upload(values));

    /// <summary>
    /// A squeeze-and-excitation block as it runs: its two 1×1 layers, the small [N, ·, 1, 1] buffers between them, and
    /// the profile's labels of its pool and its scaling.
    /// </summary>
    protected sealed record Squeeze(SqueezeExcitation Block, Layer Reduce, Layer Expand, Tensor Pooled, Tensor Reduced, Tensor Gate,
        string PoolLabel, string ScaleLabel);

    /// <summary>
    /// <paramref name="se"/>'s layers uploaded and its buffers taken for an input of <paramref name="x"/>, in the order
    /// <see cref="SqueezeExcite"/> uses them: the pooled values die in the reduction, the reduced ones in the expansion
    /// (whose gate may take the pooled values' buffer), the gate in the scaling.
    /// </summary>
    protected Squeeze PlaceSqueeze(SqueezeExcitation se, TensorShape x)
    {
        int n = x.Dims[0];
        var pooled = Take(new TensorShape(n, se.Channels, 1, 1));
        var reduced = Take(new TensorShape(n, se.Squeeze, 1, 1));
        Release(pooled);
        var gate = Take(new TensorShape(n, se.Channels, 1, 1));
        Release(reduced);
        Release(gate);
        return new Squeeze(se, UploadConv($"{se.Name}.fc1", SqueezeExcitation.Spec, se.ReduceWeight, se.ReduceBias),
            UploadConv($"{se.Name}.fc2", SqueezeExcitation.Spec, se.ExpandWeight, se.ExpandBias), pooled, reduced, gate,
            $"{se.Name}.pool", $"{se.Name}.scale");
    }

    /// <summary>
    /// x · gate(expand(inner(reduce(GlobalAvgPool(x))))) written over x: the pool, the reduction and the expansion with
    /// their activations fused (the gate: hardsigmoid or sigmoid), then <see cref="ConvEngine.ScaleChannels"/> in place — all on the stream.
    /// </summary>
    protected void SqueezeExcite(Squeeze s, Tensor x)
    {
        using (Step(s.PoolLabel)) Engine.GlobalAvgPool(x, s.Pooled);
        Conv(s.Reduce, s.Pooled, s.Reduced, s.Block.Inner);
        Conv(s.Expand, s.Reduced, s.Gate, s.Block.Gate == SqueezeGate.Hardsigmoid ? Activation.Hardsigmoid : Activation.Sigmoid);
        using (Step(s.ScaleLabel)) Engine.ScaleChannels(x, s.Gate, output: x);
    }

    /// <summary>A buffer of <paramref name="shape"/>, freed with the network.</summary>
    protected Tensor Allocate(TensorShape shape) => Own(Engine.Allocate(shape));

    /// <summary>
    /// An activation buffer of <paramref name="shape"/>: the most recently released one of as many elements (seen with this
    /// shape: <see cref="ConvEngine.Reshape"/>), else a new one. Call in the order the run writes the buffers.
    /// </summary>
    protected Tensor Take(TensorShape shape)
    {
        long bytes = shape.ElementCount * sizeof(float);
        ActivationBytesWithoutReuse += bytes;
        if (!released.TryGetValue(shape.ElementCount, out var list) || list.Count == 0)
        {
            ActivationBytes += bytes;
            return Allocate(shape);
        }
        var t = list[^1];
        list.RemoveAt(list.Count - 1);
        return t.Shape == shape ? t : Engine.Reshape(t, shape);
    }

    /// <summary><paramref name="t"/> (from <see cref="Take"/>) is read for the last time by the layer just placed: later layers may write into it.</summary>
    protected void Release(Tensor t)
    {
        if (!released.TryGetValue(t.Shape.ElementCount, out var list)) released[t.Shape.ElementCount] = list = [];
        list.Add(t);
    }

    /// <summary>The output shape of <paramref name="c"/> on an input of <paramref name="x"/>.</summary>
    protected static TensorShape OutputShape(ConvBn c, TensorShape x) => ConvProblem.Create(c.Spec, x, c.Weight.Shape, ConvOp.Forward).OutputShape;

    /// <summary>activation(conv(x) + bias) into y, a step of the profile under the layer's name.</summary>
    protected void Conv(Layer l, Tensor x, Tensor y, Activation activation)
    {
        using (Step(l.Name)) Engine.ForwardBiasActivation(l.Spec, x, l.Weight, l.Bias, activation, output: y, constantWeights: true);
    }

    /// <summary>conv(x) + bias into y, or added onto y (<paramref name="accumulate"/>: a residual add), a step under the layer's name.</summary>
    protected Tensor Linear(Layer l, Tensor x, Tensor y, bool accumulate = false)
    {
        using (Step(l.Name)) return Engine.Forward(l.Spec, x, l.Weight, l.Bias, output: y, constantWeights: true, accumulate: accumulate);
    }

    Tensor Own(Tensor t)
    {
        owned.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
        owned.Clear();
        GC.SuppressFinalize(this);
    }
}
