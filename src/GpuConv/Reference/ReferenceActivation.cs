namespace GpuConv.Reference;

/// <summary>
/// The float64 judge of the activations (<see cref="Activation"/>) and of the ReLU6 gradient, written from PyTorch's
/// definitions (checked against torch 1.13 on this machine): relu(v) = v &lt; 0 ? 0 : v; relu6(v) = hardtanh(v, 0, 6) =
/// v &lt; 0 ? 0 : v &gt; 6 ? 6 : v, so NaN stays NaN, -0 stays -0, +∞ gives 6, -∞ gives 0; relu6's gradient
/// (hardtanh_backward) passes dy where 0 &lt; x &lt; 6 or x is NaN and is 0 elsewhere, both ends included.
/// </summary>
public static class ReferenceActivation
{
    /// <summary>activation(v), in float64.</summary>
    public static double Apply(Activation activation, double v) => activation switch
    {
        Activation.Identity => v,
        Activation.Relu => v < 0 ? 0 : v,
        Activation.Relu6 => v < 0 ? 0 : v > 6 ? 6 : v,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "not an Activation"),
    };

    /// <summary>activation(v) for every value, in place (e.g. on <see cref="ReferenceConv.Forward"/>'s result).</summary>
    public static void Apply(Activation activation, Span<double> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Apply(activation, values[i]);
    }

    /// <summary>∂relu6(x)/∂x · dy as PyTorch's hardtanh_backward(dy, x, 0, 6): dy where 0 &lt; x &lt; 6 or x is NaN, else 0.</summary>
    public static double Relu6Backward(double dy, double x) => x <= 0 || x >= 6 ? 0 : dy;
}
