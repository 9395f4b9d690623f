using GpuConv.Cuda;

namespace GpuConv.Tests.Cuda;

public class DeviceMemoryPoolTests
{
    [TestCase(1, 512)]
    [TestCase(512, 512)]
    [TestCase(513, 1024)]
    [TestCase(1 << 20, 1 << 20)]
    [TestCase((1 << 20) + 1, (1 << 20) + (1 << 18))]        // 1.25 MiB
    [TestCase(3 << 20, 3 << 20)]                              // 3 MiB is a class (2 MiB + 2·512 KiB)
    [TestCase((3 << 20) + 1, (3 << 20) + (1 << 19))]        // next class 3.5 MiB
    [TestCase(1L << 32, 1L << 32)]
    public void SizeClasses(long bytes, long expected) => Assert.That(DeviceMemoryPool.SizeClass(bytes), Is.EqualTo(expected));

    [Test]
    public void SizeClassesWasteAtMostAQuarterAboveOneMebibyte()
    {
        var rng = new Random(7);
        for (int i = 0; i < 10_000; i++)
        {
            long bytes = (1L << 20) + (long)(rng.NextDouble() * (1L << 34));
            long size = DeviceMemoryPool.SizeClass(bytes);
            Assert.That(size, Is.GreaterThanOrEqualTo(bytes));
            Assert.That(size, Is.LessThanOrEqualTo(bytes * 1.25 + 1), $"class of {bytes}");
        }
    }

