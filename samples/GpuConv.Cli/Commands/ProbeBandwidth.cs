using System.Diagnostics;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cpu.Columns;
using GpuConv.Cuda;
using GpuConv.Tensors;
using static System.FormattableString;

namespace GpuConv.Cli.Commands;

/// <summary>
/// probe's bandwidth section: the ptx backend's im2col kernel alone on a large ResNet-50 3x3 layer, as
/// effective bandwidth (column bytes written + input bytes read, per second), against the device's own
/// copy (cuMemcpyDtoDAsync of a buffer the column's size: its bytes read + written), both timed with CUDA
/// events over <see cref="GpuReps"/> launches after a warm-up. The kernel's first image is checked against
/// <see cref="Im2Col.Forward"/> (an exact copy of inputs and zeros). On the cpu backend the stand-in is
/// <see cref="Im2Col.Forward"/> against a plain memory copy of the same size, best of <see cref="CpuReps"/>.
/// </summary>
internal static class ProbeBandwidth
{
    /// <summary>ResNet-50's layer3 3x3 convolution at batch 32: a 58 MB column matrix.</summary>
    public static readonly ConvProblem Layer = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(32, 256, 14, 14), new TensorShape(256, 256, 3, 3));

    const int GpuReps = 20;
    const int CpuReps = 3;

    /// <summary>Runs the section; false when the kernel's column disagreed with the host's.</summary>
    public static bool Run(ConvEngine engine, ProbeSettings settings, CliIO io)
    {
        var p = Layer;
        long columnBytes = PtxConvBackend.ColumnBytesPerImage(p) * p.N;
        long inputBytes = p.XShape.ElementCount * sizeof(float);
        string on = Invariant($"{ShapeRow.Describe(p)} (ResNet-50 layer3 3x3), column {columnBytes / 1e6:F1} MB, input {inputBytes / 1e6:F1} MB");
        var runtime = engine.GpuRuntime;
        io.Out.WriteLine(runtime is null
            ? $"== bandwidth: cpu stand-in: Im2Col.Forward (one thread) against a memory copy of the column's size, best of {CpuReps}"
            : $"== bandwidth: im2col_f32 (the ptx backend's kernel, its launch shape) against cuMemcpyDtoDAsync of the column's size, CUDA events over {GpuReps} launches");

        var (im2colMs, copyMs, ok) = runtime is null ? OnCpu(p, io) : OnGpu(engine, runtime, p, io);
        double im2colGBs = (columnBytes + inputBytes) / (im2colMs * 1e6);
        double copyGBs = 2.0 * columnBytes / (copyMs * 1e6);
        io.Out.WriteLine(Invariant($"im2col {im2colMs:F3} ms moving {(columnBytes + inputBytes) / 1e6:F1} MB (column written + input read); copy {copyMs:F3} ms moving {2 * columnBytes / 1e6:F1} MB (read + written)"));
        io.Out.WriteLine(Invariant(
            $"bandwidth: im2col {im2colGBs:F1} GB/s, device copy {copyGBs:F1} GB/s, ratio {im2colGBs / copyGBs:F2} on {on}{(runtime is null ? " (cpu stand-in: Im2Col.Forward vs a memory copy)" : "")}"));
        return ok;
    }

    static (double Im2ColMs, double CopyMs, bool Ok) OnGpu(ConvEngine engine, CudaGpuRuntime runtime, ConvProblem p, CliIO io)
    {
        long columnBytes = PtxConvBackend.ColumnBytesPerImage(p) * p.N;
        var hostX = HostTensor.Random(p.XShape, seed: 3);
        using var x = engine.Upload(hostX);
        using var column = runtime.AllocateScratch(columnBytes, "probe: im2col column");
        using var copy = runtime.AllocateScratch(columnBytes, "probe: copy destination");
        ulong xPointer = runtime.PointerOf(x);
        // The backend's own launch (arguments, grid and block), so the probe times what a forward call runs.
        void Im2ColLaunch() => PtxConvBackend.LaunchIm2Col(runtime, p, xPointer, column.Pointer, p.N);
        IDeviceRuntime device = runtime.Context;
        void DeviceCopy() => device.CopyDeviceToDevice(copy.Pointer, column.Pointer, columnBytes, null);

        Im2ColLaunch();
        DeviceCopy();
        runtime.Synchronize();
        bool ok = CheckFirstImage(engine, column.Pointer, p, hostX, io);
        double im2colMs = runtime.TimeMs(() => { for (int i = 0; i < GpuReps; i++) Im2ColLaunch(); }) / GpuReps;
        double copyMs = runtime.TimeMs(() => { for (int i = 0; i < GpuReps; i++) DeviceCopy(); }) / GpuReps;
        return (im2colMs, copyMs, ok);
    }

    /// <summary>The kernel's column of image 0 against the host's (an exact copy: equal bit for bit).</summary>
    static bool CheckFirstImage(ConvEngine engine, ulong column, ConvProblem p, HostTensor hostX, CliIO io)
    {
        long perImage = PtxConvBackend.ColumnBytesPerImage(p) / sizeof(float);
        var expected = new float[perImage];
        Im2Col.Forward(p, hostX.Data, n: 0, group: 0, expected);
        // A borrowed view of the scratch buffer: disposing it does not free the buffer.
        using var view = engine.Wrap(column, perImage, new TensorShape(checked((int)perImage)));
        var actual = engine.Download(view).Data;
        int differ = 0;
        for (int i = 0; i < actual.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i])) differ++;
        io.Out.WriteLine(differ == 0
            ? $"im2col_f32's column of image 0 equals Im2Col.Forward's bit for bit ({perImage} values)"
            : $"MISMATCH: im2col_f32's column of image 0 differs from Im2Col.Forward's in {differ} of {perImage} values");
        return differ == 0;
    }

    static (double Im2ColMs, double CopyMs, bool Ok) OnCpu(ConvProblem p, CliIO io)
    {
        long perImage = PtxConvBackend.ColumnBytesPerImage(p) / sizeof(float);
        var x = HostTensor.Random(p.XShape, seed: 3).Data;
        var column = new float[perImage * p.N];
        var copy = new float[column.Length];
        double im2colMs = double.MaxValue, copyMs = double.MaxValue;
        // The first round also touches every page; the best round counts.
        for (int r = 0; r <= CpuReps; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int n = 0; n < p.N; n++)
                Im2Col.Forward(p, x, n, group: 0, column.AsSpan((int)(n * perImage), (int)perImage));
            if (r > 0) im2colMs = Math.Min(im2colMs, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            start = Stopwatch.GetTimestamp();
            column.AsSpan().CopyTo(copy);
            if (r > 0) copyMs = Math.Min(copyMs, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        io.Out.WriteLine($"host column of {column.Length} values made {CpuReps} times; the GPU numbers come from --backend cudnn or ptx");
        return (im2colMs, copyMs, true);
    }
}
