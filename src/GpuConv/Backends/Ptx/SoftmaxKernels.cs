using GpuConv.Cpu.Layers;
using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/softmax.ptx on the runtime's stream (no wait): when the softmax dimension is contiguous
/// (Inner = 1) one block of <see cref="CpuSoftmax.Partials"/> threads per row, grid-stride over rows; otherwise one
/// thread per slice, grid-stride. The kernels need the driver only, so every GPU engine has them. Their definitions are
/// <see cref="CpuSoftmax"/>'s, bit for bit.
/// </summary>
internal static class SoftmaxKernels
{
    public const string Module = "softmax.ptx";
    public const string RowsEntry = "softmax_rows_f32";
    public const string ColumnsEntry = "softmax_columns_f32";
    public const string BackwardRowsEntry = "softmax_backward_rows_f32";
    public const string BackwardColumnsEntry = "softmax_backward_columns_f32";

    /// <summary>The forward's entry: rows (Inner = 1) or columns.</summary>
    public static string ForwardEntry(SoftmaxShape s) => s.Inner == 1 ? RowsEntry : ColumnsEntry;

    /// <summary>The backward's entry: rows (Inner = 1) or columns.</summary>
    public static string BackwardEntry(SoftmaxShape s) => s.Inner == 1 ? BackwardRowsEntry : BackwardColumnsEntry;

    /// <summary>The forward's arguments: rows (y, x, rows, length, log) or columns (y, x, slices, axis, inner, log).</summary>
    public static KernelArgumentPack ForwardPack(SoftmaxShape s, bool log, ulong x, ulong y)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(y).Add(x);
        AddShape(ref args, s, log);
        return args;
    }

    /// <summary>The backward's arguments: rows (dx, dy, y, rows, length, log) or columns (dx, dy, y, slices, axis, inner, log).</summary>
    public static KernelArgumentPack BackwardPack(SoftmaxShape s, bool log, ulong dy, ulong y, ulong dx)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dx).Add(dy).Add(y);
        AddShape(ref args, s, log);
        return args;
    }

    /// <summary><see cref="ForwardPack"/> boxed, for the interpreter tests.</summary>
    public static object[] ForwardArguments(SoftmaxShape s, bool log, ulong x, ulong y) => ForwardPack(s, log, x, y).ToObjects();

    /// <summary><see cref="BackwardPack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardArguments(SoftmaxShape s, bool log, ulong dy, ulong y, ulong dx) => BackwardPack(s, log, dy, y, dx).ToObjects();

    /// <summary>y = softmax or log_softmax of x over the shape's axis.</summary>
    public static void LaunchForward(IPtxRuntime runtime, SoftmaxShape s, bool log, ulong x, ulong y)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = ForwardPack(s, log, x, y);
        var (grid, block) = GeometryOf(s);
        runtime.Launch(Module, ForwardEntry(s), grid, block, args);
    }

    /// <summary>dx from dy and the forward's output y.</summary>
    public static void LaunchBackward(IPtxRuntime runtime, SoftmaxShape s, bool log, ulong dy, ulong y, ulong dx)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardPack(s, log, dy, y, dx);
        var (grid, block) = GeometryOf(s);
        runtime.Launch(Module, BackwardEntry(s), grid, block, args);
    }

    /// <summary>The grid and block a launch of this shape uses: one row per block of 32 threads, or one slice per thread.</summary>
    public static (uint Grid, uint Block) GeometryOf(SoftmaxShape s) => s.Inner == 1
        ? ((uint)Math.Min(s.Outer, (int)PtxConvBackend.MaxBlocks), (uint)CpuSoftmax.Partials)
        : ((uint)Math.Clamp((s.Slices + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks), (uint)PtxConvBackend.BlockSize);

    /// <summary>Adds the shape (rows: rows, length; columns: slices, axis, inner) and the log flag.</summary>
    static void AddShape(ref KernelArgumentPack args, SoftmaxShape s, bool log)
    {
        if (s.Inner == 1) args.Add((uint)s.Outer).Add((uint)s.Axis);
        else args.Add((uint)s.Slices).Add((uint)s.Axis).Add((uint)s.Inner);
        args.Add(log ? 1u : 0u);
    }

    /// <summary>
    /// The kernels index in 32 bits. SoftmaxShape.Of already refuses larger tensors by the caller's parameter name;
    /// reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(SoftmaxShape s)
    {
        if (s.Elements > int.MaxValue || s.Outer < 1 || s.Axis < 1 || s.Inner < 1)
            throw new InvalidOperationException($"softmax of [outer, axis, inner] = [{s.Outer}, {s.Axis}, {s.Inner}] reached the 32-bit kernels (SoftmaxShape.Of admits 1 to 2^31 − 1 elements).");
    }
}
