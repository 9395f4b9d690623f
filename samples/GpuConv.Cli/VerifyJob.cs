using GpuConv.Backends;
using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>The verdict on one case on one backend. Skipped cases carry the backend's reason.</summary>
public sealed record VerifyResult(VerifyCase Case, string Backend, string? Algorithm, ErrorReport? Error, string Method, string? Failure, string? Skipped)
{
    public bool Passed => Skipped is not null || (Failure is null && Error is { } e && OutputCheck.Passes(e));
}

/// <summary><c>gpuconv verify</c>: runs cases on every backend and judges each against the reference.</summary>
public static class VerifyJob
{
    public const int Samples = 64;

    public static IEnumerable<VerifyResult> Run(CliBackends backends, IReadOnlyList<VerifyCase> cases)
    {
        foreach (var backend in backends.All)
            for (int i = 0; i < cases.Count; i++)
                yield return RunOne(backend, cases[i], seed: 1000 + i);
    }

    public static VerifyResult RunOne(IConvBackend backend, VerifyCase c, int seed)
    {
        var p = c.Problem;
        string? why = backend.WhyUnsupported(p);
        if (why is not null)
            return new VerifyResult(c, backend.Name, null, null, "", null, Skipped: why);

        // Random data, never zeros; only the tensors the op reads are filled.
        var x = p.Op == ConvOp.BackwardData ? null : HostTensor.Random(p.XShape, seed);
        var w = p.Op == ConvOp.BackwardFilter ? null : HostTensor.Random(p.WShape, seed + 1);
        var y = p.Op == ConvOp.Forward ? null : HostTensor.Random(p.YShape, seed + 2);
        var bias = c.WithBias ? HostTensor.Random(new TensorShape(p.BiasLength), seed + 3) : null;
        try
        {
            var outcome = ConvRunner.Run(backend, p, x, w, y, bias);
            var (error, method) = OutputCheck.Auto(p, x, w, y, bias, outcome.Output, Samples, seed + 4);
            return new VerifyResult(c, backend.Name, outcome.Algorithm.Key, error, method, null, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A backend that throws on a supported problem is a failed case, not a crash of the whole run.
            return new VerifyResult(c, backend.Name, null, null, "", $"{e.GetType().Name}: {CliErrors.MessageOf(e)}", null);
        }
    }
}
