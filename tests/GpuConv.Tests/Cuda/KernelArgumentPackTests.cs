using GpuConv.Cuda;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// <see cref="KernelArgumentPack"/>, the stack-held argument list of every library launch: values behind the pointers
/// the driver gets, the width and kind kept per argument, the 64-argument limit, the boxed view for the old seam.
/// </summary>
public class KernelArgumentPackTests
{
    [Test]
    public unsafe void ValuesLieBehindThePointersTheLaunchGets()
    {
        var args = new KernelArgumentPack();
        args.Add(0x1234_5678_9abcUL).Add(2.5f).Add(7u).Add(-3).Add(-5L);
        Assert.That(args.Count, Is.EqualTo(5));
        void** pointers = stackalloc void*[args.Count];
        args.PointTo(pointers);
        Assert.That(*(ulong*)pointers[0], Is.EqualTo(0x1234_5678_9abcUL));
        Assert.That(*(float*)pointers[1], Is.EqualTo(2.5f));
        Assert.That(*(uint*)pointers[2], Is.EqualTo(7u));
        Assert.That(*(int*)pointers[3], Is.EqualTo(-3));
        Assert.That(*(long*)pointers[4], Is.EqualTo(-5L));
        // A 4-byte value is zero-extended in its slot: a driver reading 8 bytes (a wrong .param) sees no stale bytes.
        Assert.That(*(ulong*)pointers[2], Is.EqualTo(7UL));
        Assert.That((long)((nint)pointers[1] - (nint)pointers[0]), Is.EqualTo(8L), "one 8-byte slot per argument, in order");
    }

    [Test]
    public void WidthAndKindAreKeptPerArgument()
    {
        var args = new KernelArgumentPack();
        args.Add(1UL).Add(2L).Add(3u).Add(4).Add(5f);
        var seen = new List<(int, bool, KernelArgumentKind)>();
        for (int i = 0; i < args.Count; i++) seen.Add((args.SizeOf(i), args.IsFloat(i), args.KindOf(i)));
        Assert.That(seen, Is.EqualTo(new[]
        {
            (8, false, KernelArgumentKind.U64), (8, false, KernelArgumentKind.S64), (4, false, KernelArgumentKind.U32),
            (4, false, KernelArgumentKind.S32), (4, true, KernelArgumentKind.F32),
        }));
        string? refused = null;
        try { args.KindOf(5); }
        catch (ArgumentOutOfRangeException) { refused = "index 5"; }
        Assert.That(refused, Is.Not.Null, "an index past Count is refused");
    }

    [Test]
    public void TheBoxedViewKeepsEachType()
    {
        var args = new KernelArgumentPack();
        args.Add(1UL).Add(-2L).Add(3u).Add(-4).Add(5.5f);
        Assert.That(args.ToObjects(), Is.EqualTo(new object[] { 1UL, -2L, 3u, -4, 5.5f }));
        Assert.That(args.ToObjects().Select(o => o.GetType()), Is.EqualTo(new[] { typeof(ulong), typeof(long), typeof(uint), typeof(int), typeof(float) }));
    }

    [Test]
    public void MoreThanTheLimitIsRefused()
    {
        var args = new KernelArgumentPack();
        for (int i = 0; i < KernelArgumentPack.MaxArguments; i++) args.Add((uint)i);
        var error = "";
        try { args.Add(1u); }
        catch (InvalidOperationException e) { error = e.Message; }
        Assert.That(error, Does.Contain($"at most {KernelArgumentPack.MaxArguments} kernel arguments"));
        Assert.That(args.Count, Is.EqualTo(KernelArgumentPack.MaxArguments));
    }

    [Test]
    public void PackingAllocatesNothing()
    {
        static int Pack()
        {
            var args = new KernelArgumentPack();
            for (int i = 0; i < KernelArgumentPack.MaxArguments / 2; i++) args.Add((ulong)i).Add(1f);
            return args.Count;
        }
        Pack();
        // The fewest bytes of five rounds of 100 packs: a one-off on this thread (a JIT compilation, 64 B, was seen in
        // other allocation tests) falls in one round; an allocation per pack falls in every round.
        long fewest = long.MaxValue;
        int count = 0;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) count += Pack() > 0 ? 1 : 0;
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(fewest, Is.Zero);
        Assert.That(count, Is.EqualTo(500));
    }
}
