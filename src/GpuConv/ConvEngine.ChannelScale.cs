using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>What <see cref="ConvEngine.ScaleChannelsBackward"/> returns: ∂loss/∂x (x's shape) and ∂loss/∂scale (scale's shape).</summary>
public readonly record struct ChannelScaleGradients(Tensor Dx, Tensor DScale);

/// <summary>
/// x · s with one factor per (n, c) plane — PyTorch's <c>x * s</c> with s of shape [N, C, 1, …] — the end of a
/// squeeze-and-excitation block (EfficientNet, MobileNetV3, SENet: s = sigmoid(conv(act(conv(GlobalAvgPool(x)))))), and
/// its gradient, on tensors in <see cref="Memory"/>. On a GPU each is a kernel of kernels/channel_scale.ptx on the stream
/// (no wait); on the CPU engine a loop that has finished on return; both give the same bits.
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// output[n, c, …] = x[n, c, …] · scale[n, c] (one IEEE product each). <paramref name="scale"/> holds N·C values:
    /// [N, C] or [N, C, 1, …] (what GlobalAvgPool and 1×1 convolutions give). Into <paramref name="output"/> (x's shape; may be
    /// x itself, in place) or a new tensor; returns it.
    /// </summary>
    public Tensor ScaleChannels(Tensor x, Tensor scale, Tensor? output = null)
    {
        ThrowIfDisposed();
        var (planes, spatial) = CheckChannelScale(x, nameof(x), scale);
        if (output is not null)
        {
            CheckTensorShape(output, x.Shape, nameof(output));
            CheckResident(output, nameof(output));
            CheckNotPartlyOverlapping(output, nameof(output), x, nameof(x));
            CheckDisjoint(output, nameof(output), scale, nameof(scale));
        }
        var result = output ?? Memory.Allocate(x.Shape);
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                    ChannelScaleKernels.LaunchScale(rt, rt.PointerOf(result), rt.PointerOf(x), rt.PointerOf(scale), planes, spatial);
                else
                {
                    var hy = HostBuffer(result);
                    CpuChannelScale.Scale(HostValues(x)!, HostValues(scale)!, hy, (int)planes, spatial, HostWorkers);
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
    /// The gradient of y = ScaleChannels(x, scale) from dy = ∂loss/∂y: dx = dy · scale[n, c] and
    /// dscale[n, c] = Σ dy·x over the plane (summed as 256 partial fused multiply-adds, then a pairwise tree: the same
    /// order on every device). Each into the tensor given (dx may be dy itself) or a new one.
    /// </summary>
    public ChannelScaleGradients ScaleChannelsBackward(Tensor dy, Tensor x, Tensor scale, Tensor? dx = null, Tensor? dScale = null)
    {
        ThrowIfDisposed();
        var (planes, spatial) = CheckChannelScale(x, nameof(x), scale);
        ArgumentNullException.ThrowIfNull(dy);
        CheckTensorShape(dy, x.Shape, nameof(dy));
        CheckResident(dy, nameof(dy));
        if (dx is not null)
        {
            CheckTensorShape(dx, x.Shape, nameof(dx));
            CheckResident(dx, nameof(dx));
            CheckNotPartlyOverlapping(dx, nameof(dx), dy, nameof(dy));
            CheckDisjoint(dx, nameof(dx), x, nameof(x));
            CheckDisjoint(dx, nameof(dx), scale, nameof(scale));
        }
        if (dScale is not null)
        {
            CheckTensorShape(dScale, scale.Shape, nameof(dScale));
            CheckResident(dScale, nameof(dScale));
            foreach (var (t, name) in new[] { (dy, nameof(dy)), (x, nameof(x)), (scale, nameof(scale)), (dx, nameof(dx)) })
                if (t is not null) CheckDisjoint(dScale, nameof(dScale), t, name);
        }
        Tensor? gx = null, gs = null;
        try
        {
            gx = dx ?? Memory.Allocate(x.Shape);
            gs = dScale ?? Memory.Allocate(scale.Shape);
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    // The dot products first: dx may be dy itself, and they read dy.
                    ChannelScaleKernels.LaunchDot(rt, rt.PointerOf(gs), rt.PointerOf(dy), rt.PointerOf(x), planes, spatial);
                    ChannelScaleKernels.LaunchScale(rt, rt.PointerOf(gx), rt.PointerOf(dy), rt.PointerOf(scale), planes, spatial);
                }
                else
                {
                    float[] hdy = HostValues(dy)!, hs = HostBuffer(gs);
                    CpuChannelScale.PlaneDots(hdy, HostValues(x)!, hs, (int)planes, spatial, HostWorkers);
                    var hx = HostBuffer(gx);
                    CpuChannelScale.Scale(hdy, HostValues(scale)!, hx, (int)planes, spatial, HostWorkers);
                    StoreHost(hs, gs);
                    StoreHost(hx, gx);
                }
            return new ChannelScaleGradients(gx, gs);
        }
        catch
        {
            if (dx is null) (gx as IDisposable)?.Dispose();
            if (dScale is null) (gs as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>x [N, C, …] and scale (N·C values as [N, C] or [N, C, 1, …]) in this engine's memory: the planes and their size.</summary>
    (long Planes, long Spatial) CheckChannelScale(Tensor x, string xName, Tensor scale)
    {
        ArgumentNullException.ThrowIfNull(x, xName);
        ArgumentNullException.ThrowIfNull(scale);
        var s = x.Shape;
        if (s.Rank < 2)
            throw new ArgumentException($"{xName} has shape {s}; ScaleChannels needs [N, C, …].", xName);
        bool fits = scale.Shape.Rank >= 2 && scale.Shape.Rank <= s.Rank && scale.Shape.Dims[0] == s.Dims[0] && scale.Shape.Dims[1] == s.Dims[1];
        for (int d = 2; fits && d < scale.Shape.Rank; d++) fits = scale.Shape.Dims[d] == 1;
        if (!fits)
            throw new ArgumentException($"scale has shape {scale.Shape}; for {xName} {s} it must be [{s.Dims[0]}, {s.Dims[1]}] or that with trailing 1s (one factor per (n, c) plane).", nameof(scale));
        CheckResident(x, xName);
        CheckResident(scale, nameof(scale));
        long planes = (long)s.Dims[0] * s.Dims[1];
        if (planes > int.MaxValue || s.ElementCount > int.MaxValue)
            throw new ArgumentException($"{xName} has shape {s} ({s.ElementCount} elements); ScaleChannels takes tensors below 2^31 elements.", xName);
        return (planes, planes == 0 ? 0 : s.ElementCount / planes);
    }

    /// <summary>Refuses a written tensor that shares any memory with a read one (a kernel would read what it has overwritten).</summary>
    void CheckDisjoint(Tensor written, string writtenName, Tensor read, string readName)
    {
        if (Overlaps(written, read))
            throw new ArgumentException($"{writtenName} shares memory with {readName}; write into a separate tensor.", writtenName);
    }
}
