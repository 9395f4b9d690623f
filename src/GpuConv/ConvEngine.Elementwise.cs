using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Element-wise ops on tensors in <see cref="Memory"/>, for the rest of a CNN training or inference step without host
/// round trips: residual adds, products, ReLU, ReLU6, leaky ReLU, SiLU, sigmoid, tanh, hardsigmoid, hardswish and GELU and their gradients, scaling, and y += alpha·x (SGD updates, gradient accumulation).
/// <para>
/// Operands have one shape (no broadcasting). The output may be the very same tensor (or a <see cref="Reshape"/> view of
/// the same memory) as an input, so the ops work in place; an output that only partly overlaps an input is refused.
/// On a GPU each call is one kernel of kernels/elementwise.ptx on the engine's stream and returns without waiting,
/// ordered with the other device-resident calls (see the class notes); on the CPU engine it is a SIMD loop (split over the engine's
/// worker threads for large tensors) that has finished on return. Both give the same bits: IEEE single-precision operations in the same form (NaN payloads aside).
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>a + b element by element (e.g. a residual block's skip add), into <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be a or b.</summary>
    public Tensor Add(Tensor a, Tensor b, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(a, nameof(a), b, nameof(b));
        return RunElementwise(ElementwiseOp.Add, a, nameof(a), b, nameof(b), 0f, output);
    }

    /// <summary>
    /// max(x, 0) element by element, as torch.relu: a NaN stays NaN and -0 stays -0. Into <paramref name="output"/> or a new
    /// tensor; returns it. <paramref name="output"/> may be x (in place, as torch.relu_).
    /// </summary>
    public Tensor Relu(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Relu, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = relu(x) from dy = ∂loss/∂y: dy where y &gt; 0, else 0 — PyTorch's
    /// threshold_backward(dy, y, 0), so y = ±0 gives 0 and a NaN y passes dy through. <paramref name="y"/> may be the
    /// ReLU's output or its input (the same sign test). Into <paramref name="output"/> or a new tensor; returns it.
    /// <paramref name="output"/> may be dy or y.
    /// </summary>
    public Tensor ReluBackward(Tensor dy, Tensor y, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), y, nameof(y));
        return RunElementwise(ElementwiseOp.ReluBackward, dy, nameof(dy), y, nameof(y), 0f, output);
    }

    /// <summary>
    /// min(max(x, 0), 6) element by element, as torch.nn.functional.relu6 / hardtanh(x, 0, 6): a NaN stays NaN, -0 stays
    /// -0, +∞ gives 6 and -∞ gives 0. Into <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/>
    /// may be x (in place, as relu6(x, inplace=True)).
    /// </summary>
    public Tensor Relu6(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Relu6, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = relu6(x) from dy = ∂loss/∂y: dy where 0 &lt; x &lt; 6, else 0 — PyTorch's
    /// hardtanh_backward(dy, x, 0, 6), so x = ±0 and x = 6 give 0 and a NaN x passes dy through (as torch's CUDA kernel; its
    /// vectorized CPU loop gives 0 there). <paramref name="x"/> may
    /// be the ReLU6's input or its output (the same test gives the same answer). Into <paramref name="output"/> or a new
    /// tensor; returns it. <paramref name="output"/> may be dy or x.
    /// </summary>
    public Tensor Relu6Backward(Tensor dy, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), x, nameof(x));
        return RunElementwise(ElementwiseOp.Relu6Backward, dy, nameof(dy), x, nameof(x), 0f, output);
    }

    /// <summary>
    /// silu(x) = x·sigmoid(x) = x / (1 + e^-x) element by element, as torch.nn.functional.silu (Swish), with e^-x from
    /// IEEE-exact operations only, so the CPU loops and the kernel give the same bits; within 2.4e-7 relative of float64
    /// (docs/library.md, "Element-wise ops"). NaN stays NaN (the canonical 0x7FFFFFFF on every device), -0 stays -0, +∞ gives +∞,
    /// -∞ gives NaN, and x ≤ -88.7228394 (where e^-x overflows float32) gives -0, as torch 1.13. Into
    /// <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be x (in place, as
    /// silu(x, inplace=True)).
    /// </summary>
    public Tensor Silu(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Silu, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = silu(x) from dy = ∂loss/∂y: dy·s·(1 + x·(1 - s)) with s = sigmoid(x) — PyTorch's
    /// silu_backward, s from the same exact-operation sequence as <see cref="Silu"/> (1 - s taken as e^-x·s for x ≥ 0,
    /// which does not cancel). Within 4e-7 of float64 relative to |dy|·s·(1 + |x·(1 - s)|) (the gradient crosses 0 near
    /// x = -1.2785, where that bound is absolute). x = ±∞ gives NaN, as torch. <paramref name="x"/> is the SiLU's input
    /// (not its output). Into <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be dy or x.
    /// </summary>
    public Tensor SiluBackward(Tensor dy, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), x, nameof(x));
        return RunElementwise(ElementwiseOp.SiluBackward, dy, nameof(dy), x, nameof(x), 0f, output);
    }

    /// <summary>
    /// 1 / (1 + e^-x) element by element, as torch.sigmoid (a squeeze-and-excitation block's gate, a detection head's
    /// scores), e^-x by the same exact-operation sequence as <see cref="Silu"/>, so every device gives the same bits:
    /// NaN stays NaN, +∞ gives 1, -∞ gives +0. Within 3e-7 of float64 relative (SigmoidTests). Into
    /// <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be x (in place, as sigmoid_).
    /// </summary>
    public Tensor Sigmoid(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Sigmoid, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = sigmoid(x) from dy = ∂loss/∂y and the sigmoid's output <paramref name="y"/>:
    /// (dy·(1 - y))·y, torch's sigmoid_backward(dy, y), the same formula and order (so the same bits as torch for the
    /// same y). Into <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be dy or y.
    /// </summary>
    public Tensor SigmoidBackward(Tensor dy, Tensor y, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), y, nameof(y));
        return RunElementwise(ElementwiseOp.SigmoidBackward, dy, nameof(dy), y, nameof(y), 0f, output);
    }

    /// <summary>
    /// min(max(x + 3, 0), 6) / 6 element by element, as torch.nn.functional.hardsigmoid (MobileNetV3's squeeze-and-excitation
    /// gate), the same IEEE operations in the same order, so torch 1.13's bits: NaN stays NaN. Into
    /// <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be x.
    /// </summary>
    public Tensor Hardsigmoid(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Hardsigmoid, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = hardsigmoid(x): dy·(1/6) where -3 &lt; x &lt; 3, else 0 (torch's hardsigmoid_backward, its bits;
    /// a NaN x gives 0). <paramref name="x"/> is the input. <paramref name="output"/> may be dy or x.
    /// </summary>
    public Tensor HardsigmoidBackward(Tensor dy, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), x, nameof(x));
        return RunElementwise(ElementwiseOp.HardsigmoidBackward, dy, nameof(dy), x, nameof(x), 0f, output);
    }

    /// <summary>
    /// (x · min(max(x + 3, 0), 6)) / 6 element by element, as torch.nn.functional.hardswish (MobileNetV3's activation),
    /// torch 1.13's bits: NaN stays NaN, -∞ gives NaN. Into <paramref name="output"/> or a new tensor; returns it.
    /// <paramref name="output"/> may be x.
    /// </summary>
    public Tensor Hardswish(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Hardswish, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = hardswish(x): 0 for x &lt; -3, dy·(x/3 + 0.5) for x ≤ 3, dy above (torch's
    /// hardswish_backward, its bits; a NaN x passes dy). <paramref name="x"/> is the input. <paramref name="output"/> may be dy or x.
    /// </summary>
    public Tensor HardswishBackward(Tensor dy, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), x, nameof(x));
        return RunElementwise(ElementwiseOp.HardswishBackward, dy, nameof(dy), x, nameof(x), 0f, output);
    }

    /// <summary>
    /// tanh(x) element by element, as torch.tanh (a GAN generator's output, Mish's inner function), from IEEE-exact
    /// operations so the CPU loops and the kernel give the same bits: within 1.75 ulp of float64, 1.50 seen (torch's CPU tanh is within
    /// 1 ulp; the two are within 1 ulp of each other on TanhTests' values, not bit for bit). ±0 stays, ±∞ gives ±1, a NaN stays NaN. Into <paramref name="output"/> or a
    /// new tensor; returns it. <paramref name="output"/> may be x.
    /// </summary>
    public Tensor Tanh(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Tanh, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = tanh(x) from dy = ∂loss/∂y and the tanh's output <paramref name="y"/>: dy·(1 - y²) with
    /// 1 - y² one fused multiply-add, torch's tanh_backward(dy, y), its bits. <paramref name="output"/> may be dy or y.
    /// </summary>
    public Tensor TanhBackward(Tensor dy, Tensor y, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(dy, nameof(dy), y, nameof(y));
        return RunElementwise(ElementwiseOp.TanhBackward, dy, nameof(dy), y, nameof(y), 0f, output);
    }

    /// <summary>
    /// GELU element by element, as torch.nn.functional.gelu(x, approximate): <see cref="GeluApproximation.None"/> is
    /// x·Φ(x) = x·(1 + erf(x/√2))/2, <see cref="GeluApproximation.Tanh"/> 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    /// Both from IEEE-exact operations only (Cpu/Elementwise/GeluMath.cs: Φ by a polynomial below |x| = 1 and e^(-x²/2) times a
    /// fitted tail above; the tanh form as x·σ(2u) with 2u in double-float), so the CPU loops and the kernels give the
    /// same bits, and neither cancels for x &lt; 0 (torch's 1 + erf and 1 + tanh do): within 4 ulp of float64 for 'none' and
    /// 3.5 ulp for 'tanh' (GeluAccuracyTests: 3.58 and 3.14 seen on every 17th float in ±16; torch 1.13 differs from float64 by far more for x &lt; -2, see docs/library.md).
    /// ±0 stays, +∞ gives +∞, -∞ gives NaN (as torch), a NaN stays NaN (the canonical 0x7FFFFFFF); a result below
    /// the smallest subnormal is -0. Into <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be x.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="approximate"/> is not a defined <see cref="GeluApproximation"/>.</exception>
    public Tensor Gelu(Tensor x, GeluApproximation approximate = GeluApproximation.None, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckGeluApproximation(approximate);
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(approximate == GeluApproximation.Tanh ? ElementwiseOp.GeluTanh : ElementwiseOp.Gelu, x, nameof(x), null, null, 0f, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = gelu(x, approximate) from dy = ∂loss/∂y and the GELU's input <paramref name="x"/> — torch's
    /// gelu_backward(dy, x, approximate): dy·(Φ(x) + x·φ(x)) for 'none' (φ the normal density), dy·(σ + x·σ·(1 - σ)·w')
    /// for 'tanh' (σ = σ(w), w = 2√(2/π)·(x + 0.044715·x³)), the pieces of <see cref="Gelu"/> (GeluAccuracyTests states
    /// the bounds). x = ±∞ gives NaN, as torch. Into <paramref name="output"/> or a new tensor; returns it.
    /// <paramref name="output"/> may be dy or x.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="approximate"/> is not a defined <see cref="GeluApproximation"/>.</exception>
    public Tensor GeluBackward(Tensor dy, Tensor x, GeluApproximation approximate = GeluApproximation.None, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckGeluApproximation(approximate);
        CheckOperands(dy, nameof(dy), x, nameof(x));
        return RunElementwise(approximate == GeluApproximation.Tanh ? ElementwiseOp.GeluTanhBackward : ElementwiseOp.GeluBackward, dy, nameof(dy), x, nameof(x), 0f, output);
    }

    static void CheckGeluApproximation(GeluApproximation approximate)
    {
        if (approximate is not (GeluApproximation.None or GeluApproximation.Tanh))
            throw new ArgumentException($"approximate must be GeluApproximation.None or GeluApproximation.Tanh, got {(int)approximate}.", nameof(approximate));
    }

    /// <summary>
    /// a · b element by element (torch.mul of two tensors of one shape: a gate applied to features; its gradient is the
    /// op again, da = Mul(dy, b) and db = Mul(dy, a)). Into <paramref name="output"/> or a new tensor; returns it.
    /// <paramref name="output"/> may be a or b.
    /// </summary>
    public Tensor Mul(Tensor a, Tensor b, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(a, nameof(a), b, nameof(b));
        return RunElementwise(ElementwiseOp.Mul, a, nameof(a), b, nameof(b), 0f, output);
    }

    /// <summary>
    /// x &gt; 0 ? x : x · negativeSlope element by element, as torch.nn.functional.leaky_relu (YOLOv3/v4's 0.1, DCGAN's
    /// 0.2; torch's default 0.01), its compare-and-select and product, so its bits: a NaN stays NaN, -0 gives
    /// -0 · negativeSlope. <paramref name="negativeSlope"/> must be finite. Into <paramref name="output"/> or a new
    /// tensor; returns it. <paramref name="output"/> may be x (in place, as leaky_relu(x, inplace=True)).
    /// </summary>
    public Tensor LeakyRelu(Tensor x, float negativeSlope = 0.01f, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckNegativeSlope(negativeSlope);
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.LeakyRelu, x, nameof(x), null, null, negativeSlope, output);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = leaky_relu(x, negativeSlope) from dy = ∂loss/∂y: dy where x &gt; 0, else dy · negativeSlope
    /// (torch's leaky_relu_backward, its bits: x = ±0 and a NaN x give dy · negativeSlope). <paramref name="x"/> is the
    /// input; for a positive slope the output has the same sign and serves too. <paramref name="output"/> may be dy or x.
    /// </summary>
    public Tensor LeakyReluBackward(Tensor dy, Tensor x, float negativeSlope = 0.01f, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckNegativeSlope(negativeSlope);
        CheckOperands(dy, nameof(dy), x, nameof(x));
        return RunElementwise(ElementwiseOp.LeakyReluBackward, dy, nameof(dy), x, nameof(x), negativeSlope, output);
    }

    static void CheckNegativeSlope(float negativeSlope)
    {
        if (!float.IsFinite(negativeSlope))
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, $"negativeSlope must be finite, got {negativeSlope}.");
    }

    /// <summary>alpha · x element by element (torch.mul(x, alpha)), into <paramref name="output"/> or a new tensor; returns it. <paramref name="output"/> may be x.</summary>
    public Tensor Scale(Tensor x, float alpha, Tensor? output = null)
    {
        ThrowIfDisposed();
        CheckOperands(x, nameof(x), null, null);
        return RunElementwise(ElementwiseOp.Scale, x, nameof(x), null, null, alpha, output);
    }

    /// <summary>
    /// y += alpha · x in place (BLAS axpy; PyTorch's <c>y.add_(x, alpha=alpha)</c>): an SGD step is
    /// <c>AddScaled(w, -learningRate, dw)</c>, summing gradients <c>AddScaled(total, 1, g)</c>. Each element is
    /// alpha·x + y rounded once (a fused multiply-add) on every device. Returns <paramref name="y"/>. x may be y itself.
    /// </summary>
    public Tensor AddScaled(Tensor y, float alpha, Tensor x)
    {
        ThrowIfDisposed();
        CheckOperands(y, nameof(y), x, nameof(x));
        CheckNotPartlyOverlapping(y, nameof(y), x, nameof(x));
        using (EnterStream())
            Elementwise(ElementwiseOp.AddScaled, output: y, a: x, b: y, alpha);
        return y;
    }

    /// <summary>Null, shape (equal, no broadcasting) and residency checks of the operands, before any work.</summary>
    void CheckOperands(Tensor a, string aName, Tensor? b, string? bName)
    {
        ArgumentNullException.ThrowIfNull(a, aName);
        if (bName is not null)
        {
            ArgumentNullException.ThrowIfNull(b, bName);
            if (!b.Shape.Equals(a.Shape))
                throw new ArgumentException($"{bName} has shape {b.Shape} but {aName} has shape {a.Shape}; element-wise ops need equal shapes (no broadcasting).", bName);
        }
        CheckResident(a, aName);
        if (b is not null) CheckResident(b, bName!);
    }

    /// <summary>Checks the output (shape, memory, no partial overlap with an input) or allocates one, runs the op on the stream, returns the output.</summary>
    Tensor RunElementwise(ElementwiseOp op, Tensor a, string aName, Tensor? b, string? bName, float alpha, Tensor? output)
    {
        if (output is not null)
        {
            CheckTensorShape(output, a.Shape, nameof(output));
            CheckResident(output, nameof(output));
            CheckNotPartlyOverlapping(output, nameof(output), a, aName);
            if (b is not null) CheckNotPartlyOverlapping(output, nameof(output), b, bName!);
        }
        var result = output ?? Memory.Allocate(a.Shape);
        try
        {
            using (EnterStream())
                Elementwise(op, result, a, b, alpha);
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>
    /// Refuses a written tensor that shares some but not all of its elements with a read one: a kernel's threads would
    /// read elements others have already written. The very same memory (in place, or a Reshape view) is fine.
    /// </summary>
    void CheckNotPartlyOverlapping(Tensor written, string writtenName, Tensor read, string readName)
    {
        // Host tensors always span a whole array, so sharing one means sharing every element.
        if (ReferenceEquals(written, read) || RangeOf(written) is not { } w || RangeOf(read) is not { } r) return;
        if (w == r || w.Start >= r.Start + r.Bytes || r.Start >= w.Start + w.Bytes) return;
        throw new ArgumentException(
            $"{writtenName} partly overlaps {readName} (bytes [0x{w.Start:x}, +{w.Bytes}) and [0x{r.Start:x}, +{r.Bytes})); element-wise ops work in place on the same memory or on separate memory, not on shifted views.",
            writtenName);
    }

    /// <summary>The device bytes a tensor covers; null for host tensors.</summary>
    (ulong Start, ulong Bytes)? RangeOf(Tensor t) => t switch
    {
        DeviceTensor d => (d.Pointer, (ulong)d.ByteCount),
        HostTensor => null,
        _ when Memory is IPtxRuntime rt => (rt.PointerOf(t), (ulong)t.Shape.ElementCount * sizeof(float)),
        _ => null,
    };

    /// <summary>
    /// output = op(a, b, alpha) on the engine's memory, on the caller's stream scope: a SIMD loop on the host; on a device
    /// a kernel of kernels/elementwise.ptx, ordered on the stream without a host wait. The kernels need only the driver,
    /// and every GPU engine's memory is its GPU runtime, which launches them; the minimum driver discovery accepts (CUDA
    /// 11.0) JIT-compiles their PTX ISA 7.0. So the host copies (ConvEngine.HostCopies.cs) serve only a device memory that cannot launch
    /// kernels at all: the stand-in device memories of tests.
    /// </summary>
    void Elementwise(ElementwiseOp op, Tensor output, Tensor a, Tensor? b, float alpha)
    {
        if (Memory is IPtxRuntime rt)
            ElementwiseKernels.Launch(rt, op, rt.PointerOf(output), rt.PointerOf(a), b is null ? 0 : rt.PointerOf(b), alpha, output.Shape.ElementCount);
        else
        {
            var ho = HostBuffer(output);
            HostElementwise(op, HostValues(a)!, HostValues(b), alpha, ho);
            StoreHost(ho, output); // e.g. an SGD step into weights run as constant ones: their prepared copy is dropped
        }
    }

    /// <summary>
    /// The host element-wise loops over the CPU backend's worker threads (the pools split over the same workers); on an
    /// engine without a CPU backend, one loop on the calling thread. Set once when the engine opens.
    /// </summary>
    readonly ParallelElementwise hostElementwise;

    /// <summary>
    /// output = op(a, b, alpha) on host arrays: over the CPU backend's worker threads when the engine has one and the
    /// tensor is large (<see cref="ParallelElementwise"/>), else one SIMD loop on this thread. The same bits either way.
    /// </summary>
    void HostElementwise(ElementwiseOp op, float[] a, float[]? b, float alpha, float[] output) =>
        hostElementwise.Run(op, a, b, alpha, output);
}
