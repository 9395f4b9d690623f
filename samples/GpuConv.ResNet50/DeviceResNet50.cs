using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Tensors;

namespace GpuConv.ResNet50;

/// <summary>
/// <see cref="ResNet50Model"/> resident in an engine's memory for a fixed input shape: every BatchNorm folded into its
/// convolution (<see cref="BatchNormFolding"/>), the folded weights uploaded once (<c>constantWeights: true</c>), and
/// every activation buffer allocated once. <see cref="Run"/> issues the whole network on the engine's stream — fused
/// conv + bias + ReLU, the stem's max pool, residual ends as relu(skip + conv + bias) written over the skip tensor
/// (<c>accumulate: true</c>), the global average pool, the classifier as a 1×1 convolution — without a host wait.
/// </summary>
public sealed class DeviceResNet50 : IDisposable
{
    sealed record Layer(ConvSpec Spec, Tensor Weight, Tensor Bias);
    sealed record Block(Layer Reduce, Layer Spatial, Layer Expand, Layer? Downsample, Tensor ReduceOut, Tensor SpatialOut, Tensor? DownsampleOut);

    readonly ConvEngine engine;
    readonly List<Tensor> owned = [];
    readonly Layer stem, fc;
    readonly Tensor stemOut, pooled, headPooled;
    readonly Block[] blocks;

    public DeviceResNet50(ConvEngine engine, ResNet50Model model, TensorShape inputShape)
    {
        this.engine = engine;
        try
        {
            Input = Own(engine.Allocate(inputShape));
            stem = Upload(model.Stem);
            stemOut = Own(engine.Allocate(OutputShape(model.Stem.Spec, inputShape, model.Stem.Weight)));
            pooled = Own(engine.Allocate(ResNet50Model.StemPool.OutputShape(stemOut.Shape)));
            var shape = pooled.Shape;
            blocks = new Block[model.Blocks.Count];
            for (int i = 0; i < blocks.Length; i++)
            {
                var b = model.Blocks[i];
                var reduceOut = Own(engine.Allocate(OutputShape(b.Reduce.Spec, shape, b.Reduce.Weight)));
                var spatialOut = Own(engine.Allocate(OutputShape(b.Spatial.Spec, reduceOut.Shape, b.Spatial.Weight)));
                Tensor? downOut = b.Downsample is { } d ? Own(engine.Allocate(OutputShape(d.Spec, shape, d.Weight))) : null;
                blocks[i] = new Block(Upload(b.Reduce), Upload(b.Spatial), Upload(b.Expand), b.Downsample is { } dd ? Upload(dd) : null, reduceOut, spatialOut, downOut);
                shape = OutputShape(b.Expand.Spec, spatialOut.Shape, b.Expand.Weight);
            }
            headPooled = Own(engine.Allocate(new TensorShape(shape.Dims[0], shape.Dims[1], 1, 1)));
            fc = new Layer(ResNet50Model.Fc, Own(engine.Upload(model.FcWeight)), Own(engine.Upload(model.FcBias)));
            Logits = Own(engine.Allocate(new TensorShape(shape.Dims[0], model.Classes, 1, 1)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Where the caller uploads a batch of images [N, 3, H, W].</summary>
    public Tensor Input { get; }
    /// <summary>The classifier's output [N, classes, 1, 1]; valid after <see cref="Run"/> once downloaded (the download waits).</summary>
    public Tensor Logits { get; }

    /// <summary>Issues the network on the engine's stream and returns without waiting. <see cref="Input"/> is not changed.</summary>
    public void Run()
    {
        engine.ForwardBiasActivation(stem.Spec, Input, stem.Weight, stem.Bias, Activation.Relu, output: stemOut, constantWeights: true);
        engine.MaxPool(ResNet50Model.StemPool, stemOut, pooled);
        var x = pooled;
        foreach (var b in blocks)
        {
            Relu(b.Reduce, x, b.ReduceOut);
            Relu(b.Spatial, b.ReduceOut, b.SpatialOut);
            // The skip: the block's input itself (overwritten below: nothing reads it afterwards), or its projection.
            var skip = x;
            if (b.Downsample is { } d)
                skip = engine.Forward(d.Spec, x, d.Weight, d.Bias, output: b.DownsampleOut, constantWeights: true);
            // relu(skip + conv3(h) + bias), written over the skip tensor.
            engine.ForwardBiasActivation(b.Expand.Spec, b.SpatialOut, b.Expand.Weight, b.Expand.Bias, Activation.Relu, output: skip, constantWeights: true, accumulate: true);
            x = skip;
        }
        engine.GlobalAvgPool(x, headPooled);
        engine.Forward(fc.Spec, headPooled, fc.Weight, fc.Bias, output: Logits, constantWeights: true);
    }

    void Relu(Layer l, Tensor x, Tensor y) =>
        engine.ForwardBiasActivation(l.Spec, x, l.Weight, l.Bias, Activation.Relu, output: y, constantWeights: true);

    Layer Upload(ConvBn c)
    {
        var (w, b) = BatchNormFolding.Fold(c.Spec, c.Weight, bias: null, c.BatchNorm);
        return new Layer(c.Spec, Own(engine.Upload(w)), Own(engine.Upload(b)));
    }

    static TensorShape OutputShape(ConvSpec spec, TensorShape x, HostTensor w) => ConvProblem.Create(spec, x, w.Shape, ConvOp.Forward).OutputShape;

    Tensor Own(Tensor t)
    {
        owned.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
        owned.Clear();
    }
}
