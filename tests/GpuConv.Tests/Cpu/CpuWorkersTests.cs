using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

public class CpuWorkersTests
{
    [Test]
    public void EveryTaskRunsOnceAndFailuresPropagate()
    {
        using var workers = new CpuWorkers(3);
        for (int round = 0; round < 50; round++)
        {
            int count = 1 + round * 7 % 40;
            var hits = new int[count];
            workers.For(count, (i, _) => Interlocked.Increment(ref hits[i]));
            Assert.That(hits, Is.All.EqualTo(1), $"round {round}");
        }
        var ex = Assert.Throws<InvalidOperationException>(() => workers.For(20, (i, _) => { if (i == 13) throw new InvalidOperationException("task 13"); }));
        Assert.That(ex!.Message, Is.EqualTo("task 13"));
        // Still usable after a failure.
        int total = 0;
        workers.For(10, (i, _) => Interlocked.Add(ref total, i));
        Assert.That(total, Is.EqualTo(45));
    }

    [Test]
    public void RejectsZeroThreads() => Assert.Throws<ArgumentException>(() => new CpuWorkers(0));
}
