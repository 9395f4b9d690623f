using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Cli.Execution;

/// <summary>What one run produced: the op's output (on the host), who computed it and how long it took.</summary>
public sealed record RunOutcome(HostTensor Output, string Backend, ConvAlgorithm Algorithm, double Milliseconds);

/// <summary>
/// Runs one problem on one backend from host tensors: moves the tensors the op reads into the
/// backend's memory, runs the backend's best strict-fp32 algorithm (the next one if its workspace
/// cannot be allocated) and brings the op's output back.
/// </summary>
public static class ConvRunner
{
    /// <summary>
    /// Tensors are named after the underlying convolution (see <see cref="ConvTensors"/>): forward reads
    /// x and w, backward-data reads y (= dy) and w, backward-filter reads x and y; the output's slot is ignored.
    /// </summary>
    public static RunOutcome Run(IConvBackend backend, ConvProblem problem, HostTensor? x, HostTensor? w, HostTensor? y, HostTensor? bias = null,
        ConvAlgorithm? algorithm = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(problem);
        string? why = backend.WhyUnsupported(problem);
        if (why is not null)
            throw new ArgumentException($"backend '{backend.Name}' cannot run {problem}: {why}", "--backend");
        // Refused with the estimate rather than growing until the OS kills the process.
        problem.EnsureFitsInProcess();

        var memory = backend.Memory;
        var owned = new List<Tensor>();
        try
        {
            Tensor Place(HostTensor? host, TensorShape shape, bool isOutput, string role)
            {
                if (!isOutput && host is null)
                    throw new ArgumentException($"{problem.Op} needs tensor {role} of shape {shape}.", role);
                if (host is not null && !host.Shape.Equals(shape))
                    throw new ArgumentException($"tensor {role} has shape {host.Shape}, expected {shape}.", role);
                var t = memory.Allocate(shape);
                owned.Add(t);
                if (!isOutput) memory.CopyFromHost(host!.Data, t);
                return t;
            }

            var op = problem.Op;
            var tx = Place(x, problem.XShape, op == ConvOp.BackwardData, "x");
            var tw = Place(w, problem.WShape, op == ConvOp.BackwardFilter, "w");
            var ty = Place(y, problem.YShape, op == ConvOp.Forward, "y");
            Tensor? tb = bias is null ? null : Place(bias, bias.Shape, false, "bias");
            // The weights do not change during the run, so they are constant to the backend: the CPU's
            // Winograd plans run as planned (with weights passed per call they run channel-tiled).
            var tensors = new ConvTensors(tx, tw, ty, tb) { ConstantWeights = true };
            var output = op switch { ConvOp.Forward => ty, ConvOp.BackwardData => tx, _ => tw };

            var failures = new List<string>();
            // The planner's choice first (when given), then the backend's own order.
            var candidates = backend.GetAlgorithms(problem, ConvPrecision.Strict);
            if (algorithm is not null) candidates = [algorithm, .. candidates.Where(a => a != algorithm)];
            foreach (var candidate in candidates)
            {
                double ms;
                try { ms = backend.TimeRun(problem, candidate, tensors); }
                catch (CandidateUnavailableException e) { failures.Add(e.Message); continue; } // workspace, or declined at run time
                var result = new HostTensor(problem.OutputShape);
                memory.CopyToHost(output, result.Data);
                return new RunOutcome(result, backend.Name, candidate, ms);
            }
            throw new InvalidOperationException($"backend '{backend.Name}' has no usable strict-fp32 algorithm for {problem}" +
                (failures.Count > 0 ? $": {string.Join("; ", failures)}" : "."));
        }
        finally
        {
            foreach (var t in owned)
                (t as IDisposable)?.Dispose();
        }
    }
}
