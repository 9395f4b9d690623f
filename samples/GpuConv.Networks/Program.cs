using GpuConv.Networks;

const string Usage = """
    usage: GpuConv.Networks [--model resnet50|mobilenetv2|mobilenetv3|efficientnetb0|convnexttiny] [--batch 1] [--size 224] [--classes 1000]
                            [--runs 5] [--seed 50] [--cpu] [--backend NAME] [--policy heuristic|exhaustive|cached] [--plan-cache FILE]
                            [--check reference|cpu|none] [--no-reference] [--threads N] [--vs onnxruntime] [--rounds 3] [--warmup-seconds 2]
                            [--unfused] [--profile]
    --model: mobilenetv3 is MobileNetV3-Large, efficientnetb0 EfficientNet-B0, convnexttiny ConvNeXt-T (torchvision's layers, random weights).
    --threads N: the engine's CPU threads (default every core); with --vs, ONNX Runtime's intra-op threads too.
    --vs onnxruntime: the same folded network as one ONNX model in ONNX Runtime (CPU; GpuConv then runs on the CPU as --cpu):
      logits compared (max rel error <= 1e-4), the network alone timed on each side in blocks of --runs runs, --rounds
      rounds alternating, after --warmup-seconds (default 2) of untimed runs on each side (.NET's JIT optimizes hot code
      only after ~30 calls and ~100 ms); each side's median and the ratio ORT / GpuConv (> 1: GpuConv faster).
    --warmup-seconds S without --vs: S seconds of untimed runs before the sample's own timed runs (default none).
    --unfused: every layer as its own call (on the CPU MobileNetV2's family otherwise runs its large blocks as one fused call each).
    --profile: after the timed runs (and 2 s of untimed runs unless --warmup-seconds warmed them), --runs more with every
      engine call timed between two synchronizations: one line per step (us per run, share) and the ten costliest; with
      --vs onnxruntime, ONNX Runtime's own per-node profile too. --warmup-seconds 0 profiles the process's first runs
      (the JIT's first forms included) with no untimed runs.
    Exit status: 0 the check passed, 1 the result (or the peer's logits) was off, 2 bad input, 3 the run failed (a device or library error: one line, then the details).
    """;
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}
NetworkOptions options;
try
{
    var o = new NetworkOptions();
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
        int Int() => int.TryParse(Value(), out var v) ? v : throw new ArgumentException($"{args[i - 1]} needs a whole number, got '{args[i]}'.");
        // One of T's names, case aside. Not Enum.TryParse: it also takes numbers and comma lists ("resnet50,mobilenetv2"
        // is the flags union, MobileNetV2), which would run something the user did not name.
        T Named<T>(string expected) where T : struct, Enum
        {
            string option = args[i], value = Value();
            return Enum.GetNames<T>().FirstOrDefault(n => n.Equals(value, StringComparison.OrdinalIgnoreCase)) is { } name
                ? Enum.Parse<T>(name)
                : throw new ArgumentException($"{option}: expected {expected}, got '{value}'.");
        }
        o = args[i] switch
        {
            "--model" => o with { Model = Named<NetworkModel>(NetworkOptions.ModelNames) },
            "--batch" => o with { Batch = Int() },
            "--size" => o with { Size = Int() },
            "--classes" => o with { Classes = Int() },
            "--runs" => o with { Runs = Int() },
            "--seed" => o with { Seed = Int() },
            "--cpu" => o with { Cpu = true },
            "--backend" => o with { Backend = Value() },
            "--no-reference" => o with { Check = NetworkCheck.None },
            "--check" => o with { Check = Named<NetworkCheck>("reference, cpu or none") },
            "--policy" => o with { Policy = Named<GpuConv.Planning.PlanPolicy>("heuristic, exhaustive or cached") },
            "--plan-cache" => o with { PlanCache = Value() },
            "--threads" => o with { Threads = Int() },
            "--unfused" => o with { Unfused = true },
            "--profile" => o with { Profile = true },
            "--vs" => o with { Vs = Named<NetworkPeer>("onnxruntime") },
            "--rounds" => o with { Rounds = Int() },
            "--warmup-seconds" => o with { WarmupSeconds = double.TryParse(Value(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : throw new ArgumentException($"--warmup-seconds needs a number of seconds, got '{args[i]}'.") },
            _ => throw new ArgumentException($"unknown option '{args[i]}'."),
        };
    }
    o.Validate();
    options = o;
}
catch (ArgumentException e)
{
    // NetworkOptions.Validate names its field (Size); the line names the option as typed (--size).
    string message = e.ParamName is { } field ? $"--{OptionName(field)}: {e.Message.Replace($" (Parameter '{field}')", "")}" : e.Message;
    Console.Error.WriteLine($"error: {message}");
    return 2;
}
try
{
    return NetworkApp.Run(options).ExitCode;
}
catch (ArgumentException e) when (e.ParamName == nameof(GpuConv.ConvEngineOptions.Backend))
{
    Console.Error.WriteLine($"error: --backend: {e.Message.Replace(" (Parameter 'Backend')", "")}");
    return 2;
}
catch (ArgumentException e) when (e.ParamName == nameof(GpuConv.ConvEngineOptions.PlanCachePath))
{
    Console.Error.WriteLine($"error: --plan-cache: {e.Message.Replace(" (Parameter 'PlanCachePath')", "")}");
    return 2;
}
catch (ArgumentException e)
{
    // The options are valid, so what the library refuses before any work (ArgumentException) is what they size: a
    // layer's tensors past one buffer or the memory left (ProblemTooLargeException). Bad input, not a failed run.
    Console.Error.WriteLine($"error: --batch {options.Batch} --size {options.Size}: {(e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message)}");
    return 2;
}
catch (Exception e)
{
    // Not a crash: a failing device or library (a CUDA error, cuDNN refusing a call) ends the run with its reason.
    Console.Error.WriteLine($"{options.Key}: FAIL: {e.GetType().Name}: {e.Message}");
    Console.Error.WriteLine(e);
    return 3;
}

// A NetworkOptions field as its option is typed: WarmupSeconds → warmup-seconds, Batch → batch.
static string OptionName(string field) =>
    string.Concat(field.Select((c, i) => char.IsUpper(c) ? (i == 0 ? "" : "-") + char.ToLowerInvariant(c) : c.ToString()));
