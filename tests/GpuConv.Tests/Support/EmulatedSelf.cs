using System.Diagnostics;

namespace GpuConv.Tests.Support;

/// <summary>
/// Starting this test executable again as a child when it runs under user-mode emulation (build/arm64-check.sh runs the
/// linux-arm64 build through qemu-aarch64-static and names the emulator in <see cref="Variable"/>). Without a binfmt
/// registration the kernel cannot exec an aarch64 file directly ("Exec format error"), so the child must go through the
/// emulator too. Unset (every native run, x64 CI included), tests start their children exactly as before.
/// </summary>
internal static class EmulatedSelf
{
    public const string Variable = "GPUCONV_TEST_EMULATOR";

    /// <summary>The emulator's path, or null when this run is not emulated.</summary>
    public static string? Emulator => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } e ? e : null;

    /// <summary>
    /// A start info for this test executable (the published apphost beside the test assembly: under qemu-user
    /// <see cref="Environment.ProcessPath"/> is null) with <paramref name="args"/>, through the emulator; null when
    /// this run is not emulated.
    /// </summary>
    public static ProcessStartInfo? StartInfo(params string[] args)
    {
        if (Emulator is not { } emulator) return null;
        var psi = new ProcessStartInfo(emulator) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Join(AppContext.BaseDirectory, typeof(EmulatedSelf).Assembly.GetName().Name));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
