using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace GpuConv.Cpu.Threading;

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
/// scheduler does not run in time finds its range taken. A worker that finds itself on the caller's CPU
/// when a job starts (the OS put both on one core, as it does when other processes hold the rest) leaves
/// the job to the others and blocks until the next one: sharing the caller's core would only slow the
/// caller and make it wait for the worker's preempted tasks (the stem max pool on two threads with another
/// process busy: 1.2× slower than one thread, now as fast). One job at a time; concurrent callers
/// queue on a lock. A loop body may not call For (or Dispose) on the workers running it: that is refused
/// with InvalidOperationException (it would deadlock or corrupt the job); other workers are fine.
/// </summary>
internal sealed class CpuWorkers : IDisposable
{
    /// <summary>How long an idle worker spins for the next job before it blocks.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 1000; // 1 ms

    /// <summary>How often a worker that sits out (it shared the caller's CPU) is woken to look again.</summary>
    static readonly long SitOutRecheckTicks = Stopwatch.Frequency / 500; // 2 ms

    readonly Thread[] _threads;
    readonly ManualResetEventSlim[] _wake;
    readonly WorkspaceSet[] _sets;
    readonly object _jobLock = new();
    int _generation;
    volatile bool _stop;

    /// <summary>Longs between two participants' claim counters: each on its own cache line.</summary>
    const int CounterStride = 8;

    /// <summary>
    /// Participant p's claim counter at [p·CounterStride]: the job's generation in the high 32 bits,
    /// the tasks of p's range claimed so far in the low 32. Kept across jobs (no allocation per call);
    /// the generation makes a claim by a worker still on an earlier job fail.
    /// </summary>
    readonly long[] _claimed;

    // The current job, in fields reused from job to job (no object per call). A worker reads the task count
    // after the generation and the runner only after a claim succeeds: the caller writes the counters before
    // the count and changes neither the count nor the runner while a claimed task is pending, so a worker that
    // reads the next job's count finds its claims refused, and one whose claim succeeded reads this job's runner.
    int _count;
    int _callerCpu = -1;            // the CPU the caller published the job from (-1: unknown)

    /// <summary>Worker i sat out the last job it looked at, at [i·CounterStride] (its own cache line); written by the worker.</summary>
    readonly int[] _sittingOut;
    /// <summary>When the caller last woke worker i while it sat out (the caller's alone: written under the job lock).</summary>
    readonly long[] _lastSitOutWake;
    LoopRunner? _runner;
    int _pending;
    ExceptionDispatchInfo? _error;

    /// <summary>One runner per loop type, indexed by <see cref="LoopSlot{T}.Index"/>: made on a type's first parallel job, reused after.</summary>
    LoopRunner?[] _runners = new LoopRunner?[32];

    /// <summary>A loop body behind a virtual call, so the workers run any loop type.</summary>
    abstract class LoopRunner
    {
        public abstract void Run(int task, WorkspaceSet workspace);
    }

    sealed class LoopRunner<T> : LoopRunner where T : struct, ICpuLoop
    {
        public T Loop;
        public override void Run(int task, WorkspaceSet workspace) => Loop.Run(task, workspace);
    }

    static int s_loopTypes;

    /// <summary>A process-wide index per loop type, into every instance's <see cref="_runners"/>.</summary>
    static class LoopSlot<T> where T : struct, ICpuLoop
    {
        public static readonly int Index = Interlocked.Increment(ref s_loopTypes) - 1;
    }

    /// <summary>Where the calling thread runs now (<see cref="CurrentCpu.Get"/>; tests give their own).</summary>
    readonly Func<int> _currentCpu;

