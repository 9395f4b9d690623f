using System.Buffers.Binary;
using System.Text;
using GpuConv.Tensors;

namespace GpuConv.Tests.Tensors;

public class NpyFileTests
{
    /// <summary>A .npy file built byte by byte: magic, version, header length, header, data.</summary>
    static byte[] Build(string header, byte major, ReadOnlySpan<byte> data, int padTo = 64)
    {
        int lengthBytes = major == 1 ? 2 : 4;
        int prefix = 6 + 2 + lengthBytes;
        int total = (prefix + header.Length + 1 + padTo - 1) / padTo * padTo;
        string padded = header + new string(' ', total - prefix - header.Length - 1) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 };
        var len = new byte[lengthBytes];
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)padded.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)padded.Length);
        bytes.AddRange(len);
        bytes.AddRange((major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(padded));
        bytes.AddRange(data.ToArray());
        return [.. bytes];
    }

    static byte[] Float32Bytes(params float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), values[i]);
        return b;
    }

    static byte[] Float64Bytes(params double[] values)
    {
        var b = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(i * 8), values[i]);
        return b;
    }

    static HostTensor Read(byte[] bytes) => NpyFile.Read(new MemoryStream(bytes));

    static string ErrorOf(byte[] bytes) => Assert.Throws<InvalidDataException>(() => Read(bytes))!.Message;

    [Test]
    public void RoundTripKeepsShapeAndEveryValue()
    {
        var original = HostTensor.Random(new TensorShape(2, 3, 4, 5), seed: 11);
        var stream = new MemoryStream();
        NpyFile.Write(stream, original);
        stream.Position = 0;
        var back = NpyFile.Read(stream);
        Assert.That(back.Shape, Is.EqualTo(original.Shape));
        Assert.That(back.Data, Is.EqualTo(original.Data));
    }

    [Test]
    public void RoundTripThroughAFileKeepsA1dArray()
    {
        var original = new HostTensor(new TensorShape(7), [1, -2, 3.5f, float.MaxValue, float.Epsilon, -0f, 1e-30f]);
        string path = Path.Combine(Path.GetTempPath(), $"gpuconv-npy-{Guid.NewGuid():N}.npy");
        try
        {
            NpyFile.Write(path, original);
            var back = NpyFile.Read(path);
            Assert.That(back.Shape, Is.EqualTo(original.Shape));
            Assert.That(back.Data, Is.EqualTo(original.Data));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void WriterProducesNumpysVersion1LayoutAlignedTo64Bytes()
    {
        var t = new HostTensor(new TensorShape(2, 3), [0, 1, 2, 3, 4, 5]);
        var stream = new MemoryStream();
        NpyFile.Write(stream, t);
        var bytes = stream.ToArray();
        const string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        // 10-byte prefix + 118-byte header = 128: the data starts on a 64-byte boundary.
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(118));
        string header = Encoding.ASCII.GetString(bytes, 10, 118);
        Assert.That(header, Is.EqualTo(dict + new string(' ', 118 - dict.Length - 1) + "\n"));
        Assert.That(bytes[128..], Is.EqualTo(Float32Bytes(0, 1, 2, 3, 4, 5)));
    }

    [Test]
    public void ReadsFloat64AcrossChunkBoundariesAndReportsTruncationThere()
    {
        // 20000 values: more than two of the reader's 8192-element chunks.
        var values = Enumerable.Range(0, 20000).Select(i => Math.Sin(i) * 1e3).ToArray();
        var bytes = Build("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 5000), }", 1, Float64Bytes(values));
        var t = Read(bytes);
        Assert.That(t.Shape, Is.EqualTo(new TensorShape(4, 5000)));
        Assert.That(t.Data, Is.EqualTo(values.Select(v => (float)v).ToArray()));
        Assert.That(ErrorOf(bytes[..^8]), Does.Contain("needs 160000 bytes").And.Contain("found 159992"));
    }

    [Test]
    public void WriterSwitchesToVersion2WhenTheHeaderOutgrows64KiB()
    {
        // 25000 unit dimensions make a shape tuple of ~75000 characters: too long for version 1.0's 2-byte length.
        var dims = Enumerable.Repeat(1, 25000).ToArray();
        dims[^1] = 3;
        var original = new HostTensor(new TensorShape(dims), [1, 2, 3]);
        var stream = new MemoryStream();
        NpyFile.Write(stream, original);
        var bytes = stream.ToArray();
        Assert.That(bytes[6], Is.EqualTo(2));
        Assert.That((12 + BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8))) % 64, Is.EqualTo(0));
        var back = Read(bytes);
        Assert.That(back.Shape, Is.EqualTo(original.Shape));
        Assert.That(back.Data, Is.EqualTo(new float[] { 1, 2, 3 }));
    }

    [Test]
    public void WriterFormatsA1dShapeAsAOneTuple()
    {
        var stream = new MemoryStream();
        NpyFile.Write(stream, new HostTensor(new TensorShape(3), [1, 2, 3]));
        Assert.That(Encoding.ASCII.GetString(stream.ToArray()), Does.Contain("'shape': (3,), }"));
    }

    [Test]
    public void ReadsHandBuiltVersion1Float32()
    {
        var t = Read(Build("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 1, Float32Bytes(1.5f, -2, 3, 4.25f)));
        Assert.That(t.Shape, Is.EqualTo(new TensorShape(2, 2)));
        Assert.That(t.Data, Is.EqualTo(new[] { 1.5f, -2, 3, 4.25f }));
    }

    [Test]
    public void ReadsHandBuiltVersion2Float64AndConvertsToFloat32()
    {
        var t = Read(Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 2, Float64Bytes(0.1, -7, 1e10)));
        Assert.That(t.Shape, Is.EqualTo(new TensorShape(3)));
        Assert.That(t.Data, Is.EqualTo(new[] { 0.1f, -7f, 1e10f }));
    }

    [Test]
    public void ReadsHandBuiltVersion3WithKeysInAnotherOrderAnd16ByteAlignment()
    {
        var t = Read(Build("{'shape': (1, 2, 1), 'fortran_order': False, 'descr': '<f4'}", 3, Float32Bytes(9, 8), padTo: 16));
        Assert.That(t.Shape, Is.EqualTo(new TensorShape(1, 2, 1)));
        Assert.That(t.Data, Is.EqualTo(new[] { 9f, 8f }));
    }

    [Test]
    public void RejectsFortranOrder() =>
        Assert.That(ErrorOf(Build("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 1, Float32Bytes(1, 2, 3, 4))),
            Does.Contain("fortran_order is True"));

    [Test]
    public void RejectsBigEndian() =>
        Assert.That(ErrorOf(Build("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 1, new byte[8])),
            Does.Contain("big-endian dtype '>f4'"));

    [TestCase("<i4")]
    [TestCase("<f2")]
    [TestCase("|u1")]
    public void RejectsOtherDtypesNamingThem(string dtype) =>
        Assert.That(ErrorOf(Build($"{{'descr': '{dtype}', 'fortran_order': False, 'shape': (2,), }}", 1, new byte[8])),
            Does.Contain($"unsupported dtype '{dtype}'"));

    [Test]
    public void RejectsTruncatedDataSayingHowMuchWasFound()
    {
        string message = ErrorOf(Build("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, Float32Bytes(1, 2, 3)));
        Assert.That(message, Does.Contain("truncated data").And.Contain("needs 24 bytes").And.Contain("found 12"));
    }

    [Test]
    public void RejectsTrailingBytes() =>
        Assert.That(ErrorOf(Build("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1, Float32Bytes(1, 2))),
            Does.Contain("unexpected bytes after the data"));

    [Test]
    public void RejectsBadMagicShowingTheBytesFound() =>
        Assert.That(ErrorOf(Encoding.ASCII.GetBytes("PK\x03\x04 this is a zip")), Does.Contain("not a .npy file").And.Contain("50 4b 03 04"));

    [Test]
    public void RejectsAnEmptyFile() =>
        Assert.That(ErrorOf([]), Does.Contain("an empty file"));

    [Test]
    public void RejectsUnknownVersion()
    {
        var bytes = Build("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1, Float32Bytes(1));
        bytes[6] = 4;
        Assert.That(ErrorOf(bytes), Does.Contain("version 4.0"));
    }

    [Test]
    public void RejectsTruncatedHeader()
    {
        var bytes = Build("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1, Float32Bytes(1));
        Assert.That(ErrorOf(bytes[..40]), Does.Contain("truncated .npy header"));
    }

    [Test]
    public void RejectsScalarsAndEmptyArrays()
    {
        Assert.That(ErrorOf(Build("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1, Float32Bytes(1))), Does.Contain("0-d scalar"));
        Assert.That(ErrorOf(Build("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 1, [])), Does.Contain("zero-length dimension 0"));
    }

    [Test]
    public void RejectsAMissingKey() =>
        Assert.That(ErrorOf(Build("{'descr': '<f4', 'shape': (1,), }", 1, Float32Bytes(1))), Does.Contain("no 'fortran_order' key"));
}
