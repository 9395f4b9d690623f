namespace GpuConv.Cpu;

/// <summary>
/// <see cref="CpuElementwise"/> over the CPU backend's worker threads: a large tensor is cut into contiguous chunks, each
/// run by the same SIMD loop, so the bits are those of one loop over the whole tensor (every element is computed by the
/// same IEEE operations wherever a chunk or the vector part ends). One core does not saturate memory bandwidth on
/// a 1×256×56×56 tensor (see docs/benchmarks.md), several do.
/// The delegate the workers run is made once; one call's operands sit in fields under a lock, so a warm call makes no
/// closure (what CpuWorkers.For itself allocates per job is its own).
/// </summary>
internal sealed class ParallelElementwise
{
    /// <summary>No workers: every call is one loop on the calling thread (a GPU engine's host fallbacks).</summary>
    public static readonly ParallelElementwise SingleThreaded = new(null);

    /// <summary>
    /// Elements below which one thread runs the op: 64 Ki floats (256 KiB per operand) take some 10–20 µs on one core,
    /// where waking the workers and joining them is a few µs; smaller tensors stay on the calling thread.
    /// </summary>
    public const int MinParallelElements = 1 << 16;

    /// <summary>Chunks per participating thread: the workers balance a late or descheduled thread's share.</summary>
    const int ChunksPerThread = 4;

    /// <summary>Chunk lengths are multiples of 16 floats (a 64-byte cache line): no two threads write one line.</summary>
    const int ChunkAlignment = 16;

    readonly CpuWorkers? _workers;
    readonly Action<int, WorkspaceSet> _body;
    readonly object _gate = new();

    // One call's operands, set under _gate before the workers run and cleared after (the runner keeps no tensor alive).
    ElementwiseOp _op;
    float[]? _a, _b, _output;
    float _alpha;
    int _chunk;

    public ParallelElementwise(CpuWorkers? workers)
    {
        _workers = workers;
        _body = RunChunk;
    }

    /// <summary>output[i] = op(a[i], b[i], alpha) for every i (b ignored by the one-input ops); output may be a or b.</summary>
    public void Run(ElementwiseOp op, float[] a, float[]? b, float alpha, float[] output)
    {
        int n = output.Length;
        if (_workers is not { Threads: > 1 } workers || n < MinParallelElements)
        {
            CpuElementwise.Run(op, a, b, alpha, output);
            return;
        }
        if (a.Length != n || (op.Inputs() == 2 && (b?.Length ?? 0) != n))
            throw new ArgumentException($"{op}: a has {a.Length}, b {b?.Length ?? 0} and output {n} elements; they must match.", nameof(output));
        int chunks = workers.Threads * ChunksPerThread;
        int chunk = (int)((((long)n + chunks - 1) / chunks + ChunkAlignment - 1) / ChunkAlignment * ChunkAlignment);
        lock (_gate)
        {
            (_op, _a, _b, _alpha, _output, _chunk) = (op, a, b, alpha, output, chunk);
            try
            {
                workers.For((n + chunk - 1) / chunk, _body);
            }
            finally
            {
                _a = _b = _output = null;
            }
        }
    }

    void RunChunk(int task, WorkspaceSet _)
    {
        var output = _output!;
        int start = task * _chunk, length = Math.Min(_chunk, output.Length - start);
        var b = _op.Inputs() == 2 ? _b.AsSpan(start, length) : default;
        CpuElementwise.Run(_op, _a.AsSpan(start, length), b, _alpha, output.AsSpan(start, length));
    }
}
