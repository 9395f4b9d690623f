using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Threading;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// What GroupNorm's and the channels-first LayerNorm's backward calls share once their arguments are checked: the
/// gradient outputs (the caller's or new ones, the new ones disposed again if the call fails), the two kernels on a GPU
/// or the CPU loop on host arrays. What differs between them is a small struct (<see cref="INormBackward"/>), so the
/// shared run is compiled once per normalization and a warm call allocates nothing more than before.
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>A normalization's backward kernels and CPU loop, for <see cref="RunNormBackward"/>.</summary>
    internal interface INormBackward
    {
        void LaunchData(IPtxRuntime rt, ulong dy, ulong x, ulong mean, ulong rstd, ulong weight, ulong dx);
        void LaunchAffine(IPtxRuntime rt, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias);
        void OnHost(float[] dy, float[] x, float[] mean, float[] rstd, float[]? weight, float[] dx, float[]? dWeight, float[]? dBias, CpuWorkers? workers);
    }

    internal readonly struct GroupNormBackwardRun(GroupNormShape s) : INormBackward
    {
        public void LaunchData(IPtxRuntime rt, ulong dy, ulong x, ulong mean, ulong rstd, ulong weight, ulong dx) =>
            GroupNormKernels.LaunchBackwardData(rt, s, dy, x, mean, rstd, weight, dx);
        public void LaunchAffine(IPtxRuntime rt, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias) =>
            GroupNormKernels.LaunchBackwardAffine(rt, s, dy, x, mean, rstd, dWeight, dBias);
        public void OnHost(float[] dy, float[] x, float[] mean, float[] rstd, float[]? weight, float[] dx, float[]? dWeight, float[]? dBias, CpuWorkers? workers) =>
            CpuGroupNorm.Backward(dy, x, s, mean, rstd, weight, dx, dWeight, dBias, workers);
    }

    internal readonly struct ChannelLayerNormBackwardRun(ChannelLayerNormShape s) : INormBackward
    {
        public void LaunchData(IPtxRuntime rt, ulong dy, ulong x, ulong mean, ulong rstd, ulong weight, ulong dx) =>
            ChannelLayerNormKernels.LaunchBackwardData(rt, s, dy, x, mean, rstd, weight, dx);
        public void LaunchAffine(IPtxRuntime rt, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias) =>
            ChannelLayerNormKernels.LaunchBackwardAffine(rt, s, dy, x, mean, rstd, dWeight, dBias);
        public void OnHost(float[] dy, float[] x, float[] mean, float[] rstd, float[]? weight, float[] dx, float[]? dWeight, float[]? dBias, CpuWorkers? workers) =>
            CpuChannelLayerNorm.Backward(dy, x, s, mean, rstd, weight, dx, dWeight, dBias, workers);
    }

    /// <summary>
    /// dx (into <paramref name="dx"/> or a new tensor of x's shape) and, with a weight, dWeight and dBias (given or new
    /// [<paramref name="channels"/>] tensors), from checked arguments.
    /// </summary>
    (Tensor Dx, Tensor? DWeight, Tensor? DBias) RunNormBackward<TNorm>(TNorm norm, int channels, Tensor dy, Tensor x, Tensor savedMean, Tensor savedRstd,
        Tensor? weight, Tensor? dx, Tensor? dWeight, Tensor? dBias) where TNorm : struct, INormBackward
    {
        bool affine = weight is not null;
        Tensor? gx = null, gw = null, gb = null;
        try
        {
            gx = dx ?? Memory.Allocate(x.Shape);
            if (affine)
            {
                gw = dWeight ?? Memory.Allocate(new TensorShape(channels));
                gb = dBias ?? Memory.Allocate(new TensorShape(channels));
            }
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    norm.LaunchData(rt, rt.PointerOf(dy), rt.PointerOf(x), rt.PointerOf(savedMean), rt.PointerOf(savedRstd), PointerOrZero(rt, weight), rt.PointerOf(gx));
                    if (affine)
                        norm.LaunchAffine(rt, rt.PointerOf(dy), rt.PointerOf(x), rt.PointerOf(savedMean), rt.PointerOf(savedRstd), rt.PointerOf(gw!), rt.PointerOf(gb!));
                }
                else
                {
                    float[] hdx = HostBuffer(gx);
                    float[]? hdw = gw is null ? null : HostBuffer(gw), hdb = gb is null ? null : HostBuffer(gb);
                    norm.OnHost(HostValues(dy)!, HostValues(x)!, HostValues(savedMean)!, HostValues(savedRstd)!, HostValues(weight), hdx, hdw, hdb, HostWorkers);
                    StoreHost(hdx, gx);
                    if (affine)
                    {
                        StoreHost(hdw!, gw!);
                        StoreHost(hdb!, gb!);
                    }
                }
            return (gx, gw, gb);
        }
        catch
        {
            if (dx is null) (gx as IDisposable)?.Dispose();
            if (dWeight is null) (gw as IDisposable)?.Dispose();
            if (dBias is null) (gb as IDisposable)?.Dispose();
            throw;
        }
    }
}
