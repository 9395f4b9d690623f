using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Upsampling on tensors in <see cref="Memory"/>: PyTorch's <c>F.interpolate</c> / nn.Upsample (nearest, nearest-exact,
/// linear, bilinear, trilinear; see <see cref="UpsampleSpec"/>) and its gradient, so U-Net, FPN and YOLO decoders keep
/// their activations on the GPU.
/// <para>
/// The output is a new tensor or <c>output</c>, which must not share memory with the input. On a GPU each call is one
/// kernel of kernels/upsample.ptx on the engine's stream and returns without waiting; on the CPU engine it is a loop
/// (split over the worker threads for large tensors) that has finished on return. Both give the same bits: the same
/// float32 expressions in the same order (<see cref="CpuUpsampling"/>).
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// y = F.interpolate(x, size | scale_factor, mode, align_corners): x [N, C, spatial…] resampled as <paramref name="spec"/>
    /// says. Into <paramref name="output"/> or a new tensor of <see cref="UpsampleSpec.OutputShape"/>; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">x's rank does not match the spec, an output extent is empty or too large, or the
    /// output has the wrong shape, lives elsewhere or overlaps x.</exception>
    public Tensor Upsample(UpsampleSpec spec, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        spec.CheckInput(x.Shape, nameof(x));
        CheckResident(x, nameof(x));
        var g = UpsampleGeometry.Of(spec, x.Shape);
        CheckUpsampleFits(g, nameof(x));
        var outShape = spec.OutputShape(x.Shape);
        var result = TakeUpsampleOutput(output, outShape, x, nameof(x));
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt) UpsampleKernels.LaunchForward(rt, rt.PointerOf(result), rt.PointerOf(x), g);
                else
                {
                    var hy = HostBuffer(result);
                    CpuUpsampling.Forward(g, HostValues(x)!, hy, HostWorkers);
                    StoreHost(hy, result);
                }
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = Upsample(spec, x) from dy = ∂loss/∂y, for an input of <paramref name="inputShape"/>: each input
    /// element gets the sum of the gradients of the outputs that read it (nearest: the copies; linear: times their weights),
    /// PyTorch's autograd of F.interpolate. Gathered per input element, outputs in ascending order from +0 (see
    /// <see cref="CpuUpsampling"/>), the same on every device; no atomics. Into <paramref name="output"/> or a new tensor.
    /// </summary>
    public Tensor UpsampleBackward(UpsampleSpec spec, Tensor dy, TensorShape inputShape, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(inputShape);
        spec.CheckInput(inputShape, nameof(inputShape));
        var g = UpsampleGeometry.Of(spec, inputShape);
        CheckUpsampleFits(g, nameof(inputShape));
        CheckTensorShape(dy, spec.OutputShape(inputShape, nameof(inputShape)), nameof(dy));
        CheckResident(dy, nameof(dy));
        var result = TakeUpsampleOutput(output, inputShape, dy, nameof(dy));
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt) UpsampleKernels.LaunchBackward(rt, rt.PointerOf(result), rt.PointerOf(dy), g);
                else
                {
                    var hdx = HostBuffer(result);
                    CpuUpsampling.Backward(g, HostValues(dy)!, hdx, HostWorkers);
                    StoreHost(hdx, result);
                }
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>Both sides must fit one buffer (and the kernels' 32-bit indices): fewer than 2^31 elements.</summary>
    static void CheckUpsampleFits(in UpsampleGeometry g, string inputName)
    {
        if (g.OutCount > Array.MaxLength || g.InCount > Array.MaxLength)
            throw new ArgumentException($"the upsample has {g.InCount} input and {g.OutCount} output elements; each side must be at most {Array.MaxLength} (one buffer).", inputName);
    }

    /// <summary>The given output (shape, memory, sharing no element with <paramref name="input"/>) or a new tensor.</summary>
    Tensor TakeUpsampleOutput(Tensor? output, TensorShape shape, Tensor input, string inputName) =>
        TakeSeparateOutput(output, shape, input, inputName, "an upsample reads elements other than the one it writes");
}
