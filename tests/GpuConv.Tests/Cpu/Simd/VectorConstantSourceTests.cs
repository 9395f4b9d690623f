using System.Text.RegularExpressions;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The library's vector constants are made where they are used, as <c>Vector512.Create(constants)</c> or from
/// <c>Vector512&lt;T&gt;.Indices</c>, never kept in a <c>static readonly</c> field or read from a property: a method compiled
/// <c>[AggressiveOptimization]</c> before the type's static constructor ran cannot fold such a field (ResNet-50's max pool
/// ran 0.30, 0.60 or 1.76 ms by process, docs/benchmarks.md s20), and a property nested a few calls deep is refused as an
/// inline once the root method's budget is spent, returning its vector through memory (a 7 × 7 global average 13 or
/// 53 µs by process, s21). Neither shows in a result, only in the time, so this scans the source.
/// </summary>
public class VectorConstantSourceTests
{
    static readonly Regex Field = new(@"static\s+readonly\s+Vector(64|128|256|512)<", RegexOptions.Compiled);
    static readonly Regex Property = new(@"static\s+Vector(64|128|256|512)<\w+>\s+\w+\s*=>\s*Vector(64|128|256|512)\.Create\(", RegexOptions.Compiled);

    [Test]
    public void NoVectorConstantLivesInAFieldOrAProperty()
    {
        var root = SharedData.RepositoryRoot();
        if (root is null) Assert.Ignore("no repository around the test assembly: src/GpuConv is not here to scan");
        var src = Path.Combine(root!, "src", "GpuConv");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.That(files, Has.Count.GreaterThan(100), $"the scan found the library's source under {src}");
        var found = new List<string>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
                if (Field.IsMatch(lines[i]) || Property.IsMatch(lines[i]))
                    found.Add($"{Path.GetRelativePath(root!, file)}:{i + 1}: {lines[i].Trim()}");
        }
        Assert.That(found, Is.Empty, "make these constants at their use (Vector512.Create(constants) in the method, or from Vector512<T>.Indices)");
    }

    /// <summary>The scan's patterns catch both forms (so the test above could fail).</summary>
    [TestCase("    static readonly Vector512<int> Evens = Vector512.Create(0, 2);", true)]
    [TestCase("    static Vector512<int> Down8 => Vector512.Create(8, 9, 10);", true)]
    [TestCase("    private static readonly Vector256<float> Half = Vector256.Create(0.5f);", true)]
    [TestCase("    static Vector512<float> V(float v) => Vector512.Create(v);", false)]
    [TestCase("        var evens = Vector512<int>.Indices * 2;", false)]
    public void ThePatternsTellAFieldOrPropertyFromAHelper(string line, bool flagged) =>
        Assert.That(Field.IsMatch(line) || Property.IsMatch(line), Is.EqualTo(flagged));
}
