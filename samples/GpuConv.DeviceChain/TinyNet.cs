using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.DeviceChain;

/// <summary>One layer: activation(conv(x, W) + b), PyTorch layout for W (transposed layers: [C_in, C_out/groups, k…]).</summary>
public sealed record Layer(string Name, ConvSpec Spec, HostTensor Weight, HostTensor Bias, bool Relu)
{
    /// <summary>The layer's output shape for an input shape (the problem's OutputShape: y, or for a transposed layer the underlying dx).</summary>
    public TensorShape OutputShape(TensorShape input) => Problem(input).OutputShape;

    /// <summary>The layer's forward problem for an input shape (a transposed layer is stored as backward-data).</summary>
    public ConvProblem Problem(TensorShape input) => ConvProblem.Create(Spec, input, Weight.Shape, ConvOp.Forward);
}

/// <summary>
/// A small encoder-decoder CNN on [N, 3, H, W] images (H and W even), the kind a segmentation head uses:
/// conv 3x3 → depthwise 3x3 → pointwise 1x1 → strided 3x3 (H/2) → transposed 3x3 stride 2 (back to H) → 1x1 head,
/// ReLU after each of the first four.
/// Weights are random from a seed, scaled like PyTorch's default init (uniform ±1/sqrt(fan_in)) so activations stay O(1).
/// </summary>
public static class TinyNet
{
    public const int InputChannels = 3;
    public const int Classes = 4;

    public static IReadOnlyList<Layer> Create(int seed = 7)
    {
        var rng = new Random(seed);
        Layer L(string name, ConvSpec spec, int[] w, bool relu)
        {
            var weight = new HostTensor(new TensorShape(w));
            int fanIn = w[1] * w.Skip(2).Aggregate(1, (a, b) => a * b);
            float bound = 1f / MathF.Sqrt(fanIn);
            for (int i = 0; i < weight.Data.Length; i++) weight.Data[i] = (float)(rng.NextDouble() * 2 - 1) * bound;
            int biasLength = spec.Transposed ? w[1] * spec.Groups : w[0];
            var bias = new HostTensor(new TensorShape(biasLength));
            for (int i = 0; i < biasLength; i++) bias.Data[i] = (float)(rng.NextDouble() * 2 - 1) * bound;
            return new Layer(name, spec, weight, bias, relu);
        }
        var same3 = new ConvSpec(kernel: [3, 3], padBegin: [1]);
        return
        [
            L("stem 3x3", same3, [16, InputChannels, 3, 3], relu: true),
            L("depthwise 3x3", new ConvSpec(kernel: [3, 3], padBegin: [1], groups: 16), [16, 1, 3, 3], relu: true),
            L("pointwise 1x1", new ConvSpec(kernel: [1, 1]), [32, 16, 1, 1], relu: true),
            L("down 3x3/2", new ConvSpec(kernel: [3, 3], stride: [2], padBegin: [1]), [32, 32, 3, 3], relu: true),
            // ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1): H/2 → H; no activation after it, as in a U-Net's up path.
            L("up convT 3x3/2", new ConvSpec(kernel: [3, 3], stride: [2], padBegin: [1]).AsTransposed([1, 1]), [32, 16, 3, 3], relu: false),
            L("head 1x1", new ConvSpec(kernel: [1, 1]), [Classes, 16, 1, 1], relu: false),
        ];
    }
}
