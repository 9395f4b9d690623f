using GpuConv.Cpu.Columns;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// The PTX text exactly as the library ships it (embedded resources GpuConv.Kernels.*.ptx), parsed once.
/// (Kernel arguments come from the library's own PtxKernelArguments.)
/// </summary>
static class ShippedKernels
{
    static readonly Dictionary<string, PtxModule> Cache = [];

    public static string Source(string file)
    {
        var asm = typeof(Im2Col).Assembly;
        using var stream = asm.GetManifestResourceStream($"GpuConv.Kernels.{file}")
            ?? throw new InvalidOperationException($"kernel resource {file} is not embedded in {asm.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static PtxKernel Get(string file, string entry)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(file, out var module)) Cache[file] = module = PtxParser.Parse(Source(file));
            return module[entry];
        }
    }
}
