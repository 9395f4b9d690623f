namespace GpuConv.Cpu;

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

        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = CpuPooling.PlanesOf(task, tasks, planes);
            for (int p = first; p < end; p++)
                if (dot) output[p] = Dot(b, a, p * spatial, spatial);
                else
                {
                    float s = b[p];
                    var src = a.AsSpan((int)(p * spatial), (int)spatial);
                    var dst = output.AsSpan((int)(p * spatial), (int)spatial);
                    for (int i = 0; i < src.Length; i++) dst[i] = src[i] * s;
                }
        }
    }

    static float Dot(float[] dy, float[] x, long b, long spatial)
    {
        Span<float> partial = stackalloc float[DotThreads];
        for (int t = 0; t < DotThreads; t++)
        {
            float sum = 0f;
            for (long s = t; s < spatial; s += DotThreads) sum = MathF.FusedMultiplyAdd(dy[b + s], x[b + s], sum);
            partial[t] = sum;
        }
        for (int half = DotThreads / 2; half > 0; half /= 2)
            for (int t = 0; t < half; t++) partial[t] += partial[t + half];
        return partial[0];
    }
}
