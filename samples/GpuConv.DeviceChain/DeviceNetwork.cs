using GpuConv.Tensors;

namespace GpuConv.DeviceChain;

/// <summary>
/// <see cref="TinyNet"/> resident in an engine's memory: weights uploaded once (constant, so backends may keep
/// them prepared), and one activation buffer per layer for a fixed input shape, reused batch after batch.
/// Nothing here touches the host between <see cref="Input"/>'s upload and the caller's download of <see cref="Output"/>.
/// </summary>
public sealed class DeviceNetwork : IDisposable
{
    readonly ConvEngine engine;
    readonly IReadOnlyList<Layer> layers;
    readonly List<Tensor> owned = [];
    readonly Tensor[] weights, biases, activations;

    public DeviceNetwork(ConvEngine engine, IReadOnlyList<Layer> layers, TensorShape inputShape)
    {
        this.engine = engine;
        this.layers = layers;
        try
        {
            weights = layers.Select(l => Own(engine.Upload(l.Weight))).ToArray();
            biases = layers.Select(l => Own(engine.Upload(l.Bias))).ToArray();
            Input = Own(engine.Allocate(inputShape));
            var shape = inputShape;
            activations = new Tensor[layers.Count];
            for (int i = 0; i < layers.Count; i++)
            {
                shape = layers[i].OutputShape(shape);
                activations[i] = Own(engine.Allocate(shape));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Where the caller uploads a batch (<c>engine.Upload(batch, network.Input)</c>).</summary>
    public Tensor Input { get; }
    /// <summary>The last layer's output; valid after <see cref="Run"/> once downloaded (the download waits for the work).</summary>
    public Tensor Output => activations[^1];
    /// <summary>Layer i's output (layer i+1's input), for a training step that needs it.</summary>
    public Tensor LayerOutput(int layer) => activations[layer];
    public Tensor Weight(int layer) => weights[layer];
    public IReadOnlyList<Layer> Layers => layers;

    /// <summary>Issues every layer on the engine's stream; returns without waiting. <paramref name="onLayer"/> sees each layer's plan.</summary>
    public void Run(Action<int, GpuConv.Planning.Plan?>? onLayer = null)
    {
        var x = Input;
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i];
            if (l.Relu)
                engine.ForwardBiasActivation(l.Spec, x, weights[i], biases[i], Activation.Relu, output: activations[i], constantWeights: true);
            else
                engine.Forward(l.Spec, x, weights[i], biases[i], output: activations[i], constantWeights: true);
            onLayer?.Invoke(i, engine.LastPlan);
            x = activations[i];
        }
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
    }
}
