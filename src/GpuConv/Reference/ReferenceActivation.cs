namespace GpuConv.Reference;

/// <summary>
/// The float64 judge of the activations (<see cref="Activation"/>) and of the ReLU6 gradient, written from PyTorch's
/// definitions (checked against torch 1.13 on this machine): relu(v) = v &lt; 0 ? 0 : v; relu6(v) = hardtanh(v, 0, 6) =
/// v &lt; 0 ? 0 : v &gt; 6 ? 6 : v, so NaN stays NaN, -0 stays -0, +∞ gives 6, -∞ gives 0; relu6's gradient
/// (hardtanh_backward) passes dy where 0 &lt; x &lt; 6 or x is NaN and is 0 elsewhere, both ends included. (The NaN rule is
/// torch's CUDA kernel and scalar CPU loop; torch 1.13's vectorized CPU loop, in blocks of 16 floats, gives 0 for a NaN x.)
/// silu(v) = v / (1 + e^-v) and its gradient dy·s·(1 + x·(1 - s)), s = 1 / (1 + e^-x) (torch's silu and silu_backward),
/// in float64 with Math.Exp: the exact function to double precision, so silu(-∞) and the gradient at ±∞ are NaN as in
/// torch, while below x ≈ -88.72, where float32's e^-x overflows and the devices give ±0, it gives the true tiny value.
/// hardswish(v) = v·min(max(v + 3, 0), 6) / 6, sigmoid(v) = 1 / (1 + e^-v), hardsigmoid(v) = min(max(v + 3, 0), 6) / 6
/// (torch's hardswish, sigmoid and hardsigmoid), in float64. gelu(v) = v·Φ(v) and its tanh form v·σ(2√(2/π)·(v + 0.044715·v³))
/// (torch's gelu, approximate 'none' and 'tanh') are <see cref="ReferenceGelu"/>'s.
/// </summary>
public static class ReferenceActivation
{
    /// <summary>activation(v), in float64.</summary>
    public static double Apply(Activation activation, double v) => activation switch
    {
        Activation.Identity => v,
        Activation.Relu => v < 0 ? 0 : v,
        Activation.Relu6 => v < 0 ? 0 : v > 6 ? 6 : v,
        Activation.Silu => v / (1 + Math.Exp(-v)),
        Activation.Hardswish => v * HardClamp(v) / 6,
        Activation.Sigmoid => 1 / (1 + Math.Exp(-v)),
        Activation.Hardsigmoid => HardClamp(v) / 6,
        Activation.Gelu => ReferenceGelu.Gelu(v),
        Activation.GeluTanh => ReferenceGelu.GeluTanh(v),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "not an Activation"),
    };

    /// <summary>min(max(v + 3, 0), 6) by comparisons (a NaN fails both and stays NaN), hardswish's and hardsigmoid's clamp.</summary>
    static double HardClamp(double v)
    {
        double c = v + 3;
        return c < 0 ? 0 : c > 6 ? 6 : c;
    }

    /// <summary>activation(v) for every value, in place (e.g. on <see cref="ReferenceConv.Forward"/>'s result).</summary>
    public static void Apply(Activation activation, Span<double> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Apply(activation, values[i]);
    }

    /// <summary>∂relu6(x)/∂x · dy as PyTorch's hardtanh_backward(dy, x, 0, 6): dy where 0 &lt; x &lt; 6 or x is NaN, else 0.</summary>
    public static double Relu6Backward(double dy, double x) => x <= 0 || x >= 6 ? 0 : dy;

    /// <summary>∂silu(x)/∂x · dy as PyTorch's silu_backward: dy·s·(1 + x·(1 - s)) with s = 1 / (1 + e^-x).</summary>
    public static double SiluBackward(double dy, double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return dy * s * (1 + x * (1 - s));
    }
}
