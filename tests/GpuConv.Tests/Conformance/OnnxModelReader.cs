using System.Buffers.Binary;

namespace GpuConv.Tests.Conformance;

/// <summary>A dense ONNX TensorProto; only float32 data is decoded.</summary>
public sealed record OnnxTensor(string Name, long[] Dims, int DataType, float[] Data)
{
    public const int Float32 = 1;
}

/// <summary>One node attribute; which value fields are meaningful depends on the attribute.</summary>
public sealed record OnnxAttribute(string Name, long Int, float Float, string String, long[] Ints, float[] Floats);

public sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs, IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    public long[]? Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;
    public long Int(string name, long defaultValue) => Attributes.TryGetValue(name, out var a) ? a.Int : defaultValue;
    public string String(string name, string defaultValue) => Attributes.TryGetValue(name, out var a) ? a.String : defaultValue;
}

/// <summary>The parts of a GraphProto a single-operator test needs.</summary>
public sealed record OnnxGraph(IReadOnlyList<OnnxNode> Nodes, IReadOnlyDictionary<string, OnnxTensor> Initializers, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs)
{
    /// <summary>Graph inputs fed by the test data (old opsets also list initializers as inputs).</summary>
    public IEnumerable<string> FedInputs => Inputs.Where(name => !Initializers.ContainsKey(name));
}

/// <summary>
/// Reads ONNX models and tensors straight from the protobuf wire format (field numbers from onnx.proto):
/// ModelProto.graph = 7; GraphProto node = 1, initializer = 5, input = 11, output = 12;
/// NodeProto input = 1, output = 2, op_type = 4, attribute = 5; AttributeProto name = 1, f = 2, i = 3,
/// s = 4, floats = 7, ints = 8; ValueInfoProto name = 1; TensorProto dims = 1, data_type = 2,
/// float_data = 4, name = 8, raw_data = 9 (little-endian).
/// </summary>
public static class OnnxModelReader
{
    public static OnnxGraph ReadModel(string path)
    {
        var model = new ProtoWireReader(File.ReadAllBytes(path));
        OnnxGraph? graph = null;
        while (model.TryReadTag(out int field, out var wire))
        {
            if (field == 7) { ProtoWireReader.Expect(wire, WireType.LengthDelimited); graph = ReadGraph(model.ReadMessage()); }
            else model.Skip(wire);
        }
        return graph ?? throw new InvalidDataException($"{path} holds no graph (ModelProto field 7).");
    }

    public static OnnxTensor ReadTensor(string path) => ReadTensor(new ProtoWireReader(File.ReadAllBytes(path)));

    public static OnnxTensor ReadTensor(byte[] bytes) => ReadTensor(new ProtoWireReader(bytes));

    static OnnxGraph ReadGraph(ProtoWireReader r)
    {
        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, OnnxTensor>();
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: nodes.Add(ReadNode(r.ReadMessage())); break;
                case 5: var t = ReadTensor(r.ReadMessage()); initializers[t.Name] = t; break;
                case 11: inputs.Add(ReadValueInfoName(r.ReadMessage())); break;
                case 12: outputs.Add(ReadValueInfoName(r.ReadMessage())); break;
                default: r.Skip(wire); break;
            }
        }
        return new OnnxGraph(nodes, initializers, inputs, outputs);
    }

    static string ReadValueInfoName(ProtoWireReader r)
    {
        string name = "";
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1) name = r.ReadString();
            else r.Skip(wire);
        }
        return name;
    }

    static OnnxNode ReadNode(ProtoWireReader r)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new Dictionary<string, OnnxAttribute>();
        string opType = "";
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: inputs.Add(r.ReadString()); break;
                case 2: outputs.Add(r.ReadString()); break;
                case 4: opType = r.ReadString(); break;
                case 5: var a = ReadAttribute(r.ReadMessage()); attributes[a.Name] = a; break;
                default: r.Skip(wire); break;
            }
        }
        return new OnnxNode(opType, [.. inputs], [.. outputs], attributes);
    }

    static OnnxAttribute ReadAttribute(ProtoWireReader r)
    {
        string name = "", s = "";
        long i = 0;
        float f = 0;
        var ints = new List<long>();
        var floats = new List<float>();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: name = r.ReadString(); break;
                case 2: f = r.ReadFloat(); break;
                case 3: i = r.ReadInt64(); break;
                case 4: s = r.ReadString(); break;
                case 7: r.ReadFloats(wire, floats); break;
                case 8: r.ReadInt64s(wire, ints); break;
                default: r.Skip(wire); break;
            }
        }
        return new OnnxAttribute(name, i, f, s, [.. ints], [.. floats]);
    }

    static OnnxTensor ReadTensor(ProtoWireReader r)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        byte[]? raw = null;
        int dataType = 0;
        string name = "";
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1: r.ReadInt64s(wire, dims); break;
                case 2: dataType = (int)r.ReadInt64(); break;
                case 4: r.ReadFloats(wire, floats); break;
                case 8: name = r.ReadString(); break;
                case 9: raw = r.ReadBytes().ToArray(); break;
                default: r.Skip(wire); break;
            }
        }
        if (dataType != OnnxTensor.Float32)
            throw new NotSupportedException($"tensor '{name}' has ONNX data_type {dataType}; only float32 (1) is supported.");
        long count = dims.Aggregate(1L, (a, b) => a * b);
        float[] data;
        if (raw is not null)
        {
            if (raw.Length != count * 4)
                throw new InvalidDataException($"tensor '{name}' raw_data has {raw.Length} bytes, dims [{string.Join(", ", dims)}] need {count * 4}.");
            data = new float[count];
            for (int k = 0; k < data.Length; k++)
                data[k] = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(4 * k));
        }
        else
        {
            if (floats.Count != count)
                throw new InvalidDataException($"tensor '{name}' float_data has {floats.Count} values, dims [{string.Join(", ", dims)}] need {count}.");
            data = [.. floats];
        }
        return new OnnxTensor(name, [.. dims], dataType, data);
    }
}
