using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>
/// A network resident in an engine's memory for a fixed input shape: the parts every network shares — the input and
/// logits tensors, BatchNorm folded into each convolution (<see cref="BatchNormFolding"/>) and the folded weights
/// uploaded once (run with <c>constantWeights: true</c>), every buffer owned and freed together. A subclass allocates
/// its activations and <see cref="Logits"/> in its constructor and issues the layers in <see cref="Run"/>.
/// </summary>
public abstract class DeviceNetwork : IDisposable
{
    /// <summary>A convolution as it runs: its spec and the folded weight and bias in engine memory.</summary>
    protected sealed record Layer(ConvSpec Spec, Tensor Weight, Tensor Bias);

    readonly List<Tensor> owned = [];

    /// <summary>Allocates the input; a subclass's constructor then builds the rest and calls <see cref="Dispose"/> if that fails.</summary>
    protected DeviceNetwork(ConvEngine engine, TensorShape inputShape)
    {
        Engine = engine;
        Input = Own(engine.Allocate(inputShape));
    }

    protected ConvEngine Engine { get; }

    /// <summary>Where the caller uploads a batch of images [N, 3, H, W].</summary>
    public Tensor Input { get; }
    /// <summary>The classifier's output [N, classes, 1, 1]; valid after <see cref="Run"/> once downloaded (the download waits).</summary>
    public Tensor Logits { get; protected set; } = null!;

    /// <summary>Issues the network on the engine's stream and returns without waiting. <see cref="Input"/> is not changed.</summary>
    public abstract void Run();

    /// <summary>The convolution with its BatchNorm folded in, uploaded once.</summary>
    protected Layer Upload(ConvBn c)
    {
        var (w, b) = BatchNormFolding.Fold(c.Spec, c.Weight, bias: null, c.BatchNorm);
        return new Layer(c.Spec, Own(Engine.Upload(w)), Own(Engine.Upload(b)));
    }

    /// <summary>A 1×1 convolution with bias as the classifier (fully connected on [N, C, 1, 1]), uploaded once.</summary>
    protected Layer UploadClassifier(ConvSpec spec, HostTensor weight, HostTensor bias) =>
        new(spec, Own(Engine.Upload(weight)), Own(Engine.Upload(bias)));

    /// <summary>A buffer of <paramref name="shape"/>, freed with the network.</summary>
    protected Tensor Allocate(TensorShape shape) => Own(Engine.Allocate(shape));

    /// <summary>The output shape of <paramref name="c"/> on an input of <paramref name="x"/>.</summary>
    protected static TensorShape OutputShape(ConvBn c, TensorShape x) => ConvProblem.Create(c.Spec, x, c.Weight.Shape, ConvOp.Forward).OutputShape;

    /// <summary>activation(conv(x) + bias) into y.</summary>
    protected void Conv(Layer l, Tensor x, Tensor y, Activation activation) =>
        Engine.ForwardBiasActivation(l.Spec, x, l.Weight, l.Bias, activation, output: y, constantWeights: true);

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
