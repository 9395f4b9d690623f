using GpuConv.Conv;
using GpuConv.Cpu;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// The PTX text exactly as the library ships it (embedded resources GpuConv.Kernels.*.ptx), parsed once,
/// and helpers to pass a problem's 3-d-widened geometry as kernel arguments.
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

    /// <summary>The geometry arguments the library's backend passes (see PtxKernelGeometry), boxed for Launch.</summary>
    public static object[] Geometry(ConvProblem p) => [.. GpuConv.Backends.Ptx.PtxKernelGeometry.Of(p).Select(v => (object)v)];
}
