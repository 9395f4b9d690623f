using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

// The element-wise ops' functions for ElementwiseMap, each in its scalar and Vector256 form (GELU's also Vector512) with the same operations
// (kernels/elementwise.ptx does them in the same order, so the CPU and the kernels give the same bits).

readonly struct AddFunction : IBinaryFunction
{
    public float Apply(float a, float b) => a + b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a + b;
}

readonly struct MulFunction : IBinaryFunction
{
    public float Apply(float a, float b) => a * b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
}

/// <summary>alpha·a.</summary>
readonly struct ScaleFunction(float alpha) : IUnaryFunction
{
    public float Apply(float a) => alpha * a;
    public Vector256<float> Apply(Vector256<float> a) => Vector256.Create(alpha) * a;
}

/// <summary>alpha·x + y in one rounding (fused multiply-add).</summary>
readonly struct AddScaledFunction(float alpha) : IBinaryFunction
{
    public float Apply(float x, float y) => MathF.FusedMultiplyAdd(alpha, x, y);
    public Vector256<float> Apply(Vector256<float> x, Vector256<float> y) => Vector256.FusedMultiplyAdd(Vector256.Create(alpha), x, y);
}

/// <summary>y ≤ 0 blocks dy (-0 too); a NaN y passes it.</summary>
readonly struct ReluBackwardFunction : IBinaryFunction
{
    public float Apply(float dy, float y) => y <= 0 ? 0f : dy;
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> y) =>
        Vector256.ConditionalSelect(Vector256.LessThanOrEqual(y, Vector256<float>.Zero), Vector256<float>.Zero, dy);
}

/// <summary>x ≤ 0 or x ≥ 6 blocks dy (both ends included, -0 too); a NaN x fails both tests and passes dy.</summary>
readonly struct Relu6BackwardFunction : IBinaryFunction
{
    public float Apply(float dy, float x) => x <= 0 || x >= 6f ? 0f : dy;
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> x)
    {
        var blocked = Vector256.LessThanOrEqual(x, Vector256<float>.Zero) | Vector256.GreaterThanOrEqual(x, Vector256.Create(6f));
        return Vector256.ConditionalSelect(blocked, Vector256<float>.Zero, dy);
    }
}

/// <summary>
/// o = s &gt; 0 ? v : v · slope with s the sign source: the forward passes x as both (v = s = x), the gradient
/// v = dy, s = x. Compare-and-select, so a NaN s takes the product (as torch's leaky_relu and its backward).
/// </summary>
readonly struct LeakyReluFunction(float slope) : IBinaryFunction
{
    public float Apply(float v, float s) => s > 0f ? v : v * slope;
    public Vector256<float> Apply(Vector256<float> v, Vector256<float> s) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(s, Vector256<float>.Zero), v, v * Vector256.Create(slope));
}

readonly struct SiluFunction : IUnaryFunction
{
    public float Apply(float x) => SiluMath.Silu(x);
    public Vector256<float> Apply(Vector256<float> x) => SiluMath.Silu(x);
}

readonly struct SiluBackwardFunction : IBinaryFunction
{
    public float Apply(float dy, float x) => SiluMath.SiluBackward(dy, x);
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> x) => SiluMath.SiluBackward(dy, x);
}

readonly struct SigmoidFunction : IUnaryFunction
{
    public float Apply(float x) => SiluMath.Sigmoid(x);
    public Vector256<float> Apply(Vector256<float> x) => SiluMath.Sigmoid(x);
}

/// <summary>(dy·(1 - y))·y, torch's sigmoid_backward in its order.</summary>
readonly struct SigmoidBackwardFunction : IBinaryFunction
{
    public float Apply(float dy, float y) => dy * (1f - y) * y;
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> y) => dy * (Vector256.Create(1f) - y) * y;
}

