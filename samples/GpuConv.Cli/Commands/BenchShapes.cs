using System.Globalization;
using System.Reflection;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Cli.Commands;

/// <summary>One row of a shape set: a named forward convolution.</summary>
public sealed record BenchShape(string Name, ConvProblem Problem)
{
    /// <summary>The class a shape is summarized in: 7x7/2 stem, 3x3, 1x1, depthwise, or other.</summary>
    public string Class
    {
        get
        {
            var s = Problem.Spec;
            if (Problem.IsDepthwise) return "depthwise";
            if (s.Kernel.All(k => k == 1)) return "1x1";
            if (s.Kernel.All(k => k == 7) && s.Stride.All(v => v == 2)) return "7x7/2 stem";
            if (s.Kernel.All(k => k == 3)) return "3x3";
            return "other";
        }
    }
}

/// <summary>
/// The bench command's own reader of the shape CSVs (format in shapes/README.md:
/// name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups): the embedded sets by name
/// (resnet50, mobilenet_v2, deepbench-inference, …) or a file path.
/// </summary>
public static class BenchShapes
{
    static readonly string[] Header = ["name", "n", "c", "h", "w", "k", "r", "s", "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups"];

    /// <summary>Names of the embedded sets, as accepted by --shapes (dashes or underscores).</summary>
    public static IReadOnlyList<string> EmbeddedSets { get; } = typeof(BenchShapes).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("GpuConv.Cli.Shapes.", StringComparison.Ordinal) && n.EndsWith(".csv", StringComparison.Ordinal))
        .Select(n => n["GpuConv.Cli.Shapes.".Length..^4].Replace('_', '-'))
        .Order().ToArray();

    /// <summary>Loads a set by embedded name or file path; each row's batch is multiplied by <paramref name="batch"/>.</summary>
    public static IReadOnlyList<BenchShape> Load(string set, int batch)
    {
        if (batch < 1) throw new ArgumentException($"batch must be >= 1, got {batch}.", nameof(batch));
        string resource = "GpuConv.Cli.Shapes." + set.Replace('-', '_') + ".csv";
        string text;
        using (var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource))
        {
            if (stream is not null)
                text = new StreamReader(stream).ReadToEnd();
            else if (File.Exists(set))
                text = File.ReadAllText(set);
            else
                throw new ArgumentException($"--shapes '{set}' is neither an embedded set ({string.Join(", ", EmbeddedSets)}) nor an existing file.", nameof(set));
        }
        return Parse(text, set, batch);
    }

    public static IReadOnlyList<BenchShape> Parse(string text, string source, int batch)
    {
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        if (lines.Length == 0 || !lines[0].Split(',').Select(h => h.Trim()).SequenceEqual(Header))
            throw new ArgumentException($"{source}: the first line must be the header '{string.Join(",", Header)}'.", nameof(text));
        var shapes = new List<BenchShape>();
        for (int i = 1; i < lines.Length; i++)
        {
            var f = lines[i].Split(',');
            if (f.Length != Header.Length)
                throw new ArgumentException($"{source} line {i + 1}: expected {Header.Length} fields, got {f.Length}: '{lines[i]}'.", nameof(text));
            int V(int index)
            {
                if (!int.TryParse(f[index], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
                    throw new ArgumentException($"{source} line {i + 1}: field {Header[index]} = '{f[index]}' is not an integer.", nameof(text));
                return v;
            }
            int n = V(1) * batch, c = V(2), h = V(3), w = V(4), k = V(5), r = V(6), s = V(7), g = V(14);
            try
            {
                var spec = new ConvSpec([r, s], [V(8), V(9)], [V(12), V(13)], [V(10), V(11)], [V(10), V(11)], g);
                if (c % g != 0)
                    throw new ArgumentException($"c = {c} is not divisible by groups = {g}.");
                var problem = ConvProblem.Create(spec, new TensorShape(n, c, h, w), new TensorShape(k, c / g, r, s));
                shapes.Add(new BenchShape(f[0].Trim(), problem));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{source} line {i + 1} ({f[0]}): {e.Message}", nameof(text), e);
            }
        }
        return shapes;
    }
}
