using GpuConv.Tensors;

namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// An <see cref="InvertedResidualModel"/> (MobileNetV2, MobileNetV3, EfficientNet) resident in an engine's memory for a
/// fixed input shape (<see cref="DeviceNetwork"/>: BatchNorm folded, weights uploaded once, every buffer allocated once
/// and reused once dead). <see cref="Run"/> issues the whole network on the engine's stream without a host wait: each
/// convolution with its bias and activation fused (conv + bias + ReLU6, ReLU, hardswish or SiLU); each
/// squeeze-and-excitation block as global average pool, the two 1×1s with their activations fused and ScaleChannels
/// in place; each projection as conv + bias, added onto the block's input (<c>accumulate: true</c>, written over it:
/// nothing reads the input afterwards) where the block has a residual; the global average pool, the hidden linear where
/// the model has one, and the classifier, as 1×1 convolutions. On the CPU engine a block without squeeze-and-excitation whose expanded
/// tensor is large (<see cref="FusedMinExpandedFloats"/>) is one <see cref="ConvEngine.ForwardInvertedResidual"/> call
/// instead, which the CPU engine runs in bands of rows so that the expanded tensor never leaves the cache; a block with
/// one runs its expansion and depthwise layer as one <see cref="ConvEngine.ForwardExpandDepthwise"/> call the same way.
/// The engine bands 3×3 depthwise layers only (docs/library.md): a 5×5 block's fused call is the two layer calls with an
/// engine-lent intermediate (EfficientNet-B0's blocks.3: 793 µs fused against 596 µs as this sample's two calls, whose
/// buffer block 2 had just used; the whole network the same either way, docs/benchmarks.md, session s26).
/// </summary>
public sealed class DeviceInvertedResidualNetwork : DeviceNetwork
{
    /// <summary>
    /// A block's layers and buffers; <c>Out</c> is null where the projection is added onto the block's input. A fused
    /// block has no buffers of its own between its layers (<c>DepthwiseOut</c> null) and always its own <c>Out</c>; a
    /// block whose expansion runs with its depthwise layer has no <c>ExpandOut</c>. <c>CallLabel</c> names the profile's
    /// step of a fused call ("features.2" whole, "blocks.3.expand+dw").
    /// </summary>
    sealed record PlacedBlock(InvertedResidual Block, Layer? Expand, Layer Depthwise, Squeeze? Se, Layer Project, Tensor? ExpandOut, Tensor? DepthwiseOut, Tensor? Out, bool Fused,
        string CallLabel);

    /// <summary>The block's name in the model ("features.3"): its depthwise layer's without ".dw".</summary>
    static string BlockName(InvertedResidual b) => b.Depthwise.Name.EndsWith(".dw", StringComparison.Ordinal) ? b.Depthwise.Name[..^3] : b.Depthwise.Name;

    /// <summary>
    /// On the CPU engine, blocks without squeeze-and-excitation whose expanded tensor holds at least this many floats per image (512 KiB:
    /// MobileNetV2's blocks at 112² and 56², the first at 28²) run as one fused call, and the expansion and depthwise
    /// layer of those with one (EfficientNet-B0's at 112² to 28²). Smaller ones stay in cache between
    /// the layers, and the CPU engine would run them as the three calls anyway.
    /// </summary>
    const long FusedMinExpandedFloats = 128 * 1024;

    readonly Activation stemActivation;
    readonly Layer stem = null!, last = null!, classifier = null!;
    readonly Tensor stemOut = null!, lastOut = null!, pooled = null!;
    readonly PlacedBlock[] blocks = [];
    /// <summary>The hidden linear, its activation and output (MobileNetV3); null elsewhere.</summary>
    readonly (Layer Layer, Activation Activation, Tensor Out)? hidden;