/// <summary>
/// The hard gate c = min(max(x + 3, 0), 6) by compare-and-select (a NaN fails both tests and stays): hardsigmoid is
/// c / 6 and hardswish (x·c) / 6, torch 1.13's CPU operations in its order.
/// </summary>
static class HardGate
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Clamp(float x)
    {
        float c = x + 3f;
        c = c < 0f ? 0f : c;
        return c > 6f ? 6f : c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Clamp(Vector256<float> x)
    {
        var six = Vector256.Create(6f);
        var c = x + Vector256.Create(3f);
        c = Vector256.ConditionalSelect(Vector256.LessThan(c, Vector256<float>.Zero), Vector256<float>.Zero, c);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(c, six), six, c);
    }
}

readonly struct HardsigmoidFunction : IUnaryFunction
{
    public float Apply(float x) => HardGate.Clamp(x) / 6f;
    public Vector256<float> Apply(Vector256<float> x) => HardGate.Clamp(x) / Vector256.Create(6f);
}

readonly struct HardswishFunction : IUnaryFunction
{
    public float Apply(float x) => x * HardGate.Clamp(x) / 6f;
    public Vector256<float> Apply(Vector256<float> x) => x * HardGate.Clamp(x) / Vector256.Create(6f);
}

/// <summary>dy · (1/6 rounded to float, 0x3E2AAAAB) inside (-3, 3), else 0 (a NaN x too): torch's hardsigmoid gradient.</summary>
readonly struct HardsigmoidBackwardFunction : IBinaryFunction
{
    const float OneSixth = 1f / 6f;

    public float Apply(float dy, float x) => x > -3f && x < 3f ? dy * OneSixth : 0f;
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> x)
    {
        var inside = Vector256.GreaterThan(x, Vector256.Create(-3f)) & Vector256.LessThan(x, Vector256.Create(3f));
        return Vector256.ConditionalSelect(inside, dy * Vector256.Create(OneSixth), Vector256<float>.Zero);
    }
}

/// <summary>0 below -3, dy·(x/3 + 0.5) up to 3, dy above (a NaN x fails both tests and passes dy): torch's hardswish gradient.</summary>
readonly struct HardswishBackwardFunction : IBinaryFunction
{
    public float Apply(float dy, float x) => x < -3f ? 0f : x <= 3f ? dy * (x / 3f + 0.5f) : dy;
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> x)
    {
        var ramp = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256.Create(3f)), dy * (x / Vector256.Create(3f) + Vector256.Create(0.5f)), dy);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-3f)), Vector256<float>.Zero, ramp);
    }
}

readonly struct TanhFunction : IUnaryFunction
{
    public float Apply(float x) => TanhMath.Tanh(x);
    public Vector256<float> Apply(Vector256<float> x) => TanhMath.Tanh(x);
}

readonly struct TanhBackwardFunction : IBinaryFunction
{
    public float Apply(float dy, float y) => TanhMath.TanhBackward(dy, y);
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> y) => TanhMath.TanhBackward(dy, y);
}

readonly struct GeluFunction : IUnaryFunction512
{
    public float Apply(float x) => GeluMath.Gelu(x);
    public Vector256<float> Apply(Vector256<float> x) => GeluMath.Gelu(x);
    public Vector512<float> Apply(Vector512<float> x) => GeluMath.Gelu(x);
}

readonly struct GeluBackwardFunction : IBinaryFunction512
{
    public float Apply(float dy, float x) => GeluMath.GeluBackward(dy, x);
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> x) => GeluMath.GeluBackward(dy, x);
    public Vector512<float> Apply(Vector512<float> dy, Vector512<float> x) => GeluMath.GeluBackward(dy, x);
}

readonly struct GeluTanhFunction : IUnaryFunction512
{
    public float Apply(float x) => GeluMath.GeluTanh(x);
    public Vector256<float> Apply(Vector256<float> x) => GeluMath.GeluTanh(x);
    public Vector512<float> Apply(Vector512<float> x) => GeluMath.GeluTanh(x);
}

readonly struct GeluTanhBackwardFunction : IBinaryFunction512
{
    public float Apply(float dy, float x) => GeluMath.GeluTanhBackward(dy, x);
    public Vector256<float> Apply(Vector256<float> dy, Vector256<float> x) => GeluMath.GeluTanhBackward(dy, x);
    public Vector512<float> Apply(Vector512<float> dy, Vector512<float> x) => GeluMath.GeluTanhBackward(dy, x);
}
