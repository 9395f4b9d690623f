using System.Text;

namespace GpuConv.Tests.Conformance;

/// <summary>The protobuf reader on hand-encoded messages (both packed and unpacked repeated fields).</summary>
public class OnnxModelReaderTests
{
    /// <summary>A few protobuf encoders, just enough to build test messages.</summary>
    static class Pb
    {
        public static byte[] Varint(ulong v)
        {
            var bytes = new List<byte>();
            do { byte b = (byte)(v & 0x7F); v >>= 7; bytes.Add(v != 0 ? (byte)(b | 0x80) : b); } while (v != 0);
            return [.. bytes];
        }
        public static byte[] Tag(int field, int wire) => Varint((ulong)(field << 3 | wire));
        public static byte[] Int(int field, long v) => [.. Tag(field, 0), .. Varint((ulong)v)];
        public static byte[] Bytes(int field, byte[] payload) => [.. Tag(field, 2), .. Varint((ulong)payload.Length), .. payload];
        public static byte[] Str(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));
        public static byte[] Floats(float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();
        public static byte[] PackedInts(int field, long[] values) => Bytes(field, values.SelectMany(v => Varint((ulong)v)).ToArray());
        public static byte[] Fixed32(int field, float v) => [.. Tag(field, 5), .. BitConverter.GetBytes(v)];
        public static byte[] Fixed64(int field, double v) => [.. Tag(field, 1), .. BitConverter.GetBytes(v)];
    }

    [Test]
    public void TensorWithUnpackedDimsAndPackedFloatData()
    {
        byte[] msg = [.. Pb.Int(1, 2), .. Pb.Int(1, 3), .. Pb.Int(2, 1), .. Pb.Bytes(4, Pb.Floats([1, -2, 3.5f, 4, 5, 6])), .. Pb.Str(8, "W")];
        var t = OnnxModelReader.ReadTensor(msg);
        Assert.That(t.Name, Is.EqualTo("W"));
        Assert.That(t.Dims, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(t.Data, Is.EqualTo(new float[] { 1, -2, 3.5f, 4, 5, 6 }));
    }

    [Test]
    public void TensorWithPackedDimsRawDataAndUnknownFieldsSkipped()
    {
        byte[] msg = [.. Pb.PackedInts(1, [1, 4]), .. Pb.Int(2, 1), .. Pb.Fixed64(10, 9.0), .. Pb.Str(12, "doc"), .. Pb.Bytes(9, Pb.Floats([0.25f, -1, 1e-3f, 300]))];
        var t = OnnxModelReader.ReadTensor(msg);
        Assert.That(t.Dims, Is.EqualTo(new long[] { 1, 4 }));
        Assert.That(t.Data, Is.EqualTo(new float[] { 0.25f, -1, 1e-3f, 300 }));
    }

    [Test]
    public void UnpackedFloatData()
    {
        byte[] msg = [.. Pb.Int(1, 2), .. Pb.Int(2, 1), .. Pb.Fixed32(4, 7), .. Pb.Fixed32(4, -8)];
        Assert.That(OnnxModelReader.ReadTensor(msg).Data, Is.EqualTo(new float[] { 7, -8 }));
    }

    [Test]
    public void NonFloatTensorIsNotSupported()
    {
        byte[] msg = [.. Pb.Int(1, 2), .. Pb.Int(2, 7), .. Pb.Str(8, "shape")];
        var ex = Assert.Throws<NotSupportedException>(() => OnnxModelReader.ReadTensor(msg))!;
        Assert.That(ex.Message, Does.Contain("'shape'").And.Contain("data_type 7"));
    }

    [Test]
    public void RawDataOfTheWrongSizeIsRejected()
    {
        byte[] msg = [.. Pb.Int(1, 3), .. Pb.Int(2, 1), .. Pb.Bytes(9, Pb.Floats([1, 2]))];
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModelReader.ReadTensor(msg))!;
        Assert.That(ex.Message, Does.Contain("8 bytes").And.Contain("need 12"));
    }

