using GpuConv.Tensors;

namespace GpuConv.Networks.ResNet50;

/// <summary>
/// <see cref="ResNet50Model"/> resident in an engine's memory for a fixed input shape (<see cref="DeviceNetwork"/>:
/// BatchNorm folded, weights uploaded once, every buffer allocated once and reused once dead). <see cref="Run"/> issues the whole network on
/// the engine's stream — fused conv + bias + ReLU, the stem's max pool, residual ends as relu(skip + conv + bias)
/// written over the skip tensor (<c>accumulate: true</c>), the global average pool, the classifier as a 1×1
/// convolution — without a host wait.
/// </summary>
public sealed class DeviceResNet50 : DeviceNetwork
{
    sealed record Block(Layer Reduce, Layer Spatial, Layer Expand, Layer? Downsample, Tensor ReduceOut, Tensor SpatialOut, Tensor? DownsampleOut);

    readonly Layer stem = null!, fc = null!;
    readonly Tensor stemOut = null!, pooled = null!, headPooled = null!;
    readonly Block[] blocks = [];

    public DeviceResNet50(ConvEngine engine, ResNet50Model model, TensorShape inputShape) : base(engine, inputShape)
    {
        try
        {
            stem = Upload(model.Stem);
            stemOut = Take(OutputShape(model.Stem, inputShape));
            pooled = Take(ResNet50Model.StemPool.OutputShape(stemOut.Shape));
            Release(stemOut);
            var x = pooled;
            blocks = new Block[model.Blocks.Count];
            for (int i = 0; i < blocks.Length; i++)
            {
                // The buffers taken and released in the order Run uses them: the reduction dies after the 3x3, the 3x3's
                // output after the expansion, and a block's input after its downsample projection (without one it is the
                // skip, written over).
                var b = model.Blocks[i];
                var reduceOut = Take(OutputShape(b.Reduce, x.Shape));
                var spatialOut = Take(OutputShape(b.Spatial, reduceOut.Shape));
                Release(reduceOut);
                Tensor? downOut = null;
                if (b.Downsample is { } d)
                {
                    downOut = Take(OutputShape(d, x.Shape));
                    Release(x);
                }
                Release(spatialOut);
                blocks[i] = new Block(Upload(b.Reduce), Upload(b.Spatial), Upload(b.Expand), b.Downsample is { } dd ? Upload(dd) : null, reduceOut, spatialOut, downOut);
                x = downOut ?? x;
            }
            var shape = x.Shape;
            headPooled = Take(new TensorShape(shape.Dims[0], shape.Dims[1], 1, 1));
            fc = UploadClassifier("fc", ResNet50Model.Fc, model.FcWeight, model.FcBias);
            Logits = Allocate(new TensorShape(shape.Dims[0], model.Classes, 1, 1));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override void Run()
    {
        Conv(stem, Input, stemOut, Activation.Relu);
        using (Step("maxpool")) Engine.MaxPool(ResNet50Model.StemPool, stemOut, pooled);
        var x = pooled;
        foreach (var b in blocks)
        {
            Conv(b.Reduce, x, b.ReduceOut, Activation.Relu);
            Conv(b.Spatial, b.ReduceOut, b.SpatialOut, Activation.Relu);
            // The skip: the block's input itself (overwritten below: nothing reads it afterwards), or its projection.
            var skip = x;
            if (b.Downsample is { } d)
                skip = Linear(d, x, b.DownsampleOut!);
            // relu(skip + conv3(h) + bias), written over the skip tensor.
            using (Step(b.Expand.Name))
                Engine.ForwardBiasActivation(b.Expand.Spec, b.SpatialOut, b.Expand.Weight, b.Expand.Bias, Activation.Relu, output: skip, constantWeights: true, accumulate: true);
            x = skip;
        }
        using (Step("avgpool")) Engine.GlobalAvgPool(x, headPooled);
        Linear(fc, headPooled, Logits);
    }
}
