using System.Runtime.CompilerServices;
using GpuConv.Backends;
using GpuConv.Planning;

namespace GpuConv.Tests.Planning;

/// <summary>
/// Lets the concurrency test run real separate processes: when the test executable starts with
/// <see cref="EnvironmentVariable"/> set ("path|child|count"), this module initializer (which runs
/// before the test platform's Main) writes <c>count</c> plans to the cache file, saving after each,
/// and exits: 0 on success, 2 if any warning was raised (a reader saw a broken file), 3 if a save failed.
/// </summary>
static class PlanCacheChildProcess
{
    public const string EnvironmentVariable = "GPUCONV_TEST_PLAN_CACHE_CHILD";

    [ModuleInitializer]
    internal static void RunIfChild()
    {
        var spec = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(spec)) return;
        WriteAndExit(spec);
    }

    // Kept out of the initializer so that starting the test executable does not load GpuConv.dll: coverlet.MTP
    // (build/gpu-coverage.sh) leaves every assembly its controller process has loaded uninstrumented.
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void WriteAndExit(string spec)
    {
        var parts = spec.Split('|');
        string path = parts[0];
        int child = int.Parse(parts[1]), count = int.Parse(parts[2]);
        int exit = 0;
        var cache = new PlanCache(path, warn: m => { Console.Error.WriteLine(m); exit = 2; });
        for (int i = 0; i < count && exit == 0; i++)
        {
            cache.Put(Key(child, i), PlanFor(child, i));
            if (!cache.Save()) exit = 3;
        }
        Environment.Exit(exit);
    }

    /// <summary>A distinct key per (writer, entry), so the merged file must hold every one of them.</summary>
    public static PlanKey Key(int writer, int entry) =>
        PlanKey.For(Problems.Small(n: 1 + writer * 1000 + entry), new PlanContext(
            ConvPrecision.Strict, false, Problems.Options(PlanPolicy.Cached).Device, Problems.Options(PlanPolicy.Cached).Host, ["be"], "test"));

    public static Plan PlanFor(int writer, int entry) =>
        new("be", new ConvAlgorithm("be", $"w{writer}", entry, entry * 10L, true), PlanSource.Exhaustive, $"writer {writer} entry {entry}", entry + 0.5);
}
