using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Pooling;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// A per-plane scale and its gradient on host arrays (ConvEngine.ScaleChannels: a squeeze-and-excitation block's
/// x · s[n, c]), the definitions kernels/channel_scale.ptx matches bit for bit. Planes run in parallel for large tensors
/// on the CPU backend's workers, split as <see cref="CpuPooling"/> splits them; each element (each plane's dot product)
/// is computed by one thread in the defined order.
/// </summary>
internal static class CpuChannelScale
{
    /// <summary>Partial sums of a plane's dot product, and so the threads of the kernel's block: the global average's.</summary>
    public const int DotThreads = CpuPooling.GlobalAverageThreads;

    /// <summary>output[p·spatial + i] = x[p·spatial + i] · scale[p], one IEEE product each. <paramref name="output"/> may be <paramref name="x"/>.</summary>
    public static void Scale(float[] x, float[] scale, float[] output, int planes, long spatial, CpuWorkers? workers = null)
    {
        if (x.Length != planes * spatial || output.Length != x.Length || scale.Length != planes)
            throw new ArgumentException($"channel scale: x has {x.Length} elements, output {output.Length} (expected {planes * spatial}) and scale {scale.Length} (expected {planes}).", nameof(output));
        var loop = new Loop(x, scale, output, planes, spatial, dot: false, CpuPooling.Tasks(planes, planes * spatial, workers));
        CpuPooling.Split(loop.Tasks, loop, workers);
    }

    /// <summary>
    /// dot[p] = Σ dy·x over plane p, in the kernel's block order: partial sum t (t &lt; <see cref="DotThreads"/>) takes
    /// elements t, t + 256, … in turn from +0, each as one fused multiply-add (dy·x + partial, rounded once); then the
    /// tree of <see cref="CpuPooling.GlobalAverage"/>: for half = 128, 64, …, 1, partial[t] += partial[t + half].
    /// </summary>
    public static void PlaneDots(float[] dy, float[] x, float[] dot, int planes, long spatial, CpuWorkers? workers = null)
    {
        if (x.Length != planes * spatial || dy.Length != x.Length || dot.Length != planes)
            throw new ArgumentException($"channel scale gradient: x has {x.Length} elements, dy {dy.Length} (expected {planes * spatial}) and the scale's gradient {dot.Length} (expected {planes}).", nameof(dot));
        var loop = new Loop(x, dy, dot, planes, spatial, dot: true, CpuPooling.Tasks(planes, planes * spatial, workers));
        CpuPooling.Split(loop.Tasks, loop, workers);
    }

    /// <summary>One task: its run of planes, scaled (a = x, b = scale) or dotted (a = x, b = dy, into output = dot).</summary>
    readonly struct Loop(float[] a, float[] b, float[] output, int planes, long spatial, bool dot, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = CpuPooling.PlanesOf(task, tasks, planes);
            for (int p = first; p < end; p++)
                if (dot) output[p] = Dot(b, a, p * spatial, spatial);
                else ScalePlane(a.AsSpan((int)(p * spatial), (int)spatial), b[p], output.AsSpan((int)(p * spatial), (int)spatial));
        }
    }

    /// <summary>dst[i] = src[i] · s; one IEEE product per element, Vector256 or scalar (the same bits). dst may be src.</summary>
    /// <remarks>
    /// Compiled optimized at once: the JIT's first form (each span slice and vector copy a call) ran EfficientNet-B0's
    /// squeeze-and-excitation scalings at 80–730 µs a block through a process's first dozen runs, 5–45 µs optimized.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScalePlane(ReadOnlySpan<float> src, float s, Span<float> dst)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= src.Length; i += 8) (Vector256.Create(src.Slice(i, 8)) * vs).CopyTo(dst.Slice(i, 8));
        }
        for (; i < src.Length; i++) dst[i] = src[i] * s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as ScalePlane
    static float Dot(float[] dy, float[] x, long b, long spatial)
    {
        Span<float> partial = stackalloc float[DotThreads];
        partial.Clear();
        // Partial t takes elements t, t + 256, … in turn: row k of 256 elements adds to every partial once, so eight
        // neighbouring partials step together as one vector — the same fused multiply-adds in the same order.
        long full = spatial / DotThreads * DotThreads;
        long k = 0;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
            for (; k < full; k += DotThreads)
                for (int t = 0; t < DotThreads; t += 8)
                {
                    var acc = Vector256.Create((ReadOnlySpan<float>)partial.Slice(t, 8));
                    acc = Fma.MultiplyAdd(Vector256.Create(dy.AsSpan((int)(b + k + t), 8)), Vector256.Create(x.AsSpan((int)(b + k + t), 8)), acc);
                    acc.CopyTo(partial.Slice(t, 8));
                }
        for (; k < spatial; k += DotThreads)
            for (int t = 0; t < DotThreads && k + t < spatial; t++)
                partial[t] = MathF.FusedMultiplyAdd(dy[b + k + t], x[b + k + t], partial[t]);
        for (int half = DotThreads / 2; half > 0; half /= 2)
            for (int t = 0; t < half; t++) partial[t] += partial[t + half];
        return partial[0];
    }
}
