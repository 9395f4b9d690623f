using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>
/// Files named by options: inputs read with errors that name the option, outputs checked before any
/// work (so a long computation never ends in "cannot write") and written atomically by NpyFile.
/// </summary>
public static class CliFiles
{
    /// <summary>Reads a .npy file named by <paramref name="option"/>; a missing file or a folder is bad input naming it.</summary>
    public static HostTensor ReadNpy(string path, string option)
    {
        if (Directory.Exists(path))
            throw new ArgumentException($"{option}: '{path}' is a folder, not a .npy file.", option);
        if (!File.Exists(path))
            throw new ArgumentException($"{option}: file '{path}' does not exist.", option);
        try { return NpyFile.Read(path); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{option}: {e.Message}", e); }
    }

    /// <summary>Refuses an output path that cannot be written (empty, a folder, missing or read-only folder), naming <paramref name="option"/>.</summary>
    public static void CheckWritable(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"{option}: an output file path is required, got an empty string.", option);
        try
        {
            NpyFile.CheckWritable(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ArgumentException($"{option}: cannot write '{path}': {CliErrors.MessageOf(e)}", option, e);
        }
    }
}
