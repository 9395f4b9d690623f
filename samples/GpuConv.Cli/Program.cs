using System.CommandLine;
using GpuConv.Cli.Commands;

namespace GpuConv.Cli;

/// <summary>The <c>gpuconv</c> entry point: the command tree and nothing else.</summary>
public static class Program
{
    public static int Main(string[] args) => Invoke(args, CliIO.FromConsole());

    /// <summary>Runs the CLI with the given writers (tests capture them).</summary>
    public static int Invoke(string[] args, CliIO io) => CliHost.Invoke(BuildRoot(io), args, io);

    public static RootCommand BuildRoot(CliIO io) => new("gpuconv: convolutions with GpuConv (run, verify, demo, devices)")
    {
        // Commands are registered here, one line each (bench and plan go here too).
        RunCommand.Create(io),
        VerifyCommand.Create(io),
        DemoCommand.Create(io),
        DevicesCommand.Create(io),
    };
}
