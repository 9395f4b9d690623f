using GpuConv.Networks;

// gpuconv-networks [--model resnet50|mobilenetv2] [--batch 1] [--size 224] [--classes 1000] [--runs 5] [--seed 50] [--cpu]
//                  [--backend NAME] [--policy heuristic|exhaustive|cached] [--plan-cache FILE] [--check reference|cpu|none] [--no-reference]
// Exit status: 0 the check passed, 1 the result was off, 2 bad input, 3 the run failed (a device or library error: one line, then the details).
NetworkOptions options;
try
{
    var o = new NetworkOptions();
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
        int Int() => int.TryParse(Value(), out var v) ? v : throw new ArgumentException($"{args[i - 1]} needs a whole number, got '{args[i]}'.");
        o = args[i] switch
        {
            "--model" => o with { Model = Enum.TryParse<NetworkModel>(Value(), ignoreCase: true, out var m) && !int.TryParse(args[i], out _) ? m
                : throw new ArgumentException($"--model: expected resnet50 or mobilenetv2, got '{args[i]}'.") },
            "--batch" => o with { Batch = Int() },
            "--size" => o with { Size = Int() },
            "--classes" => o with { Classes = Int() },
            "--runs" => o with { Runs = Int() },
            "--seed" => o with { Seed = Int() },
            "--cpu" => o with { Cpu = true },
            "--backend" => o with { Backend = Value() },
            "--no-reference" => o with { Check = NetworkCheck.None },
            "--check" => o with { Check = Enum.TryParse<NetworkCheck>(Value(), ignoreCase: true, out var c) && !int.TryParse(args[i], out _) ? c
                : throw new ArgumentException($"--check: expected reference, cpu or none, got '{args[i]}'.") },
            "--policy" => o with { Policy = Enum.TryParse<GpuConv.Planning.PlanPolicy>(Value(), ignoreCase: true, out var p) && !int.TryParse(args[i], out _) ? p
                : throw new ArgumentException($"--policy: expected heuristic, exhaustive or cached, got '{args[i]}'.") },
            "--plan-cache" => o with { PlanCache = Value() },
            _ => throw new ArgumentException($"unknown option '{args[i]}'."),
        };
    }
    o.Validate();
    options = o;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
try
{
    return NetworkApp.Run(options).Passed ? 0 : 1;
}
catch (ArgumentException e) when (e.ParamName == nameof(GpuConv.ConvEngineOptions.Backend))
{
    Console.Error.WriteLine($"error: --backend: {e.Message}");
    return 2;
}
catch (Exception e)
{
    // Not a crash: a failing device or library (a CUDA error, cuDNN refusing a call) ends the run with its reason.
    Console.Error.WriteLine($"{options.Key}: FAIL: {e.GetType().Name}: {e.Message}");
    Console.Error.WriteLine(e);
    return 3;
}
