using System.Globalization;

namespace GpuConv.Networks;

/// <summary>One step of a profiled network: what it is and its mean time per run.</summary>
public sealed record ProfileStep(string Label, double MicrosecondsPerRun);

/// <summary>
/// Where a network's time goes, step by step (<c>--profile</c>): GpuConv's steps are the engine calls of
/// <see cref="DeviceNetwork.Run"/>, each timed between two <see cref="ConvEngine.Synchronize"/> calls (on a GPU each step's
/// own kernels with its launch and one host wait, so the steps sum to more than an unprofiled run); ONNX Runtime's are the
/// nodes of its optimized graph as its own profiler times them (<see cref="Onnx.OnnxRuntimeProfile"/>). Steps keep the
/// order of their first run; a label met twice in a run adds up.
/// </summary>
public sealed class NetworkProfile
{
    readonly Dictionary<string, int> index = [];
    readonly List<string> labels = [];
    readonly List<double> totals = [];

    /// <summary>Runs the totals are over (<see cref="EndRun"/>).</summary>
    public int Runs { get; private set; }

    /// <summary>Adds <paramref name="microseconds"/> to the step <paramref name="label"/>.</summary>
    public void Record(string label, double microseconds)
    {
        if (!index.TryGetValue(label, out int i))
        {
            index[label] = i = labels.Count;
            labels.Add(label);
            totals.Add(0);
        }
        totals[i] += microseconds;
    }

    /// <summary>One run's steps are in.</summary>
    public void EndRun() => Runs++;

    /// <summary>Each step's mean time per run, in the order of the first run.</summary>
    public IReadOnlyList<ProfileStep> Steps => [.. labels.Select((l, i) => new ProfileStep(l, totals[i] / Math.Max(1, Runs)))];

    /// <summary>
    /// Prints "<paramref name="key"/>[<paramref name="side"/>] profile: …" and one line per step (µs per run, share of the
    /// sum), then the <paramref name="top"/> costliest steps, with <paramref name="how"/> saying how the steps were timed.
    /// </summary>
    public static void Print(TextWriter o, string key, string side, IReadOnlyList<ProfileStep> steps, int runs, string how, int top = 10)
    {
        double sum = steps.Sum(s => s.MicrosecondsPerRun);
        int width = Math.Max(4, steps.Select(s => s.Label.Length).DefaultIfEmpty(0).Max());
        o.WriteLine(Invariant($"{key}[{side}] profile: {steps.Count} steps, {runs} runs, {how}; steps sum to {sum / 1000:0.000} ms per run"));
        foreach (var s in steps) o.WriteLine(Line(s));
        o.WriteLine(Invariant($"{key}[{side}] costliest {Math.Min(top, steps.Count)}:"));
        foreach (var s in steps.OrderByDescending(s => s.MicrosecondsPerRun).Take(top)) o.WriteLine(Line(s));

        string Line(ProfileStep s) => Invariant($"  {s.Label.PadRight(width)} {s.MicrosecondsPerRun,10:0.0} us {100 * s.MicrosecondsPerRun / Math.Max(sum, 1e-9),6:0.0} %");
    }

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
