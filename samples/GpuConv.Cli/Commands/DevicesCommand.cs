using System.CommandLine;

namespace GpuConv.Cli.Commands;

/// <summary><c>gpuconv devices</c>: the compute available here, and why a GPU path is off.</summary>
public static class DevicesCommand
{
    public static Command Create(CliIO io)
    {
        var command = new Command("devices", "Show the CPU (cores, SIMD tier) and GPU status, with the reason when a GPU is not usable.");
        command.SetAction(_ =>
        {
            foreach (var line in DeviceReport.CpuLines()) io.Out.WriteLine(line);
            foreach (var line in DeviceReport.GpuLines()) io.Out.WriteLine(line);
            return ExitCodes.Ok;
        });
        return command;
    }
}
