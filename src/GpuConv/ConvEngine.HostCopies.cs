using GpuConv.Cpu.Threading;
using GpuConv.Tensors;

namespace GpuConv;

// How an op without a kernel for the engine's memory runs: on host arrays, by the CPU loops. A host tensor lends its own
// array (nothing copied, nothing allocated: the CPU engine's warm calls); a tensor in a device memory that cannot
// launch kernels (the tests' stand-ins) is copied down and its result copied up. The engine's ops take one of two
// branches: a kernel launch where Memory is an IPtxRuntime, else these copies and the CPU loop.
public sealed partial class ConvEngine
{
    /// <summary>A tensor's values on the host: a host tensor's own array, else a download; null for null.</summary>
    float[]? HostValues(Tensor? t)
    {
        if (t is null) return null;
        if (t is HostTensor h) return h.Data;
        var data = new float[t.Shape.ElementCountInt];
        Memory.CopyToHost(t, data);
        return data;
    }

    /// <summary>Where a host computation writes <paramref name="t"/>: its own array, or a new one that <see cref="StoreHost"/> uploads.</summary>
    static float[] HostBuffer(Tensor t) => t is HostTensor h ? h.Data : new float[t.Shape.ElementCountInt];

    /// <summary>After a host computation into <paramref name="data"/>: a host tensor was written in place (the CPU backends are told), a device one is uploaded.</summary>
    void StoreHost(float[] data, Tensor t)
    {
        if (t is HostTensor h && ReferenceEquals(h.Data, data)) Wrote(h);
        else Memory.CopyFromHost(data, t);
    }

    /// <summary>
    /// The CPU backend's worker threads, which the host loops (element-wise ops, pools, normalizations, copies) split
    /// large tensors over; null for an engine without a CPU backend, whose host loops run on the calling thread.
    /// </summary>
    CpuWorkers? HostWorkers => hostElementwise.Workers;
}
