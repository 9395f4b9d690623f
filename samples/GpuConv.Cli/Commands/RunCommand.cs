using System.CommandLine;
using System.Globalization;
using GpuConv.Planning;

namespace GpuConv.Cli.Commands;

/// <summary><c>gpuconv run</c>: one convolution from .npy files (PyTorch semantics), or every case of a manifest.</summary>
public static class RunCommand
{
    public static Command Create(CliIO io)
    {
        // --x, --w and --out are required unless --manifest gives them per case (checked in the action).
        var x = new Option<string?>("--x") { Description = "input .npy, [N, C, spatial…] (3, 4 or 5 dims: 1-d, 2-d or 3-d)" };
        var w = new Option<string?>("--w") { Description = "weights .npy, PyTorch layout: conv [K, C/groups, k…], transposed [Cin, Cout/groups, k…]" };
        var b = new Option<string?>("--b") { Description = "optional bias .npy, one value per output channel" };
        var stride = new Option<string?>("--stride") { Description = "stride: one value, or one per spatial dimension (e.g. 2,1)" };
        var pads = new Option<string?>("--pads") { Description = "padding in ONNX order begin…,end… (two per dimension), or one value for all" };
        var pad = new Option<string?>("--pad") { Description = "symmetric padding: one value, or one per spatial dimension; or same / valid (F.conv*d's padding='same' with stride 1, or none)" };
        var dilation = new Option<string?>("--dilation") { Description = "dilation: one value, or one per spatial dimension" };
        var groups = new Option<int>("--groups") { Description = "groups (depthwise: groups = channels)", DefaultValueFactory = _ => 1 };
        var transposed = new Option<bool>("--transposed") { Description = "transposed convolution (PyTorch conv_transpose)" };
        var outputPadding = new Option<string?>("--output-padding") { Description = "transposed only: extra output size at the end, one value or one per dimension" };
        var backend = new Option<string?>("--backend") { Description = "backend to use (default: the best available)" };
        var planCache = new Option<string?>("--plan-cache") { Description = "plan cache file (default: $GPUCONV_PLAN_CACHE or the per-user cache)" };
        var output = new Option<string?>("--out") { Description = "where to write the output .npy (float32)" };
        var policy = new Option<string>("--policy") { Description = "the planner's policy: cached (the plan cache, else heuristic), heuristic or exhaustive (every candidate timed)", DefaultValueFactory = _ => "cached" };
        policy.AcceptOnlyFromAmong("cached", "heuristic", "exhaustive");
        var manifest = new Option<string?>("--manifest")
        {
            Description = "run every case of a JSON Lines file in one process: one object per line with the keys x, w, b (or null), stride, " +
                          "pads (ONNX order), dilation, groups, transposed, output_padding, out (meaning what the flags mean); " +
                          "--backend, --policy and --plan-cache apply to every case; one output line per case",
        };

        var command = new Command("run", "Run one convolution on .npy files and write the result as .npy.")
        {
            x, w, b, stride, pads, pad, dilation, groups, transposed, outputPadding, backend, planCache, output, policy, manifest,
        };
        command.SetAction(parse =>
        {
            var planPolicy = parse.GetValue(policy) switch { "heuristic" => PlanPolicy.Heuristic, "exhaustive" => PlanPolicy.Exhaustive, _ => PlanPolicy.Cached };
            if (parse.GetValue(manifest) is { } manifestPath)
            {
                // Each case gives its own tensors and geometry: a per-case flag beside --manifest would be ignored, so it is refused.
                Option[] perCase = [x, w, b, stride, pads, pad, dilation, groups, transposed, outputPadding, output];
                if (perCase.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } given)
                    throw new ArgumentException($"{given.Name}: not allowed with --manifest (each case gives its own; only --backend, --policy and --plan-cache apply to all).", given.Name);
                return ManifestJob.Execute(manifestPath, parse.GetValue(backend), parse.GetValue(planCache), planPolicy, io);
            }
            string Required(Option<string?> option) => parse.GetValue(option)
                ?? throw new ArgumentException($"Option '{option.Name}' is required (unless --manifest FILE gives it per case).", option.Name);
            var request = new RunRequest(
                Required(x), Required(w), Required(output),
                parse.GetValue(b), parse.GetValue(stride), parse.GetValue(pads), parse.GetValue(pad), parse.GetValue(dilation),
                parse.GetValue(groups), parse.GetValue(transposed), parse.GetValue(outputPadding), parse.GetValue(backend), parse.GetValue(planCache), planPolicy);
            var report = RunJob.Execute(request);
            var o = report.Outcome;
            io.Out.WriteLine($"problem:   {report.Problem}");
            io.Out.WriteLine($"backend:   {o.Backend}");
            io.Out.WriteLine($"algorithm: {o.Algorithm.Key}");
            io.Out.WriteLine($"output:    {o.Output.Shape} -> {request.OutPath}");
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"time:      {o.Milliseconds:F3} ms ({report.Problem.Flops / (o.Milliseconds * 1e6):F2} GFLOP/s)"));
            return ExitCodes.Ok;
        });
        return command;
    }
}
