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

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
