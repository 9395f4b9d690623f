using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Pooling on tensors in <see cref="Memory"/>, so a whole CNN (a ResNet's stem max pool, its head's global average)
/// runs without host round trips; and the gradients of max and average pooling for training. PyTorch's semantics: <see cref="PoolSpec"/> for the parameters, NaN propagated by
/// max pooling, PyTorch's divisors for average pooling (see <see cref="PoolGeometry"/> for the exact definition).
/// <para>
/// Inputs are [N, C, spatial…] with 1–3 spatial dimensions. The output is a new tensor or <c>output</c>, which must not
/// share memory with the input (a window reads its neighbours). On a GPU each call is one kernel of kernels/pool.ptx on
/// the engine's stream and returns without waiting; on the CPU engine it is a loop that has finished on return. Both
/// give the same bits (NaN payloads aside).
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// torch.nn.functional.max_pool{1,2,3}d(x, kernel, stride, padding, dilation, ceil_mode): the largest element of
    /// each window, −∞ padding; a NaN in a window gives NaN. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    public Tensor MaxPool(PoolSpec spec, Tensor x, Tensor? output = null) => Pool(spec, x, output, max: true);

    /// <summary>
    /// torch.nn.functional.avg_pool{1,2,3}d(x, kernel, stride, padding, ceil_mode, count_include_pad): each window's
    /// sum divided by its size (padding included or not, as <see cref="PoolSpec.CountIncludePad"/> says). The spec's
    /// dilation must be 1 (average pooling has none). Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    public Tensor AvgPool(PoolSpec spec, Tensor x, Tensor? output = null) => Pool(spec, x, output, max: false);

    /// <summary>
    /// The mean of each (n, c) plane: adaptive_avg_pool{1,2,3}d(x, 1), [N, C, spatial…] → [N, C, 1, …] (the same rank),
    /// e.g. a ResNet's head before its classifier (a 1×1 convolution then). Summation order, fixed on every device:
    /// 256 partial sums over elements t, t + 256, … in turn, then a pairwise tree (<see cref="CpuPooling.GlobalAverage"/>);
    /// fp32 throughout. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    public Tensor GlobalAvgPool(Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        var shape = x.Shape;
        if (shape.Rank is < 3 or > 2 + PoolSpec.MaxRank)
            throw new ArgumentException($"x has shape {shape}; a global average pool needs [N, C] and 1 to {PoolSpec.MaxRank} spatial dimensions.", nameof(x));
        long spatial = 1;
        for (int d = 2; d < shape.Rank; d++) spatial *= shape.Dims[d];
        CheckResident(x, nameof(x));
        if (output is not null) CheckPooledShape(output, null, shape, nameof(output));
        var result = TakePoolOutput(output, output?.Shape ?? PooledShape(null, shape), x);
        try
        {
            long planes = (long)shape.Dims[0] * shape.Dims[1];
            using (EnterStream())
                if (Memory is IPtxRuntime rt) PoolKernels.LaunchGlobalAverage(rt, rt.PointerOf(result), rt.PointerOf(x), planes, spatial);
                else
                {
                    var hy = HostBuffer(result);
                    CpuPooling.GlobalAverage(HostValues(x)!, hy, (int)planes, spatial, workers: HostWorkers);
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
    /// dx = ∂loss/∂x of y = MaxPool(spec, x) from dy = ∂loss/∂y: each dy goes to its window's maximum (recomputed from
    /// <paramref name="x"/>, the forward's input, as the forward picks it: PyTorch's index, the first of equal values, a
    /// NaN), summed where windows share a maximum, in output order — PyTorch's max_pool backward, the same bits. A window
    /// with no tap inside the input (possible with dilation) passes nothing. Into <paramref name="output"/> or a new tensor of x's shape.
    /// The gradient comes first, as in PyTorch's max_pool2d_with_indices_backward(grad_output, self, …) and this engine's
    /// AvgPoolBackward and BackwardData.
    /// </summary>
    public Tensor MaxPoolBackward(PoolSpec spec, Tensor dy, Tensor x, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        return PoolBackward(spec, x, x.Shape, dy, output, max: true);
    }

    /// <summary>
    /// dx = ∂loss/∂x of y = AvgPool(spec, x) from dy = ∂loss/∂y, for an input of <paramref name="inputShape"/>: each
    /// dy / divisor added to every input of its window, in output order — PyTorch's avg_pool backward, the same bits.
    /// GlobalAvgPool's gradient is this with the kernel the input's spatial size. Into <paramref name="output"/> or a new tensor.
    /// </summary>
    public Tensor AvgPoolBackward(PoolSpec spec, Tensor dy, TensorShape inputShape, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(inputShape);
        return PoolBackward(spec, null, inputShape, dy, output, max: false);
    }

    Tensor PoolBackward(PoolSpec spec, Tensor? x, TensorShape inputShape, Tensor dy, Tensor? output, bool max)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        CheckPoolSpec(spec, max);
        string inputName = max ? "x" : nameof(inputShape);
        spec.CheckInput(inputShape, inputName);
        CheckPooledShape(dy, spec, inputShape, nameof(dy));
        var outShape = dy.Shape;
        if (x is not null) CheckResident(x, nameof(x));
        CheckResident(dy, nameof(dy));
        var g = PoolGeometry.Of(spec, inputShape, outShape, inputName);
        if (!max) CheckAverageDivisor(spec, inputShape);
        var result = TakePoolOutput(output, inputShape, dy, nameof(dy));
        try
        {
            if (x is not null && output is not null) TakePoolOutput(output, inputShape, x, nameof(x));
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                    PoolKernels.LaunchBackward(rt, max, rt.PointerOf(result), x is null ? 0 : rt.PointerOf(x), rt.PointerOf(dy), g);
                else
                {
                    var hdx = HostBuffer(result);
                    if (max) CpuPooling.MaxBackward(g, HostValues(x)!, HostValues(dy)!, hdx, HostWorkers);
                    else CpuPooling.AverageBackward(g, HostValues(dy)!, hdx, HostWorkers);
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

    Tensor Pool(PoolSpec spec, Tensor x, Tensor? output, bool max)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        CheckPoolSpec(spec, max);
        spec.CheckInput(x.Shape, nameof(x));
        CheckResident(x, nameof(x));
        if (output is not null) CheckPooledShape(output, spec, x.Shape, nameof(output));
        var outShape = output?.Shape ?? PooledShape(spec, x.Shape);
        var g = PoolGeometry.Of(spec, x.Shape, outShape);
        if (!max) CheckAverageDivisor(spec, x.Shape);
        var result = TakePoolOutput(output, outShape, x);
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt) PoolKernels.Launch(rt, max, rt.PointerOf(result), rt.PointerOf(x), g);
                else
                {
                    float[] hx = HostValues(x)!, hy = HostBuffer(result);
                    if (max) CpuPooling.Max(g, hx, hy, HostWorkers);
                    else CpuPooling.Average(g, hx, hy, HostWorkers);
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
    /// Throws as <see cref="CheckTensorShape"/> does unless <paramref name="t"/> has the shape a pool gives for
    /// <paramref name="input"/> (checked by <see cref="PoolSpec.CheckInput"/> or GlobalAvgPool), <paramref name="spec"/>
    /// null meaning the global average's [N, C, 1, …]: compared dimension by dimension, so the expected shape is built
    /// only for the message and a warm call with its output allocates nothing.
    /// </summary>
    static void CheckPooledShape(Tensor t, PoolSpec? spec, TensorShape input, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        var dims = t.Shape.Dims;
        bool same = dims.Length == input.Rank;
        for (int d = 0; same && d < dims.Length; d++)
            same = dims[d] == (d < 2 ? input.Dims[d] : spec is null ? 1 : spec.OutputSize(d - 2, input.Dims[d]));
        if (!same) CheckTensorShape(t, PooledShape(spec, input), name);
    }

    /// <summary>The shape a pool gives for <paramref name="input"/>: [N, C, out…]; spec null: the global average's [N, C, 1, …].</summary>
    static TensorShape PooledShape(PoolSpec? spec, TensorShape input)
    {
        if (spec is not null) return spec.OutputShape(input);
        var dims = new int[input.Rank];
        dims[0] = input.Dims[0];
        dims[1] = input.Dims[1];
        for (int d = 2; d < dims.Length; d++) dims[d] = 1;
        return new TensorShape(dims);
    }

    /// <summary>The spec's own checks, and no dilation for an average pool (PyTorch's avg_pool takes none); then <see cref="PoolSpec.CheckInput"/> checks the input.</summary>
    static void CheckPoolSpec(PoolSpec spec, bool max)
    {
        spec.Validate();
        if (!max && !spec.IsDense)
            throw new ArgumentException($"AvgPool has no dilation (PyTorch's avg_pool takes none), got Dilation = [{string.Join(", ", spec.Dilation!)}].", nameof(spec));
    }

    /// <summary>
    /// Refuses an average pool whose divisor would not fit an int: with count_include_pad it is the window's padded size,
    /// a 32-bit integer in CpuPooling and kernels/pool.ptx (PyTorch's is 64-bit), which past int.MaxValue wrapped around
    /// to a wrong average. The first window is the largest: min(k, in + 2p) per dimension. The clipped divisor is at
    /// most the plane's size, which PoolGeometry keeps below 2^31.
    /// </summary>
    static void CheckAverageDivisor(PoolSpec spec, TensorShape input)
    {
        if (!spec.CountIncludePad) return;
        Int128 size = 1; // up to three factors below 2^32 each
        for (int d = 0; d < spec.Rank; d++)
            size *= Math.Min(spec.Kernel[d], input.Dims[2 + d] + 2L * spec.PaddingOf(d));
        if (size > int.MaxValue)
            throw new ArgumentException(
                $"AvgPool's padded window holds {size} elements (Kernel = [{string.Join(", ", spec.Kernel)}], Padding = [{string.Join(", ", Enumerable.Range(0, spec.Rank).Select(spec.PaddingOf))}], input {input}); with count_include_pad its size is the divisor, which must be at most {int.MaxValue}.",
                nameof(spec));
    }

    /// <summary>The given output (shape, memory, sharing no element with the input <paramref name="x"/>) or a new tensor.</summary>
    Tensor TakePoolOutput(Tensor? output, TensorShape shape, Tensor x, string xName = "x") =>
        TakeSeparateOutput(output, shape, x, xName, "a pool reads each window's neighbours");
}
