using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Adaptive pooling on tensors in <see cref="Memory"/>: PyTorch's adaptive_avg_pool{1,2,3}d / adaptive_max_pool{1,2,3}d
/// to any output size (a VGG's or AlexNet's head at 7 × 7 or 6 × 6 whatever the input, PSPNet's pyramid bins, CBAM's
/// channel attention), and their gradients. Windows and summation order: <see cref="AdaptivePoolGeometry"/>. Inputs are
/// [N, C, spatial…] with 1–3 spatial dimensions; outputSize holds one size for every dimension or one per dimension.
/// The output is a new tensor or <c>output</c>, which must not share memory with the input. On a GPU each call is a
/// kernel of kernels/adaptive_pool.ptx on the engine's stream (two for the max pool's gradient) and returns without
/// waiting; on the CPU engine a loop that has finished on return. Both give the same bits (NaN payloads aside).
/// For an output size of 1, <see cref="GlobalAvgPool"/> is the faster average (a different, fixed summation order).
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>torch.nn.functional.adaptive_avg_pool{1,2,3}d(x, outputSize). Into <paramref name="output"/> or a new tensor; returns it.</summary>
    public Tensor AdaptiveAvgPool(Tensor x, IReadOnlyList<int> outputSize, Tensor? output = null) => AdaptivePool(x, outputSize, output, max: false);

    /// <summary>
    /// torch.nn.functional.adaptive_max_pool{1,2,3}d(x, outputSize): the largest element of each window, a NaN in a
    /// window gives NaN. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    public Tensor AdaptiveMaxPool(Tensor x, IReadOnlyList<int> outputSize, Tensor? output = null) => AdaptivePool(x, outputSize, output, max: true);

    /// <summary>
    /// dx = ∂loss/∂x of y = AdaptiveAvgPool(x, dy's spatial size) from dy = ∂loss/∂y, for an input of
    /// <paramref name="inputShape"/>: each dy / window size added to every input of its window. Into <paramref name="output"/> or a new tensor.
    /// </summary>
    public Tensor AdaptiveAvgPoolBackward(Tensor dy, TensorShape inputShape, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(inputShape);
        return AdaptivePoolBackward(dy, null, inputShape, output, max: false);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = AdaptiveMaxPool(x, dy's spatial size) from dy = ∂loss/∂y: each dy goes to its window's
    /// maximum (recomputed from <paramref name="x"/>, the forward's input, as the forward picks it: the first of equal
    /// values, a NaN), summed where windows share it. Into <paramref name="output"/> or a new tensor of x's shape.
    /// </summary>
    public Tensor AdaptiveMaxPoolBackward(Tensor dy, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        return AdaptivePoolBackward(dy, x, x.Shape, output, max: true);
    }

    Tensor AdaptivePool(Tensor x, IReadOnlyList<int> outputSize, Tensor? output, bool max)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        var outShape = AdaptivePoolGeometry.OutputShape(x.Shape, outputSize);
        CheckResident(x, nameof(x));
        var g = AdaptivePoolGeometry.Of(x.Shape, outShape);
        var result = TakePoolOutput(output, outShape, x);
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    if (max) AdaptivePoolKernels.LaunchMax(rt, rt.PointerOf(result), 0, rt.PointerOf(x), g);
                    else AdaptivePoolKernels.LaunchAverage(rt, rt.PointerOf(result), rt.PointerOf(x), g);
                }
                else
                {
                    float[] hx = HostValues(x)!, hy = HostBuffer(result);
                    if (max) CpuAdaptivePooling.Max(g, hx, hy, HostWorkers);
                    else CpuAdaptivePooling.Average(g, hx, hy, HostWorkers);
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

    Tensor AdaptivePoolBackward(Tensor dy, Tensor? x, TensorShape inputShape, Tensor? output, bool max)
    {
        ArgumentNullException.ThrowIfNull(dy);
        string inputName = max ? "x" : nameof(inputShape);
        // dy's spatial size is the forward's outputSize: the input shape must admit it, and dy must be [N, C, …] of it.
        if (dy.Shape.Rank != inputShape.Rank || dy.Shape.Rank < 3)
            throw new ArgumentException($"dy has shape {dy.Shape} but {inputName} is {inputShape}; dy must be [N, C, outputSize…] of the same rank.", nameof(dy));
        for (int d = 2; d < dy.Shape.Rank; d++)
            if (dy.Shape.Dims[d] < 1)
                throw new ArgumentException($"dy has shape {dy.Shape}: its spatial sizes are the forward's outputSize, each at least 1.", nameof(dy));
        var outShape = AdaptivePoolGeometry.OutputShape(inputShape, [.. dy.Shape.Dims[2..]], inputName);
        CheckTensorShape(dy, outShape, nameof(dy));
        if (x is not null) CheckResident(x, nameof(x));
        CheckResident(dy, nameof(dy));
        var g = AdaptivePoolGeometry.Of(inputShape, outShape, inputName);
        var result = TakePoolOutput(output, inputShape, dy, nameof(dy));
        try
        {
            if (x is not null && output is not null) TakePoolOutput(output, inputShape, x, nameof(x));
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    if (max)
                    {
                        // The argmax pass into a scratch buffer (one .u32 per output, in a float tensor's memory), then
                        // the gather; both on the stream, so the buffer can go back at once (ScratchTensors).
                        var argmax = scratch.Rent(Memory, outShape);
                        try
                        {
                            AdaptivePoolKernels.LaunchMax(rt, 0, rt.PointerOf(argmax), rt.PointerOf(x!), g);
                            AdaptivePoolKernels.LaunchMaxBackward(rt, rt.PointerOf(result), rt.PointerOf(argmax), rt.PointerOf(dy), g);
                        }
                        finally { scratch.Return(argmax); }
                    }
                    else AdaptivePoolKernels.LaunchAverageBackward(rt, rt.PointerOf(result), rt.PointerOf(dy), g);
                }
                else
                {
                    var hdx = HostBuffer(result);
                    if (max) CpuAdaptivePooling.MaxBackward(g, HostValues(x)!, HostValues(dy)!, hdx, HostWorkers);
                    else CpuAdaptivePooling.AverageBackward(g, HostValues(dy)!, hdx, HostWorkers);
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
}