    [Test]
    public void TruncatedMessageIsRejected()
    {
        byte[] msg = [.. Pb.Int(2, 1), .. Pb.Tag(9, 2), .. Pb.Varint(40), 1, 2, 3];
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModelReader.ReadTensor(msg))!;
        Assert.That(ex.Message, Does.Contain("40 bytes"));
    }

    [Test]
    public void NegativeInt64IsTwosComplementVarint()
    {
        var r = new ProtoWireReader(Pb.Int(3, -1));
        Assert.That(r.TryReadTag(out int field, out var wire), Is.True);
        Assert.That((field, wire), Is.EqualTo((3, WireType.Varint)));
        Assert.That(r.ReadInt64(), Is.EqualTo(-1L));
        Assert.That(r.AtEnd, Is.True);
    }

    [Test]
    public void ModelWithOneConvNode()
    {
        byte[] Attribute(byte[] body) => Pb.Bytes(5, body);
        byte[] node =
        [
            .. Pb.Str(1, "X"), .. Pb.Str(1, "W"), .. Pb.Str(1, "B"), .. Pb.Str(2, "Y"), .. Pb.Str(3, "conv0"), .. Pb.Str(4, "Conv"),
            .. Attribute([.. Pb.Str(1, "kernel_shape"), .. Pb.Int(8, 3), .. Pb.Int(8, 3), .. Pb.Int(20, 7)]),     // unpacked ints
            .. Attribute([.. Pb.Str(1, "pads"), .. Pb.PackedInts(8, [1, 0, 2, 1]), .. Pb.Int(20, 7)]),         // packed ints
            .. Attribute([.. Pb.Str(1, "group"), .. Pb.Int(3, 2), .. Pb.Int(20, 2)]),
            .. Attribute([.. Pb.Str(1, "auto_pad"), .. Pb.Str(4, "NOTSET"), .. Pb.Int(20, 3)]),
            .. Attribute([.. Pb.Str(1, "alpha"), .. Pb.Fixed32(2, 0.5f), .. Pb.Int(20, 1)]),
        ];
        byte[] weight = [.. Pb.Int(1, 1), .. Pb.Int(2, 1), .. Pb.Str(8, "W"), .. Pb.Bytes(9, Pb.Floats([42]))];
        byte[] graph =
        [
            .. Pb.Bytes(1, node), .. Pb.Str(2, "g"), .. Pb.Bytes(5, weight),
            .. Pb.Bytes(11, Pb.Str(1, "X")), .. Pb.Bytes(11, Pb.Str(1, "W")), .. Pb.Bytes(11, Pb.Str(1, "B")),
            .. Pb.Bytes(12, Pb.Str(1, "Y")),
        ];
        byte[] model = [.. Pb.Int(1, 8), .. Pb.Str(2, "test"), .. Pb.Bytes(7, graph), .. Pb.Bytes(8, [.. Pb.Int(2, 22)])];
        var path = Path.Combine(Path.GetTempPath(), $"gpuconv-reader-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, model);
        try
        {
            var g = OnnxModelReader.ReadModel(path);
            var n = g.Nodes.Single();
            Assert.Multiple(() =>
            {
                Assert.That(n.OpType, Is.EqualTo("Conv"));
                Assert.That(n.Inputs, Is.EqualTo(new[] { "X", "W", "B" }));
                Assert.That(n.Outputs, Is.EqualTo(new[] { "Y" }));
                Assert.That(n.Ints("kernel_shape"), Is.EqualTo(new long[] { 3, 3 }));
                Assert.That(n.Ints("pads"), Is.EqualTo(new long[] { 1, 0, 2, 1 }));
                Assert.That(n.Int("group", 1), Is.EqualTo(2));
                Assert.That(n.Int("missing", 5), Is.EqualTo(5));
                Assert.That(n.String("auto_pad", ""), Is.EqualTo("NOTSET"));
                Assert.That(n.Attributes["alpha"].Float, Is.EqualTo(0.5f));
                Assert.That(g.Initializers["W"].Data, Is.EqualTo(new float[] { 42 }));
                Assert.That(g.Inputs, Is.EqualTo(new[] { "X", "W", "B" }));
                Assert.That(g.FedInputs, Is.EqualTo(new[] { "X", "B" }));
                Assert.That(g.Outputs, Is.EqualTo(new[] { "Y" }));
            });
        }
        finally { File.Delete(path); }
    }
}
