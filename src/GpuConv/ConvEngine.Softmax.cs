using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Softmax and LogSoftmax over one dimension of a tensor in <see cref="Memory"/>, forward and backward: torch's
/// F.softmax(x, dim) / F.log_softmax(x, dim) and their gradients, in float32 with the max subtracted. dim counts from
/// the end when negative, as torch. dim = 1 of NCHW is a per-pixel softmax over the channels (segmentation), dim = −1
/// of [N, C] a classification head's. The exact fp32 definition (the exponential and logarithm from IEEE-exact
/// operations, the reductions' order) is <see cref="CpuSoftmax"/>'s; a GPU gives the same bits.
/// <para>
/// On a GPU each call is one kernel of kernels/softmax.ptx on the engine's stream (one 32-thread block per row when the
/// softmax dimension is the last one that is not 1, else one thread per slice) and returns without waiting; on the CPU
/// engine it is a SIMD loop (split over the engine's worker threads for large tensors) that has finished on return. A
/// device memory that cannot launch kernels (the tests' stand-ins) goes through host copies and the same loops. The
/// output is a new tensor or the caller's, which must share no memory with an input.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>y = softmax(x, dim) = e^(x − max) / Σ e^(x − max) over dimension <paramref name="dim"/>; into <paramref name="output"/> or a new tensor.</summary>
    public Tensor Softmax(Tensor x, int dim, Tensor? output = null) => RunSoftmax(x, dim, log: false, output);

    /// <summary>y = log_softmax(x, dim) = (x − max) − ln Σ e^(x − max) over dimension <paramref name="dim"/>; into <paramref name="output"/> or a new tensor.</summary>
    public Tensor LogSoftmax(Tensor x, int dim, Tensor? output = null) => RunSoftmax(x, dim, log: true, output);

    /// <summary>
    /// The gradient of <see cref="Softmax"/> from dy = ∂loss/∂y and the forward's output y: dx = y·(dy − Σ dy·y), the sum
    /// over dimension <paramref name="dim"/> (torch's _softmax_backward_data); into <paramref name="dx"/> or a new tensor.
    /// </summary>
    public Tensor SoftmaxBackward(Tensor dy, Tensor y, int dim, Tensor? dx = null) => RunSoftmaxBackward(dy, y, dim, log: false, dx);

    /// <summary>
    /// The gradient of <see cref="LogSoftmax"/> from dy = ∂loss/∂y and the forward's output y: dx = dy − e^y·Σ dy, the sum
    /// over dimension <paramref name="dim"/> (torch's _log_softmax_backward_data); into <paramref name="dx"/> or a new tensor.
    /// </summary>
    public Tensor LogSoftmaxBackward(Tensor dy, Tensor y, int dim, Tensor? dx = null) => RunSoftmaxBackward(dy, y, dim, log: true, dx);

    Tensor RunSoftmax(Tensor x, int dim, bool log, Tensor? output)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        var s = SoftmaxShape.Of(x.Shape, dim, nameof(x), nameof(dim));
        CheckResident(x, nameof(x));
        if (output is not null)
        {
            CheckTensorShape(output, x.Shape, nameof(output));
            CheckResident(output, nameof(output));
            if (Overlaps(output, x))
                throw new ArgumentException("output shares memory with x; softmax reads x after writing the output, so pass a separate tensor.", nameof(output));
        }

        Tensor? y = null;
        try
        {
            y = output ?? Memory.Allocate(x.Shape);
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                    SoftmaxKernels.LaunchForward(rt, s, log, rt.PointerOf(x), rt.PointerOf(y));
                else
                {
                    float[] hy = HostBuffer(y);
                    CpuSoftmax.Forward(HostValues(x)!, s, log, hy, HostWorkers);
                    StoreHost(hy, y);
                }
            return y;
        }
        catch
        {
            if (output is null) (y as IDisposable)?.Dispose();
            throw;
        }
    }

    Tensor RunSoftmaxBackward(Tensor dy, Tensor y, int dim, bool log, Tensor? dx)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(y);
        var s = SoftmaxShape.Of(y.Shape, dim, nameof(y), nameof(dim));
        CheckTensorShape(dy, y.Shape, nameof(dy));
        CheckResident(dy, nameof(dy));
        CheckResident(y, nameof(y));
        if (dx is not null)
        {
            CheckTensorShape(dx, y.Shape, nameof(dx));
            CheckResident(dx, nameof(dx));
            if (Overlaps(dx, dy))
                throw new ArgumentException("dx shares memory with dy; the softmax gradient reads dy after writing dx, so pass a separate tensor.", nameof(dx));
            if (Overlaps(dx, y))
                throw new ArgumentException("dx shares memory with y; the softmax gradient reads y after writing dx, so pass a separate tensor.", nameof(dx));
        }

        Tensor? gx = null;
        try
        {
            gx = dx ?? Memory.Allocate(y.Shape);
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                    SoftmaxKernels.LaunchBackward(rt, s, log, rt.PointerOf(dy), rt.PointerOf(y), rt.PointerOf(gx));
                else
                {
                    float[] hdx = HostBuffer(gx);
                    CpuSoftmax.Backward(HostValues(dy)!, HostValues(y)!, s, log, hdx, HostWorkers);
                    StoreHost(hdx, gx);
                }
            return gx;
        }
        catch
        {
            if (dx is null) (gx as IDisposable)?.Dispose();
            throw;
        }
    }
}
