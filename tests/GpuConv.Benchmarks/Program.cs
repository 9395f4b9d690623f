using BenchmarkDotNet.Running;

// BenchmarkDotNet entry: `dotnet run -c Release --project tests/GpuConv.Benchmarks -- --filter '*'`.
// Peer comparisons against ONNX Runtime live in the CLI (`gpuconv bench --vs onnxruntime`).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
