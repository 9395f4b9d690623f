using System.Text;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Tensors;

/// <summary>Issue 14 items 3 and 10: atomic writes, and shape tuples Python would not write.</summary>
public class NpyFileReliabilityTests
{
    static byte[] WithShape(string shape, int floats)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        dict += new string(' ', 63 - (10 + dict.Length) % 64) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)dict.Length, 0 };
        bytes.AddRange(Encoding.ASCII.GetBytes(dict));
        bytes.AddRange(new byte[4 * floats]);
        return [.. bytes];
    }

    [TestCase("(1,,3,8,8)")]
    [TestCase("(,3)")]
    [TestCase("(3,,)")]
    [TestCase("(,)")]
    public void ShapeWithAnEmptyEntryIsRefused(string shape)
    {
        var e = Assert.Throws<InvalidDataException>(() => NpyFile.Read(new MemoryStream(WithShape(shape, 192))))!;
        Assert.That(e.Message, Does.Contain(shape));
    }

    [TestCase("'descr': '>f4'")]
    [TestCase("'fortran_order': True")]
    [TestCase("\"shape\": (2, 96)")]
    public void RepeatedKeyIsRefused(string repeated)
    {
        // NumPy (a Python dict) keeps the last value, the reader took the first: other numbers, silently.
        var bytes = WithShape("(1, 3, 8, 8)", 192);
        string text = Encoding.ASCII.GetString(bytes, 10, bytes[8]);
        string dict = text.Replace(", }", $", {repeated}, }}", StringComparison.Ordinal).TrimEnd();
        dict += new string(' ', 63 - (10 + dict.Length) % 64) + "\n";
        var file = new List<byte>(bytes[..8]) { (byte)dict.Length, 0 };
        file.AddRange(Encoding.ASCII.GetBytes(dict));
        file.AddRange(bytes[(10 + bytes[8])..]);
        var e = Assert.Throws<InvalidDataException>(() => NpyFile.Read(new MemoryStream([.. file])))!;
        Assert.That(e.Message, Does.Contain("more than once"));
    }

    [TestCase("(3,)", 3)]
    [TestCase("(1, 3, 8, 8)", 192)]
    [TestCase("(2, 3,)", 6)]
    public void PythonTuplesAreRead(string shape, int floats) =>
        Assert.That(NpyFile.Read(new MemoryStream(WithShape(shape, floats))).Shape.ElementCount, Is.EqualTo(floats));

    [Test]
    public void WriteReplacesTheFileWholeAndLeavesNoTemporaryFile()
    {
        using var dir = new Planning.TempDir();
        string path = dir.File("t.npy");
        NpyFile.Write(path, HostTensor.Random(new TensorShape(2, 3), 1));
        var second = HostTensor.Random(new TensorShape(4, 5), 2);
        NpyFile.Write(path, second);
        Assert.That(NpyFile.Read(path).Data, Is.EqualTo(second.Data));
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void AWriteThatFailsOnAFullDiskLeavesTheOldFileWhole()
    {
        using var small = TmpfsFolder.Small(128);
        string path = small.File("x.npy");
        NpyFile.Write(path, HostTensor.Random(new TensorShape(1, 3, 8, 8), 1));
        byte[] before = File.ReadAllBytes(path);
        Assert.Throws<IOException>(() => NpyFile.Write(path, HostTensor.Random(new TensorShape(1, 4, 206, 206), 2)));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(small.Path), Is.EqualTo(new[] { path }));
    }

    // Write into a missing folder named only its hidden temporary file ("Could not find a part of the path
    // '/x/.y.npy.1234.<guid>.tmp'"), and onto a folder said only "Is a directory".
    [Test]
    public void WriteNamesTheUsersPath_NotItsTemporaryFile()
    {
        using var dir = new Planning.TempDir();
        var t = new HostTensor(2);
        var missing = Assert.Throws<DirectoryNotFoundException>(() => NpyFile.Write(dir.File("missing/y.npy"), t))!;
        Assert.That(missing.Message, Does.Contain(dir.File("missing/y.npy")).And.Contain("does not exist").And.Not.Contain(".tmp"));
        var folder = Assert.Throws<IOException>(() => NpyFile.Write(dir.Path, t))!;
        Assert.That(folder.Message, Does.Contain(dir.Path).And.Contain("is a folder"));
        Assert.That(Directory.GetFileSystemEntries(dir.Path), Is.Empty, "nothing left behind");
    }

    [Test]
    public void CheckWritableRefusesAFolderAMissingFolderAndAReadOnlyOne()
    {
        using var dir = new Planning.TempDir();
        Assert.Throws<IOException>(() => NpyFile.CheckWritable(dir.Path));
        Assert.Throws<DirectoryNotFoundException>(() => NpyFile.CheckWritable(dir.File("missing/y.npy")));
        Assert.DoesNotThrow(() => NpyFile.CheckWritable(dir.File("y.npy")));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty, "the probe leaves nothing behind");
        using var ro = TmpfsFolder.ReadOnly();
        Assert.Throws<IOException>(() => NpyFile.CheckWritable(ro.File("y.npy")));
    }
}
