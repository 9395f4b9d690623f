using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>
/// What <see cref="NetworkApp"/> needs from one network with its random weights: a line saying what it is, its
/// device-resident form on an engine for a fixed input shape, the same folded network as an ONNX graph (the peer
/// ONNX Runtime runs), and the unfolded network's logits in float64.
/// </summary>
public interface INetworkModel
{
    /// <summary>e.g. "ResNet-50: 53 convolutions (BatchNorm folded) + fc, 25.6 M parameters" (the input shape follows).</summary>
    string Summary { get; }

    /// <summary>
    /// The network resident in <paramref name="engine"/>'s memory for inputs of <paramref name="inputShape"/>;
    /// <paramref name="fused"/> false runs every layer as its own call where the model has fused calls (the inverted
    /// residual family's large blocks), for comparisons (<c>--unfused</c>).
    /// </summary>
    DeviceNetwork Place(ConvEngine engine, TensorShape inputShape, bool fused = true);

    /// <summary>The folded network as one ONNX graph for inputs of <paramref name="inputShape"/> (the weights <see cref="Place"/> uploads).</summary>
    OnnxGraph ToOnnx(TensorShape inputShape);

    /// <summary>The unfolded network in float64 on <paramref name="input"/>: the logits, [N, classes] flattened.</summary>
    double[] Reference(HostTensor input);
}
