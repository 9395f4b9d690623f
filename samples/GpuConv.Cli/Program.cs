using System.CommandLine;
using GpuConv.Cli.Commands;

// Minimal entry point registering the commands on this branch; the full CLI adds the others.
var root = new RootCommand("gpuconv: convolution engine for .NET (cuDNN, PTX im2col + cuBLAS, SIMD CPU), judged by a float64 reference.")
{
    PlanCommand.Create(),
};
return root.Parse(args).Invoke();