    public CpuWorkers(int threads, Func<int>? currentCpu = null)
    {
        if (threads < 1) throw new ArgumentException($"threads must be >= 1, got {threads}.", nameof(threads));
        Threads = threads;
        _currentCpu = currentCpu ?? CurrentCpu.Get;
        _claimed = new long[threads * CounterStride];
        _sets = Enumerable.Range(0, threads).Select(_ => new WorkspaceSet()).ToArray();
        _wake = Enumerable.Range(0, threads - 1).Select(_ => new ManualResetEventSlim(false)).ToArray();
        _sittingOut = new int[(threads - 1) * CounterStride];
        _lastSitOutWake = new long[threads - 1];
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
    public void For(int count, Action<int, WorkspaceSet> body) => For(count, new DelegateLoop(body));

    /// <summary>
    /// Runs loop.Run(i, workspace) for i in [0, count) on up to <see cref="Threads"/> threads; rethrows the first
    /// failure. Allocates nothing once a loop type has run in parallel here: the loop is copied into that type's
    /// runner for the job, and the job lives in fields.
    /// </summary>
    public void For<T>(int count, T loop) where T : struct, ICpuLoop
    {
        ObjectDisposedException.ThrowIf(_stop, this);
        if (count <= 0) return;
        RefuseFromOwnLoop(nameof(For));
        lock (_jobLock)
        {
            // Again under the lock: a call that passed the check above while Dispose held the lock would
            // otherwise run after Dispose returned, on the calling thread alone.
            ObjectDisposedException.ThrowIf(_stop, this);
            var outer = t_runningFor;
            t_runningFor = this;
            try
            {
                if (count == 1 || _threads.Length == 0)
                {
                    for (int i = 0; i < count; i++) loop.Run(i, _sets[0]);
                    return;
                }
                var runner = RunnerOf<T>();
                runner.Loop = loop;
                try { RunJob(count, runner); }
                finally { runner.Loop = default; }    // drop the loop's references until its next job
            }
            finally { t_runningFor = outer; }
        }
    }

    /// <summary>
    /// The workers whose loop the current thread is running (a worker thread: its own, for life; a caller: during
    /// its For). A loop body that calls For on the workers running it would deadlock on a worker (the job lock is
    /// held by the caller, who waits for that very task) and, on the calling thread (the lock is re-entrant),
    /// overwrite the running job's counters, count and runner: tasks lost, or run with the inner loop's operands.
    /// </summary>
    [ThreadStatic] static CpuWorkers? t_runningFor;

    void RefuseFromOwnLoop(string what)
    {
        if (t_runningFor == this)
            throw new InvalidOperationException($"CpuWorkers.{what} was called from inside one of its own loops (nested parallelism " +
                "on the same workers would deadlock or corrupt the running job); run the inner work serially in the task.");
    }

    LoopRunner<T> RunnerOf<T>() where T : struct, ICpuLoop
    {
        int index = LoopSlot<T>.Index;
        if (index >= _runners.Length) Array.Resize(ref _runners, Math.Max(index + 1, _runners.Length * 2));
        return (LoopRunner<T>)(_runners[index] ??= new LoopRunner<T>());
    }

    /// <summary>One parallel job (under the job lock): publishes it, takes part, waits for the claimed tasks, rethrows.</summary>
    void RunJob(int count, LoopRunner runner)
    {
        int generation = _generation + 1;
        for (int p = 0; p < Threads; p++) Volatile.Write(ref _claimed[p * CounterStride], (long)generation << 32);
        _pending = count;
        _error = null;
        Volatile.Write(ref _runner, runner);
        Volatile.Write(ref _count, count);
        Volatile.Write(ref _callerCpu, _currentCpu());
        Interlocked.Increment(ref _generation);     // publishes the job (full fence)
        // Waking a worker can block for a moment (the event's lock, while that worker goes to sleep), and a blocked caller
        // that is interrupted throws there: the job is published and its tasks run, so the interrupt waits for the end.
        ExceptionDispatchInfo? interrupted = null;
        try { WakeWorkers(); }
        catch (ThreadInterruptedException e) { interrupted = ExceptionDispatchInfo.Capture(e); }
        Drain(generation, count, 0, _sets[0]);
        // Spin, then yield, but never Thread.Sleep (SpinWait.SpinOnce sleeps 0 ms now and then): a sleep throws
        // ThreadInterruptedException on an interrupted caller, and For would return with tasks still running on the
        // workers, whose completions the next job would then count as its own (returning before its tasks ended).
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) != 0)
        {
            if (spin.NextSpinWillYield) Thread.Yield();
            else spin.SpinOnce();
        }
        var error = _error;
        _error = null;
        if (error is not null)
        {
            if (interrupted is not null) Thread.CurrentThread.Interrupt();    // kept for the thread's next wait
            error.Throw();
        }
        interrupted?.Throw();
    }

    /// <summary>
    /// Wakes the workers for a published job (a worker still spinning sees it anyway). One that sat out the last job it
    /// looked at is woken at most once per <see cref="SitOutRecheckTicks"/>, to look at its CPU again: waking it for every
    /// job would have it preempt the caller on their shared CPU only to go back to sleep.
    /// </summary>
    void WakeWorkers()
    {
        long now = 0;
        for (int i = 0; i < _wake.Length; i++)
        {
            if (Volatile.Read(ref _sittingOut[i * CounterStride]) != 0)
            {
                if (now == 0) now = Stopwatch.GetTimestamp();
                if (now - _lastSitOutWake[i] < SitOutRecheckTicks) continue;
                _lastSitOutWake[i] = now;
            }
            _wake[i].Set();
        }
    }

    int Start(int count, int p) => (int)((long)count * p / Threads);

    /// <summary>The next unclaimed task of participant p's range in job <paramref name="generation"/>, or -1 when the range is used up (or the job is over).</summary>
    int Claim(int generation, int count, int p)
    {
        int start = Start(count, p), size = Start(count, p + 1) - start;
        ref long counter = ref _claimed[p * CounterStride];
        while (true)
        {
            long seen = Volatile.Read(ref counter);
            if ((int)(seen >> 32) != generation || (int)seen >= size) return -1;
            if (Interlocked.CompareExchange(ref counter, seen + 1, seen) == seen) return start + (int)seen;
        }
    }

    /// <summary>
    /// Runs participant p's own tasks, then the others' until none is left. Completions are counted
    /// locally and published once: every shared write moves the job's cache line between cores, which
    /// on this machine costs more than a small task.
    /// </summary>
    void Drain(int generation, int count, int p, WorkspaceSet set)
    {
        int done = 0;
        LoopRunner? runner = null;
        try
        {
            for (int k = 0; k < Threads; k++)
            {
                int owner = (p + k) % Threads;
                for (int i; (i = Claim(generation, count, owner)) >= 0;)
                {
                    done++;
                    runner ??= Volatile.Read(ref _runner)!;
                    try { runner.Run(i, set); }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                    }
                }
            }
        }
        finally { if (done > 0) Interlocked.Add(ref _pending, -done); }
    }

    void Work(int id)
    {
        int seen = 0;
        var wake = _wake[id];
        t_runningFor = this;
        bool sittingOut = false;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_stop)
            {
                if (!sittingOut && (++spins % 64 != 0 || Stopwatch.GetTimestamp() - start < SpinTicks))
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
            // On the caller's CPU, leave the job to the others and block rather than spin: the caller keeps the core.
            int cpu = _currentCpu();
            bool shares = cpu >= 0 && cpu == Volatile.Read(ref _callerCpu);
            if (shares != sittingOut)
            {
                sittingOut = shares;
                // A full fence between this write and the generation read before the wait, as the caller has between
                // publishing and reading it: either the caller wakes this worker or the worker sees the job.
                Interlocked.Exchange(ref _sittingOut[id * CounterStride], shares ? 1 : 0);
            }
            if (!sittingOut) Drain(seen, Volatile.Read(ref _count), id + 1, _sets[id + 1]);
        }
    }

    public void Dispose()
    {
        if (_stop) return;
        RefuseFromOwnLoop(nameof(Dispose));     // from a task it would join the worker running it, or wait for its own job
        lock (_jobLock)
        {
            if (_stop) return;                  // a concurrent Dispose got here first
            _stop = true;
            foreach (var e in _wake) e.Set();
            foreach (var t in _threads) t.Join();
            foreach (var e in _wake) e.Dispose();
        }
    }
}
