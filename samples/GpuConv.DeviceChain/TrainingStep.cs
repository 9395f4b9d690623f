using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.DeviceChain;

/// <summary>
/// A training-style step on the head layer (y = conv1x1(a, W) + b, loss ½‖y − t‖² summed over micro-batches),
/// as <c>loss.backward()</c> with gradient accumulation does it in PyTorch: dW and db accumulated on the device
/// over the micro-batches (<c>accumulate: true</c> after the first), dx (the gradient for the layer below) per micro-batch.
/// dL/dy = y − t is formed on the host: y is downloaded and dy uploaded once per micro-batch (the only host copies of
/// the step; the target stays on the host). engine.Scale and engine.Add would keep it on the device, but this
/// executable is also checked against the native fakes without their kernel interpreter, where only cuDNN calls run.
/// </summary>
public static class TrainingStep
{
    public sealed record Result(ErrorReport WeightGradient, ErrorReport BiasGradient, ErrorReport InputGradient, int MicroBatches);

    public static Result Run(ConvEngine engine, DeviceNetwork net, IReadOnlyList<HostTensor> microBatches, IReadOnlyList<HostTensor> targets)
    {
        int head = net.Layers.Count - 1;
        var layer = net.Layers[head];
        var spec = layer.Spec;
        var a = net.LayerOutput(head - 1);                     // the head's input
        var wShape = layer.Weight.Shape;
        using var dy = engine.Allocate(net.Output.Shape);
        using var dW = engine.Allocate(wShape);
        using var db = engine.Allocate(layer.Bias.Shape);
        using var dx = engine.Allocate(a.Shape);
        var yHost = new float[net.Output.Shape.ElementCountInt];
        var aHost = new float[a.Shape.ElementCountInt];
        var problem = ConvProblem.Create(spec, a.Shape, wShape, ConvOp.BackwardFilter);
        var dWRef = new double[wShape.ElementCountInt];
        var dbRef = new double[layer.Bias.Shape.ElementCountInt];
        double[] dxRef = [];
        for (int m = 0; m < microBatches.Count; m++)
        {
            engine.Upload(microBatches[m].Data, net.Input);
            net.Run();
            engine.Download(net.Output, yHost);
            var t = targets[m].Data;
            for (int i = 0; i < yHost.Length; i++) yHost[i] -= t[i];   // dL/dy = y − t
            engine.Upload(yHost, dy);
            bool accumulate = m > 0;                                    // the first micro-batch overwrites (zero_grad)
            engine.BackwardFilter(spec, a, dy, wShape, output: dW, accumulate: accumulate);
            engine.BackwardBias(dy, output: db, accumulate: accumulate);
            engine.BackwardData(spec, dy, net.Weight(head), a.Shape, output: dx);

            // The judge, in float64 on the same a and dy (a downloaded only for checking).
            engine.Download(a, aHost);
            var pm = ReferenceConv.BackwardFilter(problem, aHost, yHost);
            for (int i = 0; i < pm.Length; i++) dWRef[i] += pm[i];
            var bm = ReferenceConv.BiasGradient(dy.Shape, yHost);
            for (int i = 0; i < bm.Length; i++) dbRef[i] += bm[i];
            dxRef = ReferenceConv.BackwardData(ConvProblem.Create(spec, a.Shape, wShape, ConvOp.BackwardData), yHost, layer.Weight.Data);
        }
        return new Result(
            ErrorMetrics.Compare(engine.Download(dW).Data, dWRef),
            ErrorMetrics.Compare(engine.Download(db).Data, dbRef),
            ErrorMetrics.Compare(engine.Download(dx).Data, dxRef),
            microBatches.Count);
    }
}
