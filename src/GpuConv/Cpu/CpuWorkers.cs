using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace GpuConv.Cpu;

/// <summary>
/// A small fork-join pool for the CPU backend: threads − 1 persistent workers plus the calling thread,
/// each with its own workspace set. Participant p owns the tasks [p·count/P, (p+1)·count/P) and runs
/// them first, then takes what is left of the others' ranges (dynamic balancing). Owning a fixed range
/// keeps each core's part of the data in its own cache from one call to the next — a network runs the
/// same layer on the same weights, and a layer reads the planes the same core wrote (7 × 7 × 960
/// depthwise on two threads: 14 µs with one shared counter, 10.6 µs so).
/// Between jobs the workers spin for a short while before they block: waking a blocked thread costs
/// a scheduler round trip, which on a busy machine is milliseconds — longer than a whole convolution.
/// The caller waits only for tasks that were claimed, never for a worker to wake up: a worker the
/// scheduler does not run in time finds its range taken. One job at a time; concurrent callers
/// queue on a lock.
/// </summary>
internal sealed class CpuWorkers : IDisposable
{
    /// <summary>How long an idle worker spins for the next job before it blocks.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 1000; // 1 ms

    readonly Thread[] _threads;
    readonly ManualResetEventSlim[] _wake;
    readonly WorkspaceSet[] _sets;
    readonly object _jobLock = new();
    Job? _job;
    int _generation;
    volatile bool _stop;

    /// <summary>Longs between two participants' claim counters: each on its own cache line.</summary>
    const int CounterStride = 8;

    /// <summary>
    /// Participant p's claim counter at [p·CounterStride]: the job's generation in the high 32 bits,
    /// the tasks of p's range claimed so far in the low 32. Kept across jobs (no allocation per call);
    /// the generation makes a claim by a worker still holding an earlier job fail.
    /// </summary>
    readonly long[] _claimed;

    /// <summary>One call's tasks; a worker that wakes late holds an old job whose tasks are all taken.</summary>
    sealed class Job(Action<int, WorkspaceSet> body, int count, int participants, int generation, long[] claimed)
    {
        public readonly Action<int, WorkspaceSet> Body = body;
        public readonly int Count = count;
        public readonly int Participants = participants;
        public int Pending = count;
        public ExceptionDispatchInfo? Error;

        int Start(int p) => (int)((long)Count * p / Participants);

        /// <summary>The next unclaimed task of participant p's range, or -1 when the range is used up (or the job is over).</summary>
        public int Claim(int p)
        {
            int start = Start(p), size = Start(p + 1) - start;
            ref long counter = ref claimed[p * CounterStride];
            while (true)
            {
                long seen = Volatile.Read(ref counter);
                if ((int)(seen >> 32) != generation || (int)seen >= size) return -1;
                if (Interlocked.CompareExchange(ref counter, seen + 1, seen) == seen) return start + (int)seen;
            }
        }
    }

    public CpuWorkers(int threads)
    {
        if (threads < 1) throw new ArgumentException($"threads must be >= 1, got {threads}.", nameof(threads));
        Threads = threads;
        _claimed = new long[threads * CounterStride];
        _sets = Enumerable.Range(0, threads).Select(_ => new WorkspaceSet()).ToArray();
        _wake = Enumerable.Range(0, threads - 1).Select(_ => new ManualResetEventSlim(false)).ToArray();
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int id = i;
            _threads[i] = new Thread(() => Work(id)) { IsBackground = true, Name = $"GpuConv CPU worker {id + 1}" };
            _threads[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Bytes held by every participant's workspace set.</summary>
    public long BytesHeld => _sets.Sum(s => s.BytesHeld);

    /// <summary>Runs body(i, workspace) for i in [0, count) on up to <see cref="Threads"/> threads; rethrows the first failure.</summary>
    public void For(int count, Action<int, WorkspaceSet> body)
    {
        ObjectDisposedException.ThrowIf(_stop, this);
        if (count <= 0) return;
        lock (_jobLock)
        {
            if (count == 1 || _threads.Length == 0)
            {
                for (int i = 0; i < count; i++) body(i, _sets[0]);
                return;
            }
            int generation = _generation + 1;
            for (int p = 0; p < Threads; p++) Volatile.Write(ref _claimed[p * CounterStride], (long)generation << 32);
            var job = new Job(body, count, Threads, generation, _claimed);
            Volatile.Write(ref _job, job);
            Interlocked.Increment(ref _generation);     // publishes the job (full fence)
            foreach (var e in _wake) e.Set();
            Drain(job, 0, _sets[0]);
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref _job, null);
            job.Error?.Throw();
        }
    }

    /// <summary>
    /// Runs participant p's own tasks, then the others' until none is left. Completions are counted
    /// locally and published once: every shared write moves the job's cache line between cores, which
    /// on this machine costs more than a small task.
    /// </summary>
    static void Drain(Job job, int p, WorkspaceSet set)
    {
        int done = 0;
        try
        {
            for (int k = 0; k < job.Participants; k++)
            {
                int owner = (p + k) % job.Participants;
                for (int i; (i = job.Claim(owner)) >= 0;)
                {
                    done++;
                    try { job.Body(i, set); }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref job.Error, ExceptionDispatchInfo.Capture(e), null);
                    }
                }
            }
        }
        finally { if (done > 0) Interlocked.Add(ref job.Pending, -done); }
    }

    void Work(int id)
    {
        int seen = 0;
        var wake = _wake[id];
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_stop)
            {
                if (++spins % 64 != 0 || Stopwatch.GetTimestamp() - start < SpinTicks)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                // Reset, re-check, then wait: a job published after the check sets the event again.
                wake.Reset();
                if (Volatile.Read(ref _generation) == seen && !_stop) wake.Wait();
                start = Stopwatch.GetTimestamp();
            }
            if (_stop) return;
            seen = Volatile.Read(ref _generation);
            if (Volatile.Read(ref _job) is { } job) Drain(job, id + 1, _sets[id + 1]);
        }
    }

    public void Dispose()
    {
        if (_stop) return;
        lock (_jobLock)
        {
            _stop = true;
            foreach (var e in _wake) e.Set();
            foreach (var t in _threads) t.Join();
            foreach (var e in _wake) e.Dispose();
        }
    }
}
