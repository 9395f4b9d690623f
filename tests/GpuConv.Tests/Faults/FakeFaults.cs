using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Faults;

/// <summary>
/// The fake driver's fault injection and live-resource counts (tests/NativeFakes/fake_faults.h), as a test in a
/// child process against the fakes uses them: <see cref="Set"/> replaces the rules (standing for a new process:
/// call counters and the sticky error start afresh), <see cref="Live"/> reads what is still allocated or created.
/// </summary>
static unsafe class FakeFaults
{
    /// <summary>Replaces the GPUCONV_FAKE_FAULTS rules; "" for none. Throws when the fake cannot parse them.</summary>
    public static void Set(string rules)
    {
        var set = (delegate* unmanaged<byte*, int>)NativeFakeLibraries.Export<nint>("gpuconv_fake_faults_set");
        var text = System.Text.Encoding.UTF8.GetBytes(rules + "\0");
        fixed (byte* p = text)
            if (set(p) < 0) throw new ArgumentException($"the fake refused the fault rules '{rules}' (see stderr)", nameof(rules));
    }

    /// <summary>Statuses injected so far (sticky repeats included).</summary>
    public static long Injected => ((delegate* unmanaged<long>)NativeFakeLibraries.Export<nint>("gpuconv_fake_faults_injected"))();

    /// <summary>The sticky status the fake driver holds now (0: none).</summary>
    public static int Sticky => ((delegate* unmanaged<int>)NativeFakeLibraries.Export<nint>("gpuconv_fake_sticky_status"))();

    /// <summary>Every live-resource count by name (context_retains, device_allocations, streams, cudnn_descriptors, …).</summary>
    public static IReadOnlyDictionary<string, long> Live()
    {
        var live = (delegate* unmanaged<byte*, int, long>)NativeFakeLibraries.Export<nint>("gpuconv_fake_live");
        var buffer = new byte[1024];
        string text;
        fixed (byte* b = buffer)
        {
            live(b, buffer.Length);
            text = Marshal.PtrToStringUTF8((nint)b) ?? "";
        }
        return Regex.Matches(text, @"(\w+)=(-?\d+)").ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value));
    }

    /// <summary>"name=value" of every count that is not zero; "" when nothing is live.</summary>
    public static string Leaks() => string.Join(' ', Live().Where(kv => kv.Value != 0).Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>
    /// Retains the fake device's primary context for the test until disposed, so an engine's Dispose does not destroy
    /// the context: whatever the engine failed to free stays live and shows in <see cref="Live"/> (releasing the last
    /// retain would free it silently, as the driver does).
    /// </summary>
    public static IDisposable HoldContext()
    {
        var init = (delegate* unmanaged<uint, int>)NativeFakeLibraries.Export<nint>("cuInit");
        var retain = (delegate* unmanaged<nint*, int, int>)NativeFakeLibraries.Export<nint>("cuDevicePrimaryCtxRetain");
        nint ctx;
        int status = init(0);
        if (status == 0) status = retain(&ctx, 0);
        if (status != 0) throw new InvalidOperationException($"the test could not retain the fake's primary context: CUresult {status}");
        return new ContextHold();
    }

    sealed class ContextHold : IDisposable
    {
        bool _released;

        public void Dispose()
        {
            if (_released) return;
            _released = true;
            var release = (delegate* unmanaged<int, int>)NativeFakeLibraries.Export<nint>("cuDevicePrimaryCtxRelease_v2");
            int status = release(0);
            if (status != 0) throw new InvalidOperationException($"cuDevicePrimaryCtxRelease_v2 returned {status}");
        }
    }
}
