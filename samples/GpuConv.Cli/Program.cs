using System.CommandLine;
using GpuConv.Cli.Commands;

namespace GpuConv.Cli;

/// <summary>The <c>gpuconv</c> entry point: the command tree and nothing else.</summary>
public static class Program
{
    public static int Main(string[] args) => Invoke(args, CliIO.FromConsole());

    /// <summary>Runs the CLI with the given writers (tests capture them).</summary>
    public static int Invoke(string[] args, CliIO io) => CliHost.Invoke(BuildRoot(io), args, io);

    /// <summary>
    /// The command tree. A plain command named "gpuconv" rather than RootCommand, whose name would be
    /// the entry assembly's (GpuConv.Cli) in help text.
    /// </summary>
    public static Command BuildRoot(CliIO io) => new("gpuconv", "gpuconv: convolutions with GpuConv (run, verify, demo, devices, bench, plan, smoke, probe)")
    {
        new System.CommandLine.Help.HelpOption(),
        new VersionOption(),
        RunCommand.Create(io),
        VerifyCommand.Create(io),
        DemoCommand.Create(io),
        DevicesCommand.Create(io),
        BenchCommand.Create(),
        PlanCommand.Create(),
        SmokeCommand.Create(io),
        ProbeCommand.Create(io),
    };
}
