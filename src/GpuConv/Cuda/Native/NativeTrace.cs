using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace GpuConv.Cuda.Native;

/// <summary>
/// GPUCONV_TRACE=1: one stderr line per native call (function, key arguments, status, host-side ms),
/// so a failure on a GPU host can be diagnosed from the log alone. Off, it costs one static bool per
/// call: <see cref="Start"/> returns 0 and <see cref="TraceArgs"/> formats nothing. The ms is the time
/// the call held the host thread; for asynchronous work (launches, async copies, cuDNN/cuBLAS calls
/// on a stream) that is the enqueue time, and the device time shows up in the next synchronising call.
/// </summary>
internal static class NativeTrace
{
    /// <summary>Read once: "1", "true", "yes" or "on" (case-insensitive) turn tracing on.</summary>
    public static readonly bool Enabled = IsOn(Environment.GetEnvironmentVariable("GPUCONV_TRACE"));

    /// <summary>Where lines go; stderr unless a test redirects it.</summary>
    internal static TextWriter Output { get; set; } = Console.Error;

    internal static bool IsOn(string? value) =>
        value is not null && (value.Trim().ToLowerInvariant() is "1" or "true" or "yes" or "on");

    /// <summary>A timestamp to pass back to <c>Record</c>; 0 (and no clock read) when tracing is off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

    /// <summary>Writes the line for one finished call (no-op when tracing is off).</summary>
    public static void Record(long started, string call, string status, in TraceArgs args)
    {
        if (!Enabled) return;
        Write(started, call, status, args.Text);
    }

    public static void Record(long started, string call, string status)
    {
        if (!Enabled) return;
        Write(started, call, status, "");
    }

    /// <summary>A free-form note in the trace (e.g. which pointer a padded copy used).</summary>
    public static void Note(in TraceArgs message)
    {
        if (!Enabled) return;
        lock (Output) Output.WriteLine($"[gpuconv-trace] note {message.Text}");
    }

    /// <summary>"call(args) -> status ms"; a call already named with a purpose, "cudnnSetTensor(zero z)", gets its args after a space.</summary>
    internal static string Format(string call, string args, string status, double ms) =>
        call.EndsWith(')')
            ? $"[gpuconv-trace] {call}{(args.Length > 0 ? " " + args : "")} -> {status} {ms.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} ms"
            : $"[gpuconv-trace] {call}({args}) -> {status} {ms.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} ms";

    static void Write(long started, string call, string status, string args)
    {
        double ms = started == 0 ? 0 : Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var line = Format(call, args, status, ms);
        lock (Output) Output.WriteLine(line);
    }
}

/// <summary>An interpolated string that is formatted only when <see cref="NativeTrace.Enabled"/>.</summary>
[InterpolatedStringHandler]
internal ref struct TraceArgs
{
    StringBuilder? _builder;

    public TraceArgs(int literalLength, int formattedCount, out bool enabled)
    {
        enabled = NativeTrace.Enabled;
        _builder = enabled ? new StringBuilder(literalLength + 16 * formattedCount) : null;
    }

    /// <summary>For tests: forces formatting whatever the switch says.</summary>
    internal TraceArgs(string text) => _builder = new StringBuilder(text);

    public readonly void AppendLiteral(string s) => _builder?.Append(s);
    public readonly void AppendFormatted<T>(T value) => _builder?.Append(value);

    public readonly void AppendFormatted<T>(T value, string? format) where T : IFormattable =>
        _builder?.Append(value.ToString(format, System.Globalization.CultureInfo.InvariantCulture));

    public readonly string Text => _builder?.ToString() ?? "";
}
