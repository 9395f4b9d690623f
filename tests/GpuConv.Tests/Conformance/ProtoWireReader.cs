using System.Buffers.Binary;
using System.Text;

namespace GpuConv.Tests.Conformance;

/// <summary>Protobuf wire types (the low three bits of a field tag).</summary>
public enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// A minimal protobuf wire-format reader over one message's bytes: enough to walk ONNX's
/// ModelProto/TensorProto without a generated schema. Unknown fields are skipped by the caller.
/// </summary>
public sealed class ProtoWireReader
{
    readonly byte[] _buffer;
    int _position;
    readonly int _end;

    public ProtoWireReader(byte[] buffer) : this(buffer, 0, buffer.Length) { }

    ProtoWireReader(byte[] buffer, int start, int end)
    {
        _buffer = buffer;
        _position = start;
        _end = end;
    }

    public bool AtEnd => _position >= _end;

    /// <summary>Reads the next tag; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out WireType wireType)
    {
        if (AtEnd) { field = 0; wireType = 0; return false; }
        ulong tag = ReadVarint();
        field = (int)(tag >> 3);
        wireType = (WireType)(tag & 7);
        if (field < 1)
            throw new InvalidDataException($"invalid protobuf field number {field} at byte {_position}.");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = Next();
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new InvalidDataException("protobuf varint longer than 10 bytes.");
    }

    /// <summary>int64 fields are two's-complement varints (not zig-zag).</summary>
    public long ReadInt64() => (long)ReadVarint();

    public float ReadFloat()
    {
        var bytes = Take(4);
        return BinaryPrimitives.ReadSingleLittleEndian(bytes);
    }

    public ReadOnlySpan<byte> ReadBytes() => Take(CheckedLength());

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>A reader over an embedded message (the next length-delimited field).</summary>
    public ProtoWireReader ReadMessage()
    {
        int length = CheckedLength();
        var sub = new ProtoWireReader(_buffer, _position, _position + length);
        _position += length;
        return sub;
    }

    /// <summary>Repeated int64: accepts both the packed form and one varint per element.</summary>
    public void ReadInt64s(WireType wireType, List<long> into)
    {
        if (wireType == WireType.Varint) { into.Add(ReadInt64()); return; }
        Expect(wireType, WireType.LengthDelimited);
        var packed = ReadMessage();
        while (!packed.AtEnd) into.Add(packed.ReadInt64());
    }

    /// <summary>Repeated float: accepts both the packed form and one fixed32 per element.</summary>
    public void ReadFloats(WireType wireType, List<float> into)
    {
        if (wireType == WireType.Fixed32) { into.Add(ReadFloat()); return; }
        Expect(wireType, WireType.LengthDelimited);
        var bytes = ReadBytes();
        if (bytes.Length % 4 != 0)
            throw new InvalidDataException($"packed float field has {bytes.Length} bytes, not a multiple of 4.");
        for (int i = 0; i < bytes.Length; i += 4)
            into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes[i..]));
    }

    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Take(8); break;
            case WireType.LengthDelimited: Take(CheckedLength()); break;
            case WireType.Fixed32: Take(4); break;
            default: throw new InvalidDataException($"unsupported protobuf wire type {wireType}.");
        }
    }

    public static void Expect(WireType actual, WireType expected)
    {
        if (actual != expected)
            throw new InvalidDataException($"expected wire type {expected}, got {actual}.");
    }

    int CheckedLength()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_end - _position))
            throw new InvalidDataException($"length-delimited field of {length} bytes overruns the message ({_end - _position} bytes left).");
        return (int)length;
    }

    ReadOnlySpan<byte> Take(int count)
    {
        if (count > _end - _position)
            throw new InvalidDataException($"truncated protobuf message: need {count} bytes at {_position}, {_end - _position} left.");
        var span = _buffer.AsSpan(_position, count);
        _position += count;
        return span;
    }

    byte Next()
    {
        if (_position >= _end)
            throw new InvalidDataException("truncated protobuf varint.");
        return _buffer[_position++];
    }
}
