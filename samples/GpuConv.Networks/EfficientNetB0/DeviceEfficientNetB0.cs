using GpuConv.Tensors;

namespace GpuConv.Networks.EfficientNetB0;

/// <summary>
/// <see cref="EfficientNetB0Model"/> resident in an engine's memory for a fixed input shape (<see cref="DeviceNetwork"/>:
/// BatchNorm folded, weights uploaded once, every buffer allocated once and reused once dead). <see cref="Run"/> issues the
/// whole network on the engine's stream — fused conv + bias + SiLU for the stem, expansions, depthwise layers and the
/// last 1×1; each squeeze-and-excitation block as global average pool, 1×1 + bias + SiLU, 1×1 + bias + sigmoid
/// (fused) and ScaleChannels in place; each projection as conv + bias, added onto the block's input
/// (<c>accumulate: true</c>) where the block has a residual; the head's pool and the classifier as a 1×1 convolution —
/// without a host wait.
/// </summary>
public sealed class DeviceEfficientNetB0 : DeviceNetwork
{
    /// <summary>A block's layers and buffers; <c>Out</c> is null where the projection is added onto the block's input.</summary>
    sealed record Block(Layer? Expand, Layer Depthwise, Squeeze Se, Layer Project, Tensor? ExpandOut, Tensor DepthwiseOut, Tensor? Out);

    readonly Layer stem = null!, last = null!, classifier = null!;
    readonly Tensor stemOut = null!, lastOut = null!, headPooled = null!;
    readonly Block[] blocks = [];

    public DeviceEfficientNetB0(ConvEngine engine, EfficientNetB0Model model, TensorShape inputShape) : base(engine, inputShape)
    {
        try
        {
            stem = Upload(model.Stem);
            stemOut = Take(OutputShape(model.Stem, inputShape));
            var x = stemOut;
            blocks = new Block[model.Blocks.Count];
            for (int i = 0; i < blocks.Length; i++)
            {
                // The buffers taken and released in the order Run uses them: a block's expansion dies after its depthwise
                // layer, the depthwise output (scaled in place by the SE block) after the projection, and a block without
                // the residual add reads its input last in its first layer.
                var b = model.Blocks[i];
                Tensor? expandOut = b.Expand is { } e ? Take(OutputShape(e, x.Shape)) : null;
                if (expandOut is not null && !b.Residual) Release(x);
                var depthwiseOut = Take(OutputShape(b.Depthwise, (expandOut ?? x).Shape));
                if (expandOut is not null) Release(expandOut);
                else if (!b.Residual) Release(x);
                var se = PlaceSqueeze(b.Se, depthwiseOut.Shape);
                Tensor? output = b.Residual ? null : Take(OutputShape(b.Project, depthwiseOut.Shape));
                Release(depthwiseOut);
                blocks[i] = new Block(b.Expand is { } ee ? Upload(ee) : null, Upload(b.Depthwise), se, Upload(b.Project), expandOut, depthwiseOut, output);
                x = output ?? x;
            }
            int n = inputShape.Dims[0];
            last = Upload(model.Last);
            lastOut = Take(OutputShape(model.Last, x.Shape));
            Release(x);
            headPooled = Take(new TensorShape(n, EfficientNetB0Model.LastChannels, 1, 1));
            classifier = UploadClassifier(EfficientNetB0Model.Classifier, model.ClassifierWeight, model.ClassifierBias);
            Logits = Allocate(new TensorShape(n, model.Classes, 1, 1));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override void Run()
    {
        Conv(stem, Input, stemOut, Activation.Silu);
        var x = stemOut;
        foreach (var b in blocks)
        {
            var h = x;
            if (b.Expand is { } e)
            {
                Conv(e, x, b.ExpandOut!, Activation.Silu);
                h = b.ExpandOut!;
            }
            Conv(b.Depthwise, h, b.DepthwiseOut, Activation.Silu);
            SqueezeExcite(b.Se, b.DepthwiseOut);
            // The linear bottleneck: conv + bias, no activation; with the residual, x + conv + bias written over x (nothing
            // reads the block's input afterwards).
            var p = b.Project;
            x = b.Out is { } y
                ? Engine.Forward(p.Spec, b.DepthwiseOut, p.Weight, p.Bias, output: y, constantWeights: true)
                : Engine.Forward(p.Spec, b.DepthwiseOut, p.Weight, p.Bias, output: x, constantWeights: true, accumulate: true);
        }
        Conv(last, x, lastOut, Activation.Silu);
        Engine.GlobalAvgPool(lastOut, headPooled);
        Engine.Forward(classifier.Spec, headPooled, classifier.Weight, classifier.Bias, output: Logits, constantWeights: true);
    }
}
