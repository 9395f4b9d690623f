using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Tensors;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// A CPU stand-in for the GPU behind <see cref="IPtxRuntime"/>: tensors live in simulated device memory,
/// kernels run through the PTX interpreter (the shipped .ptx text), and SGEMM follows cuBLAS's documented
/// column-major contract — including its argument checks (lda >= rows of the stored A, …) and "beta == 0
/// means C is not read" — computed in float64 per element. It records every call so tests can check
/// chunking and workspace use.
/// </summary>
sealed class SimulatedPtxRuntime : IPtxRuntime, IMemorySpace
{
    public PtxGlobalMemory Device { get; } = new();
    readonly PtxInterpreter _interpreter;
    public List<string> Calls { get; } = [];
    public long LargestScratch { get; private set; }
    public long ScratchLimit { get; set; } = long.MaxValue;

    /// <summary>Grid cap for interpreted launches (time); larger grids still cover everything through the grid-stride loops.</summary>
    public const int MaxSimulatedBlocks = 16;

    /// <summary>Launch shapes as requested by the backend (grid before the cap, block).</summary>
    public List<(uint Grid, uint Block)> LaunchShapes { get; } = [];

    public SimulatedPtxRuntime() => _interpreter = new PtxInterpreter(Device);

    public IMemorySpace Memory => this;
    public MemoryKind Kind => MemoryKind.Device;

    /// <summary>A tensor in simulated device memory.</summary>
    public sealed class SimTensor(TensorShape shape, ulong pointer) : Tensor(shape)
    {
        public ulong Pointer { get; } = pointer;
        public override MemoryKind Memory => MemoryKind.Device;
    }

    public Tensor Allocate(TensorShape shape) => new SimTensor(shape, Device.AllocatePoisoned(shape.ElementCountInt));

    public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination)
    {
        var t = (SimTensor)destination;
        var data = source.ToArray();
        // Upload into the existing allocation through a scratch copy (the memory API only uploads fresh).
        for (int i = 0; i < data.Length; i++) Device.Store(t.Pointer + (ulong)i * 4, 4, BitConverter.SingleToUInt32Bits(data[i]));
    }

    /// <summary>How often something was copied to the host through <see cref="CopyToHost"/> (the engine's downloads).</summary>
    public int CopiesToHost { get; private set; }

    public void CopyToHost(Tensor source, Span<float> destination)
    {
        CopiesToHost++;
        Device.Download(((SimTensor)source).Pointer, destination.Length).CopyTo(destination);
    }

    public Tensor Upload(float[] data, TensorShape shape)
    {
        var t = Allocate(shape);
        CopyFromHost(data, t);
        return t;
    }

    public float[] Download(Tensor t) => Device.Download(((SimTensor)t).Pointer, t.Shape.ElementCountInt);

    public ulong PointerOf(Tensor tensor) => tensor is SimTensor s
        ? s.Pointer : throw new ArgumentException($"not a simulated device tensor: {tensor.GetType().Name}", nameof(tensor));

    sealed class Scratch(ulong pointer, long bytes) : IDeviceScratch
    {
        public ulong Pointer { get; } = pointer;
        public long Bytes { get; } = bytes;
        public void Dispose() { }
    }

    public IDeviceScratch AllocateScratch(long bytes, string purpose)
    {
        if (bytes > ScratchLimit) throw new WorkspaceAllocationException(purpose, bytes);
        LargestScratch = Math.Max(LargestScratch, bytes);
        Calls.Add($"scratch {bytes}");
        return new Scratch(Device.AllocatePoisoned((int)(bytes / 4)), bytes);
    }

    public void Launch(string module, string entry, uint gridX, uint blockX, params object[] args)
    {
        Calls.Add($"launch {entry}");
        LaunchShapes.Add((gridX, blockX));
        // The block size as launched, the grid capped (the kernels loop grid-stride): small problems run
        // exactly the GPU launch shape, full blocks and a partial last one included.
        _interpreter.Launch(ShippedKernels.Get(module, entry), new PtxDim3((int)Math.Min(gridX, MaxSimulatedBlocks)), new PtxDim3((int)blockX), args);
    }

    public void SgemmStridedBatched(GemmOp transA, GemmOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta,
        ulong c, int ldc, long strideC, int batchCount, MathMode math)
    {
        Calls.Add($"gemm {transA}{transB} m={m} n={n} k={k} batch={batchCount} beta={beta} {math}");
        // cuBLAS's CUBLAS_STATUS_INVALID_VALUE conditions.
        if (m < 0 || n < 0 || k < 0 || batchCount < 0) throw new ArgumentException("negative GEMM size");
        if (lda < Math.Max(1, transA == GemmOp.N ? m : k)) throw new ArgumentException($"lda {lda} too small");
        if (ldb < Math.Max(1, transB == GemmOp.N ? k : n)) throw new ArgumentException($"ldb {ldb} too small");
        if (ldc < Math.Max(1, m)) throw new ArgumentException($"ldc {ldc} too small");
        for (int bi = 0; bi < batchCount; bi++)
        {
            ulong ab = a + (ulong)(bi * strideA * 4), bb = b + (ulong)(bi * strideB * 4), cb = c + (ulong)(bi * strideC * 4);
            for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                double sum = 0;
                for (int l = 0; l < k; l++)
                {
                    // Column-major: element (r, col) of a stored matrix is at r + col·ld.
                    long ai = transA == GemmOp.N ? i + (long)l * lda : l + (long)i * lda;
                    long bj = transB == GemmOp.N ? l + (long)j * ldb : j + (long)l * ldb;
                    sum += (double)Get(ab, ai) * Get(bb, bj);
                }
                long ci = i + (long)j * ldc;
                double result = alpha * sum + (beta == 0 ? 0 : beta * (double)Get(cb, ci));
                Device.Store(cb + (ulong)ci * 4, 4, BitConverter.SingleToUInt32Bits((float)result));
            }
        }
    }

    float Get(ulong basePtr, long index) => BitConverter.UInt32BitsToSingle((uint)Device.Load(basePtr + (ulong)index * 4, 4));

    /// <summary>How often the backend waited for the device.</summary>
    public int Synchronizations { get; private set; }

    public void Synchronize() => Synchronizations++;

    /// <summary>The simulated device runs work as it is issued: its time is the host's.</summary>
    public double TimeMs(Action work)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        work();
        return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
