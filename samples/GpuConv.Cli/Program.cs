using System.CommandLine;
using GpuConv.Cli.Commands;

// Minimal entry point registering the bench command; the other commands (run, verify, devices, demo) join it here.
var root = new RootCommand("gpuconv — convolution engine for .NET: run, benchmark and verify convolutions.");
root.Subcommands.Add(BenchCommand.Create());
return root.Parse(args).Invoke();
