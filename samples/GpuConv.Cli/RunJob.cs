using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>The options of <c>gpuconv run</c>, as given on the command line (lists still unparsed).</summary>
public sealed record RunRequest(
    string XPath,
    string WPath,
    string OutPath,
    string? BiasPath = null,
    string? Stride = null,
    string? Pads = null,
    string? Pad = null,
    string? Dilation = null,
    int Groups = 1,
    bool Transposed = false,
    string? OutputPadding = null,
    string? Backend = null,
    string? PlanCache = null,
    PlanPolicy Policy = PlanPolicy.Cached);

/// <summary>What <c>gpuconv run</c> did.</summary>
public sealed record RunReport(ConvProblem Problem, RunOutcome Outcome);

/// <summary>
/// <c>gpuconv run</c>: one convolution from .npy files with PyTorch semantics. The rank comes from x
/// (3, 4 or 5 dimensions); weights are in PyTorch layout (conv [K, C/g, k…], transposed [Cin, Cout/g, k…]).
/// </summary>
public static class RunJob
{
    /// <summary>
    /// Runs one request. <paramref name="shared"/> (a manifest run) is the backends every case uses; when null
    /// the request's own --backend/--plan-cache/--policy are opened for this run alone.
    /// </summary>
    public static RunReport Execute(RunRequest request, CliBackends? shared = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        CliFiles.CheckWritable(request.OutPath, "--out");
        var x = ReadNpy(request.XPath, "--x");
        var w = ReadNpy(request.WPath, "--w");
        var b = request.BiasPath is null ? null : ReadNpy(request.BiasPath, "--b");
        var problem = BuildProblem(request, x.Shape, w.Shape, b?.Shape);

        using var owned = shared is null ? CliBackends.Open(request.Backend, request.PlanCache, request.Policy) : null;
        var backends = shared ?? owned!;
        backends.EnsureFits(problem);
        var (backend, algorithm) = backends.Choose(problem);
        // A transposed convolution is backward-data of the underlying convolution: its input is that convolution's y.
        var outcome = request.Transposed
            ? ConvRunner.Run(backend, problem, null, w, x, b, algorithm)
            : ConvRunner.Run(backend, problem, x, w, null, b, algorithm);
        NpyFile.Write(request.OutPath, outcome.Output);
        return new RunReport(problem, outcome);
    }

    /// <summary>Validates every option against the tensor shapes and builds the problem (no work done).</summary>
    public static ConvProblem BuildProblem(RunRequest r, TensorShape x, TensorShape w, TensorShape? bias)
    {
        if (x.Rank is < 3 or > 5)
            throw new ArgumentException($"--x: expected 3, 4 or 5 dimensions [N, C, spatial…] (1-d, 2-d or 3-d convolution), got shape {x}.", "--x");
        int rank = x.Rank - 2;
        if (w.Rank != x.Rank)
            throw new ArgumentException($"--w: expected {x.Rank} dimensions like x ({(r.Transposed ? "[Cin, Cout/groups, k…]" : "[K, C/groups, k…]")}), got shape {w}.", "--w");
        if (r.Groups < 1)
            throw new ArgumentException($"--groups: must be >= 1, got {r.Groups}.", "--groups");
        if (r.OutputPadding is not null && !r.Transposed)
            throw new ArgumentException("--output-padding applies only to a transposed convolution (add --transposed).", "--output-padding");

        var stride = ListOptions.PerDimension(r.Stride, rank, "--stride", 1, min: 1);
        var dilation = ListOptions.PerDimension(r.Dilation, rank, "--dilation", 1, min: 1);
        var outputPadding = ListOptions.PerDimension(r.OutputPadding, rank, "--output-padding", 0, min: 0);
        var kernel = w.Dims.Skip(2).ToArray();
        var (padBegin, padEnd) = NamedPadding(r, kernel, stride, dilation) ?? ListOptions.Padding(r.Pads, r.Pad, rank);

        var spec = new ConvSpec(kernel, stride, dilation, padBegin, padEnd, r.Groups, r.Transposed, r.Transposed ? outputPadding : null);
        var problem = ConvProblem.Create(spec, x, w, ConvOp.Forward);

        if (bias is not null && bias.ElementCount != problem.BiasLength)
            throw new ArgumentException($"--b: has {bias.ElementCount} values (shape {bias}) but the output has {problem.BiasLength} channels.", "--b");
        return problem;
    }

    /// <summary>
    /// <c>--pad same</c> / <c>--pad valid</c>: F.conv*d's padding='same' (stride 1 only, the odd extra at the end) and
    /// padding='valid' (none); null when --pad is a number list. As in PyTorch, transposed convolutions take numbers only.
    /// </summary>
    static (int[] Begin, int[] End)? NamedPadding(RunRequest r, int[] kernel, int[] stride, int[] dilation)
    {
        string? name = r.Pad?.Trim().ToLowerInvariant();
        if (name is not ("same" or "valid")) return null;
        if (r.Pads is not null)
            throw new ArgumentException("--pads and --pad are alternatives: give one of them, not both.", "--pads");
        if (r.Transposed)
            throw new ArgumentException($"--pad {name}: a transposed convolution takes padding as numbers (PyTorch's conv_transpose has no padding='{name}').", "--pad");
        if (name == "valid") return (new int[kernel.Length], new int[kernel.Length]);
        for (int d = 0; d < stride.Length; d++)
            if (stride[d] != 1)
                throw new ArgumentException($"--pad same: needs stride 1 in every dimension (as PyTorch's padding='same'), got --stride {string.Join(",", stride)}.", "--pad");
        var same = ConvSpec.Same(kernel, dilation: dilation, groups: r.Groups);
        return (same.PadBegin.ToArray(), same.PadEnd.ToArray());
    }

    static HostTensor ReadNpy(string path, string option) => CliFiles.ReadNpy(path, option);
}
