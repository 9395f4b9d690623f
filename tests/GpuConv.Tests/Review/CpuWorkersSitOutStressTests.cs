using System.Diagnostics;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Review;

/// <summary>
/// The sit-out rule's wake/flag protocol under a CPU source that flips at random on every ask: every task of every job
/// runs exactly once, and Dispose returns promptly with workers blocked after sitting out.
/// </summary>
public class CpuWorkersSitOutStressTests
{
    [Test]
    public void EveryTaskRunsOnceWhileWorkersFlipBetweenSittingOutAndTakingPart([Values(2, 3)] int threads)
    {
        int asks = 0;
        // The caller and the workers ask in turn: which of them "share" a CPU changes from one ask to the next.
        using var workers = new CpuWorkers(threads, currentCpu: () => (Interlocked.Increment(ref asks) * 2654435761u >> 30) % 2 == 0 ? 0 : 1);
        var hits = new int[37];
        for (int job = 0; job < 3000; job++)
        {
            Array.Clear(hits);
            workers.For(hits.Length, (i, _) => Interlocked.Increment(ref hits[i]));
            if (hits.Any(h => h != 1))
                Assert.Fail($"job {job}: task counts {string.Join(",", hits)}");
            if (job % 500 == 0) Thread.Sleep(3); // past the 2 ms re-check: sitting-out workers are woken again
        }
    }

    [Test]
    public void DisposeWakesWorkersThatSitOut()
    {
        var workers = new CpuWorkers(3, currentCpu: () => 7);
        var hits = new int[8];
        for (int job = 0; job < 20; job++) workers.For(hits.Length, (i, _) => Interlocked.Increment(ref hits[i]));
        Thread.Sleep(20); // the workers have sat out and blocked
        var watch = Stopwatch.StartNew();
        var disposing = Task.Run(workers.Dispose);
        Assert.That(disposing.Wait(TimeSpan.FromSeconds(10)), Is.True, "Dispose did not return: a sleeping worker was not woken");
        Assert.That(hits, Is.All.EqualTo(20));
        TestContext.Out.WriteLine($"Dispose took {watch.Elapsed.TotalMilliseconds:F1} ms");
    }
}
