using GpuConv.Cpu.Elementwise;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// ParallelElementwise's cut of a host tensor into chunks: every element in exactly one chunk, chunks of whole cache
/// lines, for sizes from the parallel threshold up to the largest float array .NET allows (the size is arithmetic only:
/// no 8 GiB array is made).
/// </summary>
public class ParallelElementwiseSplitTests
{
    static IEnumerable<TestCaseData> Sizes()
    {
        foreach (int threads in new[] { 2, 3, 16, 256 })
            foreach (int n in new[] { ParallelElementwise.MinParallelElements, ParallelElementwise.MinParallelElements + 13, 802_816,
                         1_900_000_000, int.MaxValue - 1024, Array.MaxLength, int.MaxValue })
                yield return new TestCaseData(n, threads);
    }

    [TestCaseSource(nameof(Sizes))]
    public void ChunksCoverEveryElementOnce(int n, int threads)
    {
        var (chunk, tasks) = ParallelElementwise.Split(n, threads);
        Assert.That(chunk, Is.Positive.And.Matches<int>(c => c % 16 == 0), "chunk length: whole 64-byte lines");
        Assert.That(tasks, Is.Positive, "some work is run (a wrapped count made CpuWorkers.For run none)");
        Assert.That((long)(tasks - 1) * chunk, Is.LessThan(n), "the last chunk starts inside the tensor");
        Assert.That((long)tasks * chunk, Is.GreaterThanOrEqualTo(n), "the chunks reach the end");
        Assert.That(tasks, Is.LessThanOrEqualTo(threads * 4), "about four chunks per thread");
    }
}
