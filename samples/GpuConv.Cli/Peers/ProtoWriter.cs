using System.Text;

namespace GpuConv.Cli.Peers;

/// <summary>
/// Just enough of the protobuf wire format to write an ONNX model by hand: varints, length-delimited
/// fields, floats and nested messages. Field numbers are those of onnx.proto (ModelProto, GraphProto, …).
/// Also compiled into samples/GpuConv.Networks (linked in its project file), which writes whole networks with it.
/// </summary>
internal sealed class ProtoWriter
{
    readonly MemoryStream _buffer = new();

    public byte[] ToArray() => _buffer.ToArray();

    public ProtoWriter Varint(int field, long value)
    {
        Tag(field, 0);
        Raw((ulong)value);
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, 2);
        Raw((ulong)bytes.Length);
        _buffer.Write(bytes);
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    /// <summary>A float field (wire type 5: four bytes, little-endian as this machine), e.g. an ONNX FLOAT attribute.</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[sizeof(float)];
        BitConverter.TryWriteBytes(bytes, value);
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>A repeated int64 field, packed (proto3 style; ONNX's parser accepts both encodings).</summary>
    public ProtoWriter PackedInt64(int field, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (var v in values) inner.Raw((ulong)v);
        return Bytes(field, inner.ToArray());
    }

    void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

    void Raw(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }
}