    /// <summary>
    /// Uploads the layers and takes the buffers in the order <see cref="Run"/> uses them: a block's expansion dies after
    /// its depthwise layer, the depthwise output (scaled in place by a squeeze-and-excitation block) after the
    /// projection, a block without the residual add reads its input last in its first layer, the last layer's output
    /// in the pool, the pooled values in the hidden linear.
    /// </summary>
    /// <param name="fuseLargeBlocks">False runs every layer as its own call, as before the fused calls (for comparisons).</param>
    public DeviceInvertedResidualNetwork(ConvEngine engine, InvertedResidualModel model, TensorShape inputShape, bool fuseLargeBlocks = true) : base(engine, inputShape)
    {
        try
        {
            int n = inputShape.Dims[0];
            stemActivation = model.StemActivation;
            stem = Upload(model.Stem);
            stemOut = Take(OutputShape(model.Stem, inputShape));
            var x = stemOut;
            blocks = new PlacedBlock[model.Blocks.Count];
            for (int i = 0; i < blocks.Length; i++)
            {
                var b = model.Blocks[i];
                int expanded = b.Expand?.Weight.Shape[0] ?? x.Shape.Dims[1];
                // On a GPU the fused calls would be the same layer calls with engine-lent intermediates: the sample keeps its own buffers there.
                bool large = fuseLargeBlocks && engine.Memory.Kind == MemoryKind.Host
                    && (long)expanded * x.Shape.Dims[2] * x.Shape.Dims[3] >= FusedMinExpandedFloats;
                if (b.Se is null && large)
                {
                    var dwShape = OutputShape(b.Depthwise, x.Shape.WithDim(1, expanded));
                    var fusedOut = Take(OutputShape(b.Project, dwShape));
                    Release(x);
                    blocks[i] = new PlacedBlock(b, b.Expand is { } fe ? Upload(fe) : null, Upload(b.Depthwise), null, Upload(b.Project), null, null, fusedOut, Fused: true,
                        BlockName(b));
                    x = fusedOut;
                    continue;
                }
                // A large expansion before a squeeze-and-excitation block goes with the depthwise layer in one call: no buffer.
                bool expandWithDepthwise = b.Expand is not null && large;
                Tensor? expandOut = b.Expand is { } e && !expandWithDepthwise ? Take(OutputShape(e, x.Shape)) : null;
                if (expandOut is not null && !b.Residual) Release(x);
                var depthwiseOut = Take(OutputShape(b.Depthwise, (expandOut ?? x).Shape.WithDim(1, expanded)));
                if (expandOut is not null) Release(expandOut);
                else if (expandWithDepthwise && !b.Residual) Release(x);
                else if (!b.Residual) Release(x);
                var se = b.Se is { } s ? PlaceSqueeze(s, depthwiseOut.Shape) : null;
                Tensor? output = b.Residual ? null : Take(OutputShape(b.Project, depthwiseOut.Shape));
                Release(depthwiseOut);
                blocks[i] = new PlacedBlock(b, b.Expand is { } ee ? Upload(ee) : null, Upload(b.Depthwise), se, Upload(b.Project), expandOut, depthwiseOut, output, Fused: false,
                    $"{BlockName(b)}.expand+dw");
                x = output ?? x;
            }
            last = Upload(model.Last);
            lastOut = Take(OutputShape(model.Last, x.Shape));
            Release(x);
            pooled = Take(new TensorShape(n, lastOut.Shape.Dims[1], 1, 1));
            Release(lastOut);
            if (model.Hidden is { } h)
            {
                var hiddenOut = Take(new TensorShape(n, h.Weight.Shape.Dims[0], 1, 1));
                Release(pooled);
                hidden = (UploadConv("classifier.hidden", InvertedResidualModel.Linear, h.Weight, h.Bias), h.Activation, hiddenOut);
            }
            classifier = UploadClassifier("classifier", InvertedResidualModel.Linear, model.ClassifierWeight, model.ClassifierBias);
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
        Conv(stem, Input, stemOut, stemActivation);
        var x = stemOut;
        foreach (var b in blocks)
        {
            if (b.Fused)
            {
                using (Step(b.CallLabel))
                    x = Engine.ForwardInvertedResidual(x, b.Expand?.Weight, b.Expand?.Bias, b.Depthwise.Spec, b.Depthwise.Weight, b.Depthwise.Bias,
                        b.Project.Weight, b.Project.Bias, b.Block.Activation, b.Block.Residual, output: b.Out);
                continue;
            }
            if (b.Expand is { } e && b.ExpandOut is null)
                using (Step(b.CallLabel))
                    Engine.ForwardExpandDepthwise(x, e.Weight, e.Bias, b.Depthwise.Spec, b.Depthwise.Weight, b.Depthwise.Bias, b.Block.Activation,
                        output: b.DepthwiseOut);
            else
            {
                var h = x;
                if (b.Expand is { } ex)
                {
                    Conv(ex, x, b.ExpandOut!, b.Block.Activation);
                    h = b.ExpandOut!;
                }
                Conv(b.Depthwise, h, b.DepthwiseOut!, b.Block.Activation);
            }
            if (b.Se is { } se) SqueezeExcite(se, b.DepthwiseOut!);
            x = b.Out is { } y ? Linear(b.Project, b.DepthwiseOut!, y) : Linear(b.Project, b.DepthwiseOut!, x, accumulate: true);
        }
        Conv(last, x, lastOut, stemActivation);
        using (Step("pool")) Engine.GlobalAvgPool(lastOut, pooled);
        var features = pooled;
        if (hidden is { } hl)
        {
            Conv(hl.Layer, pooled, hl.Out, hl.Activation);
            features = hl.Out;
        }
        Linear(classifier, features, Logits);
    }
}
