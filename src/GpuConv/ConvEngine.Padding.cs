using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Padding on tensors in <see cref="Memory"/>: PyTorch's <c>F.pad</c> over the spatial dimensions of NC[D]HW (the layers
/// nn.ConstantPad*d, nn.ReflectionPad*d, nn.ReplicationPad*d, nn.CircularPad*d; see <see cref="PadSpec"/> for the
/// parameters and their order) and its gradient for training. The convolutions with a <see cref="Conv.PaddingMode"/> run
/// the same loops and kernels on the way in and out.
/// <para>
/// The output is a new tensor or <c>output</c>, which must not share memory with the input. On a GPU each call is one
/// kernel of kernels/pad.ptx on the engine's stream and returns without waiting; on the CPU engine it is a loop (row
/// copies, split over the worker threads for large tensors) that has finished on return. Both give the same bits.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// y = F.pad(x, spec.ToTorch(), mode, value): x [N, C, spatial…] padded by <paramref name="spec"/>'s per-side pads,
    /// the border filled as its mode says. Into <paramref name="output"/> or a new tensor of the padded shape; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">x's rank does not match the spec, a reflect pad is not below the size (circular:
    /// above it), or the output has the wrong shape, lives elsewhere or overlaps x.</exception>
    public Tensor Pad(PadSpec spec, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        spec.CheckInput(x.Shape, nameof(x));
        CheckResident(x, nameof(x));
        var g = PadGeometry.Of(spec, x.Shape);
        CheckPadFits(g, nameof(x));
        if (output is not null) CheckPaddedShape(output, g, x.Shape, nameof(output));
        var result = TakePadOutput(output, output?.Shape ?? spec.OutputShape(x.Shape), x, nameof(x));
        try
        {
            using (EnterStream())
                PadInto(g, x, result);
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = Pad(spec, x) from dy = ∂loss/∂y (the padded shape), for an input of <paramref name="inputShape"/>:
    /// each input element gets the sum of the gradients of the padded elements that copied it (the border folds back onto
    /// the elements it mirrors, repeats or wraps; a constant border passes nothing) — PyTorch's autograd of F.pad. Sums in
    /// a fixed order (see <see cref="CpuPadding.Backward"/>), the same on every device. Into <paramref name="output"/> or a
    /// new tensor; with <paramref name="accumulate"/>, added to what <paramref name="output"/> holds (needs it).
    /// </summary>
    public Tensor PadBackward(PadSpec spec, Tensor dy, TensorShape inputShape, Tensor? output = null, bool accumulate = false)
    {
        ThrowIfDisposed();
        CheckAccumulate(accumulate, output);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(inputShape);
        spec.CheckInput(inputShape, nameof(inputShape));
        var g = PadGeometry.Of(spec, inputShape);
        CheckPadFits(g, nameof(inputShape));
        CheckPaddedShape(dy, g, inputShape, nameof(dy));
        CheckResident(dy, nameof(dy));
        var result = TakePadOutput(output, inputShape, dy, nameof(dy));
        try
        {
            using (EnterStream())
                PadBackwardInto(g, dy, result, accumulate);
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>y = pad(x) in <see cref="Memory"/> (or on the host, for host tensors), on the caller's stream scope.</summary>
    void PadInto(in PadGeometry g, Tensor x, Tensor y)
    {
        if (Memory is IPtxRuntime rt) PadKernels.LaunchForward(rt, rt.PointerOf(y), rt.PointerOf(x), g);
        else
        {
            var hy = HostBuffer(y);
            CpuPadding.Forward(g, HostValues(x)!, hy, HostWorkers);
            StoreHost(hy, y);
        }
    }

    /// <summary>dx (=, or += with <paramref name="accumulate"/>) the gradient of pad from dy, as <see cref="PadInto"/> runs.</summary>
    void PadBackwardInto(in PadGeometry g, Tensor dy, Tensor dx, bool accumulate)
    {
        if (Memory is IPtxRuntime rt) PadKernels.LaunchBackward(rt, rt.PointerOf(dx), rt.PointerOf(dy), g, accumulate);
        else
        {
            var hdx = accumulate ? HostValues(dx)! : HostBuffer(dx);
            CpuPadding.Backward(g, HostValues(dy)!, hdx, accumulate, HostWorkers);
            StoreHost(hdx, dx);
        }
    }

    /// <summary>Both sides of a pad must fit one buffer (and the kernels' 32-bit indices): fewer than 2^31 elements.</summary>
    static void CheckPadFits(in PadGeometry g, string inputName)
    {
        if (g.OutCount > Array.MaxLength)
            throw new ArgumentException($"the padded tensor would have {g.OutCount} elements, more than one buffer may hold ({Array.MaxLength}).", inputName);
    }

    /// <summary>
    /// Throws as <see cref="CheckTensorShape"/> does unless <paramref name="t"/> has the padded shape of <paramref name="input"/>;
    /// compared dimension by dimension, so a warm call with its output allocates nothing.
    /// </summary>
    static void CheckPaddedShape(Tensor t, in PadGeometry g, TensorShape input, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        var dims = t.Shape.Dims;
        int rank = input.Rank - 2;
        Span<int> outSize = [g.OutD, g.OutH, g.OutW];
        bool same = dims.Length == input.Rank && dims[0] == input.Dims[0] && dims[1] == input.Dims[1];
        for (int d = 0; same && d < rank; d++)
            same = dims[2 + d] == outSize[3 - rank + d];
        if (same) return;
        var expected = new int[input.Rank];
        expected[0] = input.Dims[0];
        expected[1] = input.Dims[1];
        for (int d = 0; d < rank; d++) expected[2 + d] = outSize[3 - rank + d];
        CheckTensorShape(t, new TensorShape(expected), name);
    }

    /// <summary>The given output (shape, memory, sharing no element with <paramref name="input"/>) or a new tensor.</summary>
    Tensor TakePadOutput(Tensor? output, TensorShape shape, Tensor input, string inputName) =>
        TakeSeparateOutput(output, shape, input, inputName, "a pad reads elements other than the one it writes");
}
