namespace GpuConv.Cli.Peers;

/// <summary>
/// The ONNX messages both hand-written models need (onnx.proto field numbers): a float tensor, a float value info, int and
/// float attributes, and the ModelProto around a graph (IR version 8, opset 17). Also compiled into samples/GpuConv.Networks
/// (linked in its project file, with <see cref="ProtoWriter"/>).
/// </summary>
internal static class OnnxMessages
{
    const int FloatType = 1;                 // TensorProto.DataType.FLOAT
    const int AttrFloat = 1, AttrInt = 2, AttrInts = 7;     // AttributeProto.AttributeType

    /// <summary>A TensorProto of floats (an initializer); raw_data is little-endian, as this machine.</summary>
    public static ProtoWriter FloatTensor(string name, IEnumerable<long> dims, float[] data)
    {
        var bytes = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
        return new ProtoWriter().PackedInt64(1, dims).Varint(2, FloatType).String(8, name).Bytes(9, bytes);
    }

    /// <summary>A ValueInfoProto: a float tensor of fixed <paramref name="shape"/>.</summary>
    public static ProtoWriter FloatValueInfo(string name, long[] shape)
    {
        var dims = new ProtoWriter();
        foreach (var d in shape) dims.Message(1, new ProtoWriter().Varint(1, d));
        var tensorType = new ProtoWriter().Varint(1, FloatType).Message(2, dims);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }

    /// <summary>An INTS attribute.</summary>
    public static ProtoWriter Ints(string name, IEnumerable<int> values) =>
        new ProtoWriter().String(1, name).Varint(20, AttrInts).PackedInt64(8, values.Select(v => (long)v));

    /// <summary>An INT attribute.</summary>
    public static ProtoWriter Int(string name, int value) => new ProtoWriter().String(1, name).Varint(20, AttrInt).Varint(3, value);

    /// <summary>A FLOAT attribute.</summary>
    public static ProtoWriter Float(string name, float value) => new ProtoWriter().String(1, name).Varint(20, AttrFloat).Float(2, value);

    /// <summary>The ModelProto holding <paramref name="graph"/>: IR version 8, producer "gpuconv", opset ai.onnx 17.</summary>
    public static byte[] Model(ProtoWriter graph) =>
        new ProtoWriter()
            .Varint(1, 8)                                              // ir_version
            .String(2, "gpuconv")                                      // producer_name
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, 17)) // opset_import: ai.onnx 17
            .ToArray();
}
