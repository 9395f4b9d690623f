using System.Globalization;
using GpuConv.Backends;
using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>
/// <c>gpuconv smoke</c>: the first minute on a new GPU host. A few small convolutions — symmetric and
/// asymmetric padding (the padded-copy path), groups with stride, depthwise, 3-d — per backend and op,
/// every strict-fp32 algorithm the backend lists, each compared with the float64 reference. One line
/// per run: PASS / FAIL (with the exception and native status) / DECLINED (workspace), so the log says
/// what works without a debugger. With GPUCONV_TRACE=1 the native calls are logged to stderr as well.
/// </summary>
public static class SmokeJob
{
    /// <summary>Strict fp32, max relative error (max |result - reference| / max |reference|): the project's tolerance.</summary>
    public const double Tolerance = 1e-4;

    sealed record SmokeCase(string Name, int[] X, int[] W, ConvSpec Spec);

    static readonly SmokeCase[] Cases =
    [
        new("2d-pad1", [1, 4, 7, 7], [4, 4, 3, 3], new ConvSpec([3, 3], padBegin: [1])),
        new("2d-asym-pads-groups-stride", [2, 6, 9, 8], [8, 3, 3, 3], new ConvSpec([3, 3], stride: [2, 1], padBegin: [1, 0], padEnd: [0, 2], groups: 2)),
        new("2d-depthwise", [1, 8, 10, 10], [8, 1, 3, 3], new ConvSpec([3, 3], padBegin: [1], groups: 8)),
        new("3d-stride-dilation", [1, 2, 5, 6, 7], [3, 2, 2, 3, 2], new ConvSpec([2, 3, 2], stride: [1, 2, 1], dilation: [1, 1, 2], padBegin: [1, 0, 1], padEnd: [0, 1, 0])),
    ];

    static readonly ConvOp[] Ops = [ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter];

