using GpuConv.DeviceChain;

// gpuconv-devicechain [--batch 4] [--size 32x32] [--batches 4] [--threads 1] [--engine-per-thread] [--cpu] [--backend NAME]
//                     [--plan-cache PATH] [--no-reference] [--no-train]
// Exit status: 0 every check passed, 1 a result was off, 2 bad input, 3 the run failed (a device or library error: one line, then the details).
ChainOptions options;
try
{
    var o = new ChainOptions();
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
        int Int() => int.TryParse(Value(), out var v) ? v : throw new ArgumentException($"{args[i - 1]} needs a whole number, got '{args[i]}'.");
        o = args[i] switch
        {
            "--batch" => o with { Batch = Int() },
            "--size" => Value().Split('x') is [var h, var w] && int.TryParse(h, out var hh) && int.TryParse(w, out var ww)
                ? o with { Height = hh, Width = ww } : throw new ArgumentException($"--size needs HxW, got '{args[i]}'."),
            "--batches" => o with { Batches = Int() },
            "--threads" => o with { Threads = Int() },
            "--engine-per-thread" => o with { EnginePerThread = true },
            "--cpu" => o with { Cpu = true },
            "--backend" => o with { Backend = Value() },
            "--plan-cache" => o with { PlanCachePath = Value() },
            "--no-reference" => o with { Reference = false },
            "--no-train" => o with { Train = false },
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
// An ArgumentException from the run itself is a bug to see with its stack, not bad input; except a --backend this machine lacks.
try
{
    return DeviceChainApp.Run(options).Passed ? 0 : 1;
}
catch (ArgumentException e) when (e.ParamName == nameof(GpuConv.ConvEngineOptions.Backend))
{
    Console.Error.WriteLine($"error: --backend: {e.Message}");
    return 2;
}
catch (Exception e)
{
    // Not a crash: a failing device or library (a CUDA error, cuDNN refusing a call) ends the run with its reason.
    Console.Error.WriteLine($"devicechain: FAIL: {e.GetType().Name}: {e.Message}");
    Console.Error.WriteLine(e);
    return 3;
}
