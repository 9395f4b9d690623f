using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Networks.ConvNeXt;

/// <summary>
/// A <see cref="ConvNeXtModel"/> resident in an engine's memory for a fixed input shape (<see cref="DeviceNetwork"/>:
/// weights uploaded once, every buffer allocated once and reused once dead). <see cref="Run"/> issues the whole network
/// on the engine's stream without a host wait. A block is the depthwise 7×7 conv + bias, the channels-first LayerNorm
/// (<see cref="ConvEngine.ChannelLayerNorm"/>), the expansion 1×1 conv + bias + GELU fused, and the projection with the
/// layer scale folded in, added onto the block's input (<c>accumulate: true</c>: the residual stream is written in
/// place). The LayerNorms' saved mean and rstd, which inference does not read, go to one scratch pair per input shape, made
/// while placing and held by each placed norm (no lookup or allocation per run).
/// </summary>
public sealed class DeviceConvNeXt : DeviceNetwork
{
    sealed record Norm(string Name, Tensor Weight, Tensor Bias, Tensor Mean, Tensor Rstd);
    sealed record PlacedBlock(Layer Depthwise, Norm Norm, Layer Expand, Layer Project, Tensor DepthwiseOut, Tensor NormOut, Tensor ExpandOut);
    sealed record PlacedStage(Norm? DownsampleNorm, Layer? Downsample, Tensor? NormOut, Tensor? Out, PlacedBlock[] Blocks);

    readonly Layer stem = null!, classifier = null!;
    readonly Norm stemNorm = null!, headNorm = null!;
    readonly Tensor stemOut = null!, stream = null!, pooled = null!, pooledNorm = null!;
    readonly PlacedStage[] stages = [];
    readonly Dictionary<TensorShape, (Tensor Mean, Tensor Rstd)> statistics = [];

    public DeviceConvNeXt(ConvEngine engine, ConvNeXtModel model, TensorShape inputShape) : base(engine, inputShape)
    {
        try
        {
            int n = inputShape.Dims[0];
            stem = Upload(model.Stem);
            stemOut = Take(OutputShape(model.Stem, inputShape));
            stemNorm = Place(model.StemNorm, stemOut.Shape);
            stream = Take(stemOut.Shape);
            Release(stemOut);
            var x = stream;
            stages = new PlacedStage[model.Stages.Count];
            for (int s = 0; s < stages.Length; s++)
            {
                var stage = model.Stages[s];
                Norm? downsampleNorm = null;
                Layer? downsample = null;
                Tensor? normOut = null, output = null;
                if (stage.Downsample is { } d)
                {
                    downsampleNorm = Place(stage.DownsampleNorm!, x.Shape);
                    downsample = Upload(d);
                    normOut = Take(x.Shape);
                    Release(x);
                    output = Take(OutputShape(d, x.Shape));
                    Release(normOut);
                    x = output;
                }
                var blocks = new PlacedBlock[stage.Blocks.Count];
                for (int i = 0; i < blocks.Length; i++)
                {
                    var b = stage.Blocks[i];
                    var depthwiseOut = Take(x.Shape);
                    var blockNormOut = Take(x.Shape);
                    Release(depthwiseOut);
                    var expandOut = Take(OutputShape(b.Expand, x.Shape));
                    Release(blockNormOut);
                    Release(expandOut);
                    var (w, bias) = b.ScaledProjection();
                    blocks[i] = new PlacedBlock(Upload(b.Depthwise), Place(b.Norm, x.Shape), Upload(b.Expand),
                        UploadConv(b.Project.Name, b.Project.Spec, w, bias), depthwiseOut, blockNormOut, expandOut);
                }
                stages[s] = new PlacedStage(downsampleNorm, downsample, normOut, output, blocks);
            }
            pooled = Take(new TensorShape(n, ConvNeXtModel.LastChannels, 1, 1));
            Release(x);
            pooledNorm = Take(pooled.Shape);
            headNorm = Place(model.HeadNorm, pooled.Shape);
            classifier = UploadClassifier("classifier", ConvNeXtModel.Linear, model.ClassifierWeight, model.ClassifierBias);
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
        Conv(stem, Input, stemOut, Activation.Identity);
        LayerNorm(stemNorm, stemOut, stream);
        var x = stream;
        foreach (var s in stages)
        {
            if (s.Downsample is { } d)
            {
                LayerNorm(s.DownsampleNorm!, x, s.NormOut!);
                Conv(d, s.NormOut!, s.Out!, Activation.Identity);
                x = s.Out!;
            }
            foreach (var b in s.Blocks)
            {
                Conv(b.Depthwise, x, b.DepthwiseOut, Activation.Identity);
                LayerNorm(b.Norm, b.DepthwiseOut, b.NormOut);
                Conv(b.Expand, b.NormOut, b.ExpandOut, Activation.Gelu);
                Linear(b.Project, b.ExpandOut, x, accumulate: true);
            }
        }
        using (Step("pool")) Engine.GlobalAvgPool(x, pooled);
        LayerNorm(headNorm, pooled, pooledNorm);
        Linear(classifier, pooledNorm, Logits);
    }

    Layer Upload(ConvLayer c) => UploadConv(c.Name, c.Spec, c.Weight, c.Bias);

    /// <summary>The norm's affine values uploaded, with the scratch statistics pair for inputs of shape <paramref name="x"/>.</summary>
    Norm Place(ChannelNorm norm, TensorShape x)
    {
        var shape = StatisticsShape(x);
        if (!statistics.TryGetValue(shape, out var pair)) statistics[shape] = pair = (Allocate(shape), Allocate(shape));
        return new(norm.Name, UploadValues(norm.Weight), UploadValues(norm.Bias), pair.Mean, pair.Rstd);
    }

    static TensorShape OutputShape(ConvLayer c, TensorShape x) => ConvProblem.Create(c.Spec, x, c.Weight.Shape, ConvOp.Forward).OutputShape;

    /// <summary>y = LayerNorm2d(x); the saved statistics (unread in inference) into the norm's scratch pair. A step under the norm's name.</summary>
    void LayerNorm(Norm norm, Tensor x, Tensor y)
    {
        using (Step(norm.Name))
            Engine.ChannelLayerNorm(ChannelNorm.Spec, x, norm.Weight, norm.Bias, output: y, savedMean: norm.Mean, savedRstd: norm.Rstd);
    }

    /// <summary>[N, spatial…]: x's shape without its channel dimension (the per-position mean and rstd).</summary>
    static TensorShape StatisticsShape(TensorShape x) => new([x.Dims[0], .. x.Dims[2..]]);
}
