using GpuConv.Tensors;

namespace GpuConv.Networks.MobileNetV3;

/// <summary>
/// <see cref="MobileNetV3Model"/> resident in an engine's memory for a fixed input shape (<see cref="DeviceNetwork"/>:
/// BatchNorm folded, weights uploaded once, every buffer allocated once and reused once dead). <see cref="Run"/> issues the
/// whole network on the engine's stream — fused conv + bias + ReLU for the "RE" layers and conv + bias + hardswish for
/// the "HS" ones; each squeeze-and-excitation block as global average pool, 1×1 + bias + ReLU, 1×1 + bias + hardsigmoid
/// and ScaleChannels in place; each projection as conv + bias, added onto the block's input
/// (<c>accumulate: true</c>) where the block has a residual; the head's pool and two 1×1 linears with a hardswish between
/// — without a host wait.
/// </summary>
public sealed class DeviceMobileNetV3 : DeviceNetwork
{
    /// <summary>A block's layers and buffers; <c>Out</c> is null where the projection is added onto the block's input.</summary>
    sealed record Block(Layer? Expand, Layer Depthwise, Squeeze? Se, Layer Project, bool Hardswish, Tensor? ExpandOut, Tensor DepthwiseOut, Tensor? Out);

    readonly Layer stem = null!, last = null!, hidden = null!, classifier = null!;
    readonly Tensor stemOut = null!, lastOut = null!, headPooled = null!, hiddenOut = null!;
    readonly Block[] blocks = [];

    public DeviceMobileNetV3(ConvEngine engine, MobileNetV3Model model, TensorShape inputShape) : base(engine, inputShape)
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
                var se = b.Se is { } s ? PlaceSqueeze(s, depthwiseOut.Shape) : null;
                Tensor? output = b.Residual ? null : Take(OutputShape(b.Project, depthwiseOut.Shape));
                Release(depthwiseOut);
                blocks[i] = new Block(b.Expand is { } ee ? Upload(ee) : null, Upload(b.Depthwise), se, Upload(b.Project), b.Hardswish, expandOut, depthwiseOut, output);
                x = output ?? x;
            }
            int n = inputShape.Dims[0];
            last = Upload(model.Last);
            lastOut = Take(OutputShape(model.Last, x.Shape));
            Release(x);
            headPooled = Take(new TensorShape(n, MobileNetV3Model.LastChannels, 1, 1));
            Release(lastOut);
            hiddenOut = Take(new TensorShape(n, MobileNetV3Model.HiddenChannels, 1, 1));
            Release(headPooled);
            hidden = UploadConv(MobileNetV3Model.Linear, model.HiddenWeight, model.HiddenBias);
            classifier = UploadClassifier(MobileNetV3Model.Linear, model.ClassifierWeight, model.ClassifierBias);
            Logits = Allocate(new TensorShape(n, model.Classes, 1, 1));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>conv + bias + hardswish or ReLU, the activation fused into the convolution's epilogue.</summary>
    void Activated(Layer l, Tensor x, Tensor y, bool hardswish) => Conv(l, x, y, hardswish ? Activation.Hardswish : Activation.Relu);

    public override void Run()
    {
        Activated(stem, Input, stemOut, hardswish: true);
        var x = stemOut;
        foreach (var b in blocks)
        {
            var h = x;
            if (b.Expand is { } e)
            {
                Activated(e, x, b.ExpandOut!, b.Hardswish);
                h = b.ExpandOut!;
            }
            Activated(b.Depthwise, h, b.DepthwiseOut, b.Hardswish);
            if (b.Se is { } se) SqueezeExcite(se, b.DepthwiseOut);
            // The linear bottleneck: conv + bias, no activation; with the residual, x + conv + bias written over x (nothing
            // reads the block's input afterwards).
            var p = b.Project;
            x = b.Out is { } y
                ? Engine.Forward(p.Spec, b.DepthwiseOut, p.Weight, p.Bias, output: y, constantWeights: true)
                : Engine.Forward(p.Spec, b.DepthwiseOut, p.Weight, p.Bias, output: x, constantWeights: true, accumulate: true);
        }
        Activated(last, x, lastOut, hardswish: true);
        Engine.GlobalAvgPool(lastOut, headPooled);
        Activated(hidden, headPooled, hiddenOut, hardswish: true);
        Engine.Forward(classifier.Spec, hiddenOut, classifier.Weight, classifier.Bias, output: Logits, constantWeights: true);
    }
}
