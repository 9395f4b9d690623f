using GpuConv.Cli;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>Runs the gpuconv CLI in-process with captured output, in a temporary folder of .npy files.</summary>
sealed class CliHarness : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("gpuconv-cli-").FullName;

    public string Path(string name) => System.IO.Path.Combine(Folder, name);

    public string Save(string name, HostTensor tensor)
    {
        string path = Path(name);
        NpyFile.Write(path, tensor);
        return path;
    }

    public static (int Exit, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.Invoke(args, new CliIO(output, error));
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary><see cref="Invoke"/>, plus what was written straight to the console (Spectre tables, warnings).</summary>
    public static (int Exit, string Out, string Err) InvokeCapturingConsole(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var output = new StringWriter();
        var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            var (exit, o, e) = Invoke(args);
            return (exit, o + output, e + error);
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