    /// <summary>
    /// Exit 0 when every requested backend was available and every run passed (declined runs aside: no
    /// workspace, or refused by the library at run time — unless every algorithm of a case was); else 1.
    /// <paramref name="available"/> (tests) replaces the engine's backends.
    /// </summary>
    public static int Execute(IReadOnlyList<string> backendNames, CliIO io, CliBackends? available = null)
    {
        ArgumentNullException.ThrowIfNull(io);
        using var opened = available is null ? CliBackends.Open(null) : null;
        var backends = available ?? opened!;
        io.Out.WriteLine($"backends available: {string.Join(", ", backends.All.Select(b => b.Name))}; GPU: {backends.GpuUnavailableReason ?? "on"}");
        io.Out.WriteLine($"tolerance: strict fp32, max relative error <= {Tolerance:E0}; GPUCONV_TRACE={Environment.GetEnvironmentVariable("GPUCONV_TRACE") ?? "(unset)"}");
        int passed = 0, failed = 0, declined = 0;
        var unavailable = new List<string>();
        foreach (var name in backendNames)
        {
            var backend = backends.All.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase));
            if (backend is null)
            {
                unavailable.Add(name);
                io.Out.WriteLine($"SKIP     {name}: not available ({backends.GpuUnavailableReason ?? "the engine did not open it"})");
                continue;
            }
            foreach (var c in Cases)
                foreach (var op in Ops)
                    foreach (var (verdict, line) in RunAll(backend, c, op))
                    {
                        if (verdict == Verdict.Pass) passed++; else if (verdict == Verdict.Fail) failed++; else declined++;
                        io.Out.WriteLine(line);
                        io.Out.Flush();
                    }
        }
        io.Out.WriteLine($"smoke: {passed} passed, {failed} failed, {declined} declined" +
            (unavailable.Count > 0 ? $"; not available: {string.Join(", ", unavailable)}" : ""));
        return failed == 0 && unavailable.Count == 0 && passed > 0 ? ExitCodes.Ok : ExitCodes.Mismatch;
    }

    enum Verdict { Pass, Fail, Declined }

    static IEnumerable<(Verdict, string)> RunAll(IConvBackend backend, SmokeCase c, ConvOp op)
    {
        var problem = ConvProblem.Create(c.Spec, new TensorShape(c.X), new TensorShape(c.W), op);
        string head = $"{backend.Name,-9} {op,-14} {c.Name,-28}";
        if (backend.WhyUnsupported(problem) is { } why)
        {
            yield return (Verdict.Declined, $"N/A      {head} unsupported: {why}");
            yield break;
        }
        var x = HostTensor.Random(problem.XShape, seed: 1);
        var w = HostTensor.Random(problem.WShape, seed: 2);
        var y = HostTensor.Random(problem.YShape, seed: 3);
        var bias = op == ConvOp.Forward ? HostTensor.Random(new TensorShape(problem.BiasLength), seed: 4) : null;
        double[] reference = op switch
        {
            ConvOp.Forward => ReferenceConv.Forward(problem, x.Data, w.Data, bias!.Data),
            ConvOp.BackwardData => ReferenceConv.BackwardData(problem, y.Data, w.Data),
            _ => ReferenceConv.BackwardFilter(problem, x.Data, y.Data),
        };
        IReadOnlyList<ConvAlgorithm> algorithms;
        string? listError = null;
        try { algorithms = backend.GetAlgorithms(problem, ConvPrecision.Strict); }
        catch (Exception e) { algorithms = []; listError = Describe(e); }
        if (algorithms.Count == 0)
        {
            yield return (Verdict.Fail, $"FAIL     {head} no strict-fp32 algorithm listed{(listError is null ? "" : ": " + listError)}");
            yield break;
        }
        var verdicts = new List<Verdict>();
        foreach (var algorithm in algorithms)
        {
            var (verdict, line) = RunOne(backend, problem, algorithm, x, w, y, bias, reference, head);
            verdicts.Add(verdict);
            yield return (verdict, line);
        }
        // A library may refuse an algorithm it listed (PyTorch's search skips those too), but refusing every
        // one of a case this small is what a wrong binding argument looks like (cuDNN answers BAD_PARAM).
        if (verdicts.All(v => v == Verdict.Declined))
            yield return (Verdict.Fail, $"FAIL     {head} every listed algorithm was declined");
    }

    static (Verdict, string) RunOne(IConvBackend backend, ConvProblem problem, ConvAlgorithm algorithm, HostTensor x, HostTensor w, HostTensor y,
        HostTensor? bias, double[] reference, string head)
    {
        var memory = backend.Memory;
        var owned = new List<Tensor>();
        string where = $"{head} {algorithm.Key,-36}";
        try
        {
            Tensor Place(HostTensor host)
            {
                var t = memory.Allocate(host.Shape);
                owned.Add(t);
                // The output is filled with the input's values too, so a kernel that writes nothing cannot pass.
                memory.CopyFromHost(host.Data, t);
                return t;
            }
            var op = problem.Op;
            var tx = Place(x);
            var tw = Place(w);
            var ty = Place(y);
            var tb = bias is null ? null : Place(bias);
            var tensors = new ConvTensors(tx, tw, ty, tb);
            double ms = backend.TimeRun(problem, algorithm, tensors);
            var result = new float[problem.OutputShape.ElementCount];
            memory.CopyToHost(op switch { ConvOp.Forward => ty, ConvOp.BackwardData => tx, _ => tw }, result);
            var error = ErrorMetrics.Compare(result, reference);
            bool ok = error.MaxRelative <= Tolerance;
            return (ok ? Verdict.Pass : Verdict.Fail, string.Create(CultureInfo.InvariantCulture,
                $"{(ok ? "PASS" : "FAIL"),-8} {where} max rel {error.MaxRelative:E2}  {ms:F3} ms"));
        }
        catch (Exception e) when (e is WorkspaceAllocationException or AlgorithmDeclinedException)
        {
            return (Verdict.Declined, $"DECLINED {where} {Describe(e)}");
        }
        catch (Exception e)
        {
            return (Verdict.Fail, $"FAIL     {where} {Describe(e)}");
        }
        finally
        {
            foreach (var t in owned)
            {
                try { (t as IDisposable)?.Dispose(); }
                catch (Exception e) { Console.Error.WriteLine($"smoke: freeing a tensor failed: {Describe(e)}"); }
            }
        }
    }

    /// <summary>The exception and its inner ones on one line (native status codes are in the messages).</summary>
    static string Describe(Exception e)
    {
        var parts = new List<string>();
        for (var inner = e; inner is not null; inner = inner.InnerException)
            parts.Add($"{inner.GetType().Name}: {CliErrors.MessageOf(inner)}");
        return string.Join(" <- ", parts);
    }
}
