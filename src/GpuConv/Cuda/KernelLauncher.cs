using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A launch geometry component (x, y, z ≥ 1).</summary>
internal readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public override string ToString() => $"({X}, {Y}, {Z})";
}

/// <summary>cuLaunchKernel with checked geometry, plus the 1-D grid-stride sizing every elementwise kernel uses.</summary>
internal static unsafe class KernelLauncher
{
    public const int MaxThreadsPerBlock = 1024;

    /// <summary>Launches with arguments packed on the stack: allocates nothing on the managed heap.</summary>
    public static void Launch(CudaContext context, CudaFunction function, Dim3 grid, Dim3 block, scoped in KernelArgumentPack args,
        CudaStream? stream = null, uint sharedMemoryBytes = 0)
    {
        CheckLaunch(context, function, grid, block);
        void** pointers = stackalloc void*[Math.Max(args.Count, 1)];
        args.PointTo(pointers);
        Issue(context, function, grid, block, pointers, stream, sharedMemoryBytes);
    }

    /// <summary>Launches with arguments in a <see cref="KernelArguments"/> (unmanaged slots, managed bookkeeping: allocates per launch).</summary>
    public static void Launch(CudaContext context, CudaFunction function, Dim3 grid, Dim3 block, KernelArguments args,
        CudaStream? stream = null, uint sharedMemoryBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(args);
        CheckLaunch(context, function, grid, block);
        Issue(context, function, grid, block, args.Pointers, stream, sharedMemoryBytes);
    }

    static void CheckLaunch(CudaContext context, CudaFunction function, Dim3 grid, Dim3 block)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(function);
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0)
            throw new ArgumentException($"grid {grid} must be >= 1 in every dimension.", nameof(grid));
        if (block.X == 0 || block.Y == 0 || block.Z == 0 || (ulong)block.X * block.Y * block.Z > MaxThreadsPerBlock)
            throw new ArgumentException($"block {block} must be >= 1 in every dimension with at most {MaxThreadsPerBlock} threads.", nameof(block));
    }

    static void Issue(CudaContext context, CudaFunction function, Dim3 grid, Dim3 block, void** pointers, CudaStream? stream, uint sharedMemoryBytes)
    {
        using var current = context.Lifetime.Enter();
        var s = stream ?? context.Stream;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuLaunchKernel(function.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
            sharedMemoryBytes, s.Handle, pointers, null), "cuLaunchKernel",
            $"{function.Module}:{function.Name} grid={grid} block={block} smem={sharedMemoryBytes} stream=0x{s.Handle:x}");
    }

    /// <summary>Blocks for a grid-stride loop over <paramref name="count"/> items: enough to cover it, capped (the loop covers the rest).</summary>
    public static uint GridFor(long count, int blockSize, uint maxBlocks = 65535)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        return (uint)Math.Min((count + blockSize - 1) / blockSize, maxBlocks);
    }

    /// <summary>Fills <paramref name="count"/> floats at <paramref name="pointer"/> with <paramref name="value"/> (kernels/fill.ptx).</summary>
    public static void Fill(CudaContext context, ulong pointer, long count, float value, CudaStream? stream = null)
    {
        const int Block = 256;
        ArgumentNullException.ThrowIfNull(context);
        var fn = context.Kernels.GetFunction("fill.ptx", "fill_f32");
        Launch(context, fn, new Dim3(GridFor(count, Block)), new Dim3(Block), FillPack(pointer, count, value), stream);
    }

    /// <summary>fill_f32's arguments in .param order: dst (.u64), value (.f32), count (.u64).</summary>
    internal static KernelArgumentPack FillPack(ulong pointer, long count, float value)
    {
        var args = new KernelArgumentPack();
        args.Add(pointer).Add(value).Add((ulong)count);
        return args;
    }

    /// <summary><see cref="FillPack"/> boxed (the object[] seam).</summary>
    internal static object[] FillArguments(ulong pointer, long count, float value) => FillPack(pointer, count, value).ToObjects();
}
