using System.Runtime.InteropServices;

namespace GpuConv.Cpu.Threading;

/// <summary>
/// The CPU the calling thread runs on at this moment, asked of the OS on every call (Linux's sched_getcpu, served by the
/// vDSO, and Windows' GetCurrentProcessorNumber: nanoseconds), or -1 where neither exists. Not
/// <see cref="Thread.GetCurrentProcessorId"/>: that caches the answer per thread over many calls, so after the OS moves a
/// thread it goes on naming the CPU the thread left.
/// </summary>
internal static partial class CurrentCpu
{
    static readonly bool Available = Probe();

    public static int Get() => Available ? Ask() : -1;

    static int Ask() => OperatingSystem.IsWindows() ? (int)GetCurrentProcessorNumber() : sched_getcpu();

    static bool Probe()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows()) return false;
        try { return Ask() >= 0; }
        // No such library or function (another C library, a trimmed runtime): the workers then never sit out.
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException) { return false; }
    }

    // "libc" is mapped by the runtime to the C library's real file name (libc.so.6 on glibc).
    [LibraryImport("libc")] private static partial int sched_getcpu();
    [LibraryImport("kernel32")] private static partial uint GetCurrentProcessorNumber();
}
