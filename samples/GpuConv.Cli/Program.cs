using System.CommandLine;
using GpuConv.Cli.Commands;

// Interim entry point (integration branch); the full CLI registers every command.
var root = new RootCommand("gpuconv — convolution engine for .NET: run, benchmark and verify convolutions.");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PlanCommand.Create());
return root.Parse(args).Invoke();
