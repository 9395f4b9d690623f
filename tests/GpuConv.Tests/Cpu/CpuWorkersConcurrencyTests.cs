using System.Diagnostics;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// CpuWorkers under stress: many short jobs of alternating loop types (each task checks it ran once, with its own job's
/// operands), failures mid-job followed by good jobs, concurrent callers, nested calls and Dispose against a running job.
/// More threads than this machine's cores make late wake-ups common. Every test body runs under a time limit on its own
/// thread, so a lost wake-up or a deadlock fails the test instead of hanging the run.
/// </summary>
public class CpuWorkersConcurrencyTests
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>Runs body on a background thread; fails the test if it has not ended within the limit (a hang).</summary>
    internal static void WithinLimit(Action body, TimeSpan? limit = null)
    {
        Exception? error = null;
        var thread = new Thread(() => { try { body(); } catch (Exception e) { error = e; } }) { IsBackground = true, Name = "test body" };
        thread.Start();
        if (!thread.Join(limit ?? Limit)) Assert.Fail($"still running after {(limit ?? Limit).TotalSeconds} s: a hang");
        if (error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
    }

    /// <summary>One job's operands: task i marks hits[i] and records the job it was given in jobs[i].</summary>
    readonly struct Mark(int[] hits, int[] jobs, int job) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace)
        {
            Interlocked.Increment(ref hits[task]);
            Volatile.Write(ref jobs[task], job);
        }
    }

    /// <summary>A second loop type with the same check, different layout (a runner of the wrong type would misread it).</summary>
    readonly struct MarkTwice(int job, int[] jobs, int[] hits, long salt) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace)
        {
            if (salt != job * 31L) throw new InvalidOperationException($"task {task}: operands torn ({salt} for job {job})");
            Interlocked.Add(ref hits[task], 1);
            Volatile.Write(ref jobs[task], job);
        }
    }

    /// <summary>A third loop type whose tasks take a little time, so jobs overlap late workers.</summary>
    readonly struct SlowMark(int[] hits, int[] jobs, int job, int spins) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace)
        {
            Thread.SpinWait(spins);
            Interlocked.Increment(ref hits[task]);
            Volatile.Write(ref jobs[task], job);
        }
    }

    static void CheckJob(int[] hits, int[] jobs, int job, string what)
    {
        for (int i = 0; i < hits.Length; i++)
        {
            if (hits[i] != 1) Assert.Fail($"{what}: task {i} of {hits.Length} ran {hits[i]} times");
            if (jobs[i] != job) Assert.Fail($"{what}: task {i} ran with job {jobs[i]}'s operands");
        }
    }

    [TestCase(2), TestCase(3), TestCase(5), TestCase(8)]
    public void ManyShortJobsOfAlternatingLoopTypesRunEveryTaskOnceWithItsOwnOperands(int threads) => WithinLimit(() =>
    {
        using var workers = new CpuWorkers(threads);
        var recent = new Queue<(int[] Hits, int[] Jobs, int Job)>();
        var clock = Stopwatch.StartNew();
        int job = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(1) || job < 300)
        {
            job++;
            int count = 1 + job * 7 % (4 * threads + 9);
            var hits = new int[count];
            var jobs = new int[count];
            switch (job % 3)
            {
                case 0: workers.For(count, new Mark(hits, jobs, job)); break;
                case 1: workers.For(count, new MarkTwice(job, jobs, hits, job * 31L)); break;
                default: workers.For(count, new SlowMark(hits, jobs, job, job % 5 * 200)); break;
            }
            CheckJob(hits, jobs, job, $"job {job} ({threads} threads)");
            // A late worker running an old runner would write into an earlier job's arrays after its For returned.
            recent.Enqueue((hits, jobs, job));
            if (recent.Count > 8) recent.Dequeue();
            foreach (var (h, j, n) in recent) CheckJob(h, j, n, $"job {n}, checked again after job {job}");
        }
    });

    readonly struct FailAt(int[] hits, int[] finished, int failing, int spins) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace)
        {
            Interlocked.Increment(ref hits[task]);
            Thread.SpinWait(spins);
            Volatile.Write(ref finished[task], 1);
            if (task == failing || task == failing + 1) throw new TaskFailure(task);
        }
    }

    sealed class TaskFailure(int task) : Exception($"task {task} failed")
    {
        public int Task { get; } = task;
    }

    [TestCase(2), TestCase(4), TestCase(8)]
    public void AFailureIsRethrownOnceAfterEveryTaskEndedAndTheNextJobsRunWhole(int threads) => WithinLimit(() =>
    {
        using var workers = new CpuWorkers(threads);
        for (int round = 0; round < 200; round++)
        {
            int count = 2 + round % (3 * threads);
            var hits = new int[count];
            var finished = new int[count];
            int failing = round % (count - 1);
            var failure = Assert.Throws<TaskFailure>(() => workers.For(count, new FailAt(hits, finished, failing, round % 4 * 300)));
            Assert.That(failure!.Task, Is.EqualTo(failing).Or.EqualTo(failing + 1), $"round {round}: one of the failing tasks' exceptions");
            // Every task ran once and had ended when For threw: none is still running on a worker.
            Assert.That(hits, Is.All.EqualTo(1), $"round {round}: tasks run");
            Assert.That(finished, Is.All.EqualTo(1), $"round {round}: tasks ended before For returned");
            var goodHits = new int[count];
            var goodJobs = new int[count];
            workers.For(count, new Mark(goodHits, goodJobs, round));   // no stale failure rethrown here
            CheckJob(goodHits, goodJobs, round, $"good job after failing round {round}");
        }
    });

    [TestCase(2, 2), TestCase(4, 3), TestCase(8, 4)]
    public void ConcurrentCallersOnOneWorkersEachGetTheirOwnJobRunWhole(int threads, int callers) => WithinLimit(() =>
    {
        using var workers = new CpuWorkers(threads);
        var clock = Stopwatch.StartNew();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var callerThreads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
        {
            try
            {
                for (int job = 0; clock.Elapsed < TimeSpan.FromSeconds(1) || job < 100; job++)
                {
                    int id = c * 1_000_000 + job, count = 1 + (job * 5 + c) % (3 * threads + 4);
                    var hits = new int[count];
                    var jobs = new int[count];
                    if (job % 2 == 0) workers.For(count, new Mark(hits, jobs, id));
                    else workers.For(count, new MarkTwice(id, jobs, hits, id * 31L));
                    CheckJob(hits, jobs, id, $"caller {c}, job {job}");
                }
            }
            catch (Exception e) { errors.Enqueue($"caller {c}: {e.Message}"); }
        }) { IsBackground = true }).ToList();
        callerThreads.ForEach(t => t.Start());
        callerThreads.ForEach(t => t.Join());
        Assert.That(errors, Is.Empty);
    });

    readonly struct Nested(CpuWorkers workers, int[] innerHits, int[] outerHits) : ICpuLoop
    {
        public void Run(int task, WorkspaceSet workspace)
        {
            Interlocked.Increment(ref outerHits[task]);
            workers.For(innerHits.Length, new Mark(innerHits, new int[innerHits.Length], 1));
        }
    }

    [TestCase(2), TestCase(4)]
    public void ALoopThatCallsForOnItsOwnWorkersIsRefusedNotDeadlockedOrCorrupted(int threads) => WithinLimit(() =>
    {
        using var workers = new CpuWorkers(threads);
        for (int round = 0; round < 20; round++)
        {
            // Tasks on the calling thread and on the workers both call For on the workers that run them.
            var outer = new int[4 * threads];
            var ex = Assert.Throws<InvalidOperationException>(() => workers.For(outer.Length, new Nested(workers, new int[16], outer)));
            Assert.That(ex!.Message, Does.Contain("inside"), "names the nested call");
            Assert.That(outer, Is.All.EqualTo(1), $"round {round}: every outer task ran once");
            var hits = new int[3 * threads];
            var jobs = new int[hits.Length];
            workers.For(hits.Length, new Mark(hits, jobs, round));
            CheckJob(hits, jobs, round, $"job after nested round {round}");
        }
        // One task only: For runs it on the calling thread, and a nested For is refused there too.
        Assert.Throws<InvalidOperationException>(() => workers.For(1, new Nested(workers, new int[16], new int[1])));
        // Other workers from inside a loop are fine.
        using var other = new CpuWorkers(2);
        var innerHits = new int[8];
        workers.For(3, new DelegateLoop((_, _) => other.For(innerHits.Length, (i, _) => Interlocked.Increment(ref innerHits[i]))));
        Assert.That(innerHits, Is.All.EqualTo(3));
    });

    [TestCase(2), TestCase(6)]
    public void DisposeWaitsForTheRunningJobAndLaterCallsAreRefused(int threads) => WithinLimit(() =>
    {
        for (int round = 0; round < 20; round++)
        {
            var workers = new CpuWorkers(threads);
            var hits = new int[8 * threads];
            var jobs = new int[hits.Length];
            using var started = new ManualResetEventSlim();
            var job = new Thread(() => workers.For(hits.Length, new DelegateLoop((i, _) =>
            {
                started.Set();
                Thread.Sleep(1);
                Interlocked.Increment(ref hits[i]);
                Volatile.Write(ref jobs[i], 7);
            }))) { IsBackground = true };
            job.Start();
            started.Wait();
            workers.Dispose();          // waits for the job
            CheckJob(hits, jobs, 7, $"round {round}: the job Dispose waited for");
            Assert.That(job.Join(TimeSpan.FromSeconds(30)), Is.True);
            Assert.Throws<ObjectDisposedException>(() => workers.For(4, (_, _) => { }));
            workers.Dispose();          // a second Dispose is harmless
        }
    });

    [Test]
    public void ForRacingDisposeEitherRunsBeforeItOrIsRefused() => WithinLimit(() =>
    {
        // A call that passed the disposed check just before Dispose took the lock must not run after Dispose:
        // its workers are gone and its wake events disposed. (Before the check under the lock it was refused anyway,
        // by ManualResetEventSlim.Set on a disposed event, after publishing a job: this test passes either way.)
        int ranAfterDispose = 0, refused = 0;
        for (int round = 0; round < 40; round++)
        {
            var workers = new CpuWorkers(3);
            using var gate = new ManualResetEventSlim();
            bool disposed = false;
            var holder = new Thread(() => workers.For(2, (_, _) => gate.Wait())) { IsBackground = true };
            holder.Start();
            while ((holder.ThreadState & System.Threading.ThreadState.WaitSleepJoin) == 0) Thread.Yield();
            Thread.Sleep(2);
            var caller = new Thread(() =>
            {
                try { workers.For(6, (_, _) => { if (Volatile.Read(ref disposed)) Interlocked.Increment(ref ranAfterDispose); }); }
                catch (ObjectDisposedException) { Interlocked.Increment(ref refused); }
            }) { IsBackground = true };
            caller.Start();
            var disposer = new Thread(() => { workers.Dispose(); Volatile.Write(ref disposed, true); }) { IsBackground = true };
            disposer.Start();
            Thread.Sleep(5);            // both wait on the job lock now
            gate.Set();
            Assert.That(disposer.Join(TimeSpan.FromSeconds(30)) && caller.Join(TimeSpan.FromSeconds(30)) && holder.Join(TimeSpan.FromSeconds(30)), Is.True);
        }
        Assert.That(ranAfterDispose, Is.Zero, $"tasks run after Dispose returned ({refused} of 40 calls refused)");
    });

    [TestCase(3), TestCase(8)]
    public void ACallerInterruptedWhileWaitingLeavesNoTaskRunningIntoTheNextJob(int threads) => WithinLimit(() =>
    {
        // Thread.Interrupt on a caller that waits for the workers' tasks: For must not return (by an exception) while
        // a task still runs, or that task's completion would be counted against the next job.
        using var workers = new CpuWorkers(threads);
        for (int round = 0; round < 10; round++)
        {
            var hits = new int[4 * threads];
            var finished = new int[hits.Length];
            Exception? thrown = null;
            int workerRunning = 0;
            var caller = new Thread(() =>
            {
                try
                {
                    workers.For(hits.Length, new DelegateLoop((i, _) =>
                    {
                        Interlocked.Increment(ref hits[i]);
                        if (Environment.CurrentManagedThreadId != callerId) { Volatile.Write(ref workerRunning, 1); Thread.SpinWait(300_000); }
                        Volatile.Write(ref finished[i], 1);
                    }));
                }
                catch (Exception e) { thrown = e; }
                // When For ends, by any route, no task may still be running.
                var how = thrown?.GetType().Name ?? "returned";
                for (int i = 0; i < finished.Length; i++)
                    if (Volatile.Read(ref finished[i]) == 0 && Volatile.Read(ref hits[i]) == 1) thrown = new Exception($"task {i} still running when For ended ({how})");
            }) { IsBackground = true };
            callerId = -1;
            caller.Start();
            callerId = caller.ManagedThreadId;
            while (Volatile.Read(ref workerRunning) == 0 && caller.IsAlive) Thread.Yield();
            caller.Interrupt();
            Assert.That(caller.Join(TimeSpan.FromSeconds(30)), Is.True);
            Assert.That(thrown is null or ThreadInterruptedException, Is.True, $"round {round}: {thrown}");
            var goodHits = new int[3 * threads];
            var goodJobs = new int[goodHits.Length];
            workers.For(goodHits.Length, new Mark(goodHits, goodJobs, round));
            CheckJob(goodHits, goodJobs, round, $"job after interrupted round {round}");
        }
    });

    static volatile int callerId;
}