    [Test]
    public void ReturnedBlocksAreReusedForTheSameClass()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        var a = pool.Rent(1000);
        ulong p = a.Pointer;
        a.Dispose();
        using var b = pool.Rent(900); // same 1024-byte class
        Assert.That(b.Pointer, Is.EqualTo(p));
        Assert.That(alloc.Allocations, Is.EqualTo(1));
        var s = pool.Statistics;
        Assert.That((s.Rents, s.CacheHits, s.BlocksInUse, s.BytesInUse, s.BytesCached), Is.EqualTo((2L, 1L, 1, 1024L, 0L)));
    }

    [Test]
    public void StatisticsTrackInUseCachedAndPeak()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        var a = pool.Rent(4096);
        var b = pool.Rent(100);
        Assert.That(pool.Statistics.BytesInUse, Is.EqualTo(4096 + 512));
        a.Dispose();
        var s = pool.Statistics;
        Assert.That((s.BytesInUse, s.BytesCached, s.PeakBytesInUse, s.BlocksCached), Is.EqualTo((512L, 4096L, 4608L, 1)));
        b.Dispose();
        Assert.That(pool.Statistics.BytesReserved, Is.EqualTo(4608));
    }

    [Test]
    public void TrimFreesOnlyCachedBlocks()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        var kept = pool.Rent(2048);
        pool.Rent(1 << 22).Dispose();
        pool.Rent(64).Dispose();
        pool.Trim();
        Assert.That(alloc.Live, Is.EqualTo(new[] { kept.Pointer }));
        var s = pool.Statistics;
        Assert.That((s.BytesCached, s.BlocksCached, s.NativeFrees), Is.EqualTo((0L, 0, 2L)));
        kept.Dispose();
    }

    [Test]
    public void TenThousandRentReturnCyclesComeBackToBaseline()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        long[] sizes = [4, 600, 4096, 70_000, 1 << 20, (1 << 20) + 12345, 5 << 20];
        var baseline = pool.Statistics;
        var rng = new Random(1);
        var live = new List<DeviceBuffer>();
        for (int i = 0; i < 10_000; i++)
        {
            live.Add(pool.Rent(sizes[rng.Next(sizes.Length)]));
            if (live.Count > 3 || rng.Next(2) == 0)
            {
                int j = rng.Next(live.Count);
                live[j].Dispose();
                live.RemoveAt(j);
            }
        }
        foreach (var b in live) b.Dispose();

        var s = pool.Statistics;
        Assert.That((s.BytesInUse, s.BlocksInUse), Is.EqualTo((baseline.BytesInUse, baseline.BlocksInUse)));
        Assert.That(s.Rents, Is.EqualTo(10_000));
        // At most 5 live at once, so the cache stays small: a few native allocations per class, not thousands.
        Assert.That(s.NativeAllocations, Is.LessThanOrEqualTo(5 * sizes.Length));
        Assert.That(s.CacheHits, Is.EqualTo(10_000 - s.NativeAllocations));
        pool.Trim();
        Assert.That(alloc.Live, Is.Empty, "every native allocation freed after trim");
        Assert.That(alloc.Frees, Is.EqualTo(alloc.Allocations));
    }

    [Test]
    public void OutOfMemoryTrimsTheCacheAndRetriesOnce()
    {
        var alloc = new FakeAllocator { CapacityBytes = 8 << 20 };
        using var pool = new DeviceMemoryPool(alloc);
        pool.Rent(6 << 20).Dispose();             // cached: 6 MiB of the 8
        using var big = pool.Rent(5 << 20);       // fails first, trims, then fits
        Assert.That(pool.Statistics.BytesCached, Is.Zero);
        Assert.That(alloc.FailedAttempts, Is.EqualTo(1));
        var ex = Assert.Throws<DeviceOutOfMemoryException>(() => pool.Rent(6 << 20));
        Assert.That(ex!.RequestedBytes, Is.EqualTo(6 << 20));
        Assert.That(ex.Message, Does.Contain("could not allocate 6291456 bytes"));
    }

    [Test]
    public void TrimAfterAFailedAllocationWaitsForQueuedWorkBeforeFreeing()
    {
        // A block goes back to the pool when its user has issued its last work, not when the device ran it.
        var alloc = new FakeAllocator { CapacityBytes = 8 << 20 };
        using var pool = new DeviceMemoryPool(alloc);
        var workspace = pool.Rent(6 << 20);
        alloc.QueueWorkOn(workspace.Pointer);
        workspace.Dispose();                       // cached, still being read by the queued work
        using var big = pool.Rent(5 << 20);        // fails, trims the cache, retries
        Assert.That(alloc.Log, Is.EqualTo(new[] { "alloc", "fail", "wait", "free", "alloc" }), "wait for the device, then free, then retry");
        Assert.That(pool.Statistics.BytesCached, Is.Zero);
    }

    [Test]
    public void TrimWaitsForQueuedWorkBeforeFreeing()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        var a = pool.Rent(4096);
        alloc.QueueWorkOn(a.Pointer);
        a.Dispose();
        pool.Trim();
        Assert.That(alloc.Log, Is.EqualTo(new[] { "alloc", "wait", "free" }));
    }

    [Test]
    public void TrimOfAnEmptyCacheDoesNotWaitForTheDevice()
    {
        var alloc = new FakeAllocator { CapacityBytes = 1 << 20 };
        using var pool = new DeviceMemoryPool(alloc);
        using var kept = pool.Rent(1000);
        pool.Trim();
        Assert.Throws<DeviceOutOfMemoryException>(() => pool.Rent(2 << 20));
        Assert.That(alloc.Waits, Is.Zero, "nothing cached, nothing to free: no device-wide wait");
    }

    [Test]
    public void DisposingThePoolAndLateReturnsWaitBeforeFreeing()
    {
        var alloc = new FakeAllocator();
        var pool = new DeviceMemoryPool(alloc);
        var cached = pool.Rent(100);
        var outstanding = pool.Rent(200);
        alloc.QueueWorkOn(cached.Pointer);
        cached.Dispose();
        pool.Dispose();
        Assert.That(alloc.Log, Is.EqualTo(new[] { "alloc", "alloc", "wait", "free" }));
        alloc.QueueWorkOn(outstanding.Pointer);
        outstanding.Dispose();                     // returned after the pool is gone: freed at once, after a wait
        Assert.That(alloc.Log.Skip(4), Is.EqualTo(new[] { "wait", "free" }));
        Assert.That(alloc.Live, Is.Empty);
    }

    [Test]
    public void DisposeTwiceReturnsOnce()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        var a = pool.Rent(10);
        a.Dispose();
        a.Dispose();
        Assert.That(pool.Statistics.BlocksCached, Is.EqualTo(1));
        Assert.Throws<ObjectDisposedException>(() => _ = a.Pointer);
    }

    [Test]
    public void BlocksReturnedAfterThePoolIsDisposedAreFreed()
    {
        var alloc = new FakeAllocator();
        var pool = new DeviceMemoryPool(alloc);
        var outstanding = pool.Rent(100);
        pool.Rent(200).Dispose();
        pool.Dispose();
        Assert.That(alloc.Live, Has.Count.EqualTo(1));
        outstanding.Dispose();
        Assert.That(alloc.Live, Is.Empty);
        Assert.Throws<ObjectDisposedException>(() => pool.Rent(1));
    }

    [Test]
    public void BadSizesAreRejected()
    {
        using var pool = new DeviceMemoryPool(new FakeAllocator());
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(0));
        Assert.That(ex!.ParamName, Is.EqualTo("bytes"));
    }

    [Test]
    public void AnAbandonedBufferIsReturnedByItsFinalizer()
    {
        var alloc = new FakeAllocator();
        using var pool = new DeviceMemoryPool(alloc);
        Abandon(pool);
        for (int i = 0; i < 5 && pool.Statistics.BlocksInUse > 0; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.That(pool.Statistics.BlocksInUse, Is.Zero);
        Assert.That(pool.Statistics.BlocksCached, Is.EqualTo(1));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static void Abandon(DeviceMemoryPool pool) => pool.Rent(4096);
}

/// <summary>
/// Hands out fake, never-dereferenced addresses and tracks which are live. It also models the device's
/// queue: <see cref="QueueWorkOn"/> marks a block as read by work not yet run, and freeing such a block
/// before <see cref="WaitForPendingWork"/> throws, as the real hazard would corrupt or fault that work.
/// </summary>
sealed class FakeAllocator : IDeviceAllocator
{
    ulong _next = 0x7f00_0000_0000;
    readonly Dictionary<ulong, long> _live = new();
    readonly HashSet<ulong> _inFlight = new();

    public long CapacityBytes { get; init; } = long.MaxValue;
    public long Allocations { get; private set; }
    public long Frees { get; private set; }
    public int FailedAttempts { get; private set; }
    public int Waits { get; private set; }
    public IReadOnlyCollection<ulong> Live => _live.Keys;
    /// <summary>"alloc", "fail", "wait", "free" in call order.</summary>
    public List<string> Log { get; } = [];

    /// <summary>Work that reads <paramref name="pointer"/> is queued and has not run yet.</summary>
    public void QueueWorkOn(ulong pointer) => _inFlight.Add(pointer);

    public bool TryAllocate(long bytes, out ulong pointer)
    {
        if (_live.Values.Sum() + bytes > CapacityBytes) { FailedAttempts++; Log.Add("fail"); pointer = 0; return false; }
        pointer = _next;
        _next += (ulong)bytes + 4096;
        _live.Add(pointer, bytes);
        Allocations++;
        Log.Add("alloc");
        return true;
    }

    public void Free(ulong pointer)
    {
        if (_inFlight.Contains(pointer)) throw new InvalidOperationException($"freed 0x{pointer:x} while queued work may still read it");
        if (!_live.Remove(pointer)) throw new InvalidOperationException($"double or foreign free of 0x{pointer:x}");
        Frees++;
        Log.Add("free");
    }

    public void WaitForPendingWork()
    {
        Waits++;
        _inFlight.Clear();
        Log.Add("wait");
    }
}
