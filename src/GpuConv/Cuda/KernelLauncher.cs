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

    public static void Launch(CudaContext context, CudaFunction function, Dim3 grid, Dim3 block, KernelArguments args,
        CudaStream? stream = null, uint sharedMemoryBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(args);
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0)
            throw new ArgumentException($"grid {grid} must be >= 1 in every dimension.", nameof(grid));
        if (block.X == 0 || block.Y == 0 || block.Z == 0 || (ulong)block.X * block.Y * block.Z > MaxThreadsPerBlock)
            throw new ArgumentException($"block {block} must be >= 1 in every dimension with at most {MaxThreadsPerBlock} threads.", nameof(block));
        using var current = context.Lifetime.Enter();
        var s = stream ?? context.Stream;
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuLaunchKernel(function.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
            sharedMemoryBytes, s.Handle, args.Pointers, null), "cuLaunchKernel",
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
        using var args = KernelArguments.From(FillArguments(pointer, count, value), "fill.ptx:fill_f32");
        var fn = context.Kernels.GetFunction("fill.ptx", "fill_f32");
        Launch(context, fn, new Dim3(GridFor(count, Block)), new Dim3(Block), args, stream);
    }

    /// <summary>fill_f32's arguments in .param order: dst (.u64), value (.f32), count (.u64).</summary>
    internal static object[] FillArguments(ulong pointer, long count, float value) => [pointer, value, (ulong)count];
}
