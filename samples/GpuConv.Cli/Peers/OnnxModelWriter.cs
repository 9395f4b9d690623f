namespace GpuConv.Cli.Peers;

/// <summary>
/// Builds a one-node ONNX model holding a single Conv or ConvTranspose of any rank (weights and bias as
/// initializers). Both take weights as GpuConv's problems hold them: Conv [K, C/group, k…], ConvTranspose
/// [C_in, C_out/group, k…], which is the underlying convolution's [K, C/group, k…] again.
/// </summary>
internal static class OnnxConvModel
{
    const int FloatType = 1;     // TensorProto.DataType.FLOAT
    const int AttrInt = 2, AttrInts = 7;  // AttributeProto.AttributeType

    /// <param name="x">Input shape N, C, spatial….</param>
    /// <param name="y">Output shape.</param>
    /// <param name="outputPadding">Null: a Conv node; else a ConvTranspose with this output_padding.</param>
    public static byte[] Build(long[] x, long[] y, float[] weights, long[] wShape, float[]? bias,
        int[] kernel, int[] strides, int[] padBegin, int[] padEnd, int[] dilations, int groups, int[]? outputPadding = null)
    {
        var node = new ProtoWriter()
            .String(1, "X").String(1, "W");
        if (bias is not null) node.String(1, "B");
        node.String(2, "Y").String(3, "conv").String(4, outputPadding is null ? "Conv" : "ConvTranspose")
            .Message(5, Ints("kernel_shape", kernel))
            .Message(5, Ints("strides", strides))
            .Message(5, Ints("pads", [.. padBegin, .. padEnd]))
            .Message(5, Ints("dilations", dilations))
            .Message(5, new ProtoWriter().String(1, "group").Varint(20, AttrInt).Varint(3, groups));
        if (outputPadding is not null) node.Message(5, Ints("output_padding", outputPadding));

        var graph = new ProtoWriter()
            .Message(1, node)
            .String(2, "gpuconv_peer")
            .Message(5, Tensor("W", wShape, weights));
        if (bias is not null) graph.Message(5, Tensor("B", [bias.Length], bias));
        graph.Message(11, ValueInfo("X", x)).Message(12, ValueInfo("Y", y));

        return new ProtoWriter()
            .Varint(1, 8)                                              // ir_version
            .String(2, "gpuconv")                                      // producer_name
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, 17)) // opset_import: ai.onnx 17
            .ToArray();
    }

    static ProtoWriter Ints(string name, int[] values) =>
        new ProtoWriter().String(1, name).Varint(20, AttrInts).PackedInt64(8, values.Select(v => (long)v));

    static ProtoWriter Tensor(string name, long[] dims, float[] data)
    {
        var bytes = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);   // raw_data is little-endian, as this machine
        return new ProtoWriter().PackedInt64(1, dims).Varint(2, FloatType).String(8, name).Bytes(9, bytes);
    }

    static ProtoWriter ValueInfo(string name, long[] shape)
    {
        var dims = new ProtoWriter();
        foreach (var d in shape) dims.Message(1, new ProtoWriter().Varint(1, d));
        var tensorType = new ProtoWriter().Varint(1, FloatType).Message(2, dims);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }
}
