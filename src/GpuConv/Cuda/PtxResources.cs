using System.Reflection;
using System.Text;

namespace GpuConv.Cuda;

/// <summary>The hand-written kernels/*.ptx files embedded in the assembly as GpuConv.Kernels.&lt;file&gt;.</summary>
internal static class PtxResources
{
    const string Prefix = "GpuConv.Kernels.";
    static readonly Assembly Assembly = typeof(PtxResources).Assembly;

    /// <summary>File names ("fill.ptx", …) of the embedded kernels.</summary>
    public static IReadOnlyList<string> Files =>
        Assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".ptx", StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..]).Order(StringComparer.Ordinal).ToList();

    public static string ReadText(string file)
    {
        using var s = Open(file);
        using var reader = new StreamReader(s, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The PTX as the NUL-terminated image cuModuleLoadDataEx expects. Bytes outside ASCII (an em dash
    /// in a comment) become '?': the PTX assembler rejects non-ASCII input even inside comments.
    /// </summary>
    internal static byte[] ReadImage(string file)
    {
        using var s = Open(file);
        var bytes = new byte[s.Length + 1];
        s.ReadExactly(bytes.AsSpan(0, (int)s.Length));
        for (int i = 0; i < bytes.Length - 1; i++)
            if (bytes[i] >= 0x80) bytes[i] = (byte)'?';
        return bytes;
    }

    static Stream Open(string file) =>
        Assembly.GetManifestResourceStream(Prefix + file)
        ?? throw new ArgumentException($"no embedded PTX named '{file}'; embedded: {string.Join(", ", Files)}.", nameof(file));
}
