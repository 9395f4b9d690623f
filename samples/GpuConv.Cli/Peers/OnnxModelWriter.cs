using static GpuConv.Cli.Peers.OnnxMessages;

namespace GpuConv.Cli.Peers;

/// <summary>
/// Builds a one-node ONNX model holding a single Conv or ConvTranspose of any rank (weights and bias as
/// initializers). Both take weights as GpuConv's problems hold them: Conv [K, C/group, k…], ConvTranspose
/// [C_in, C_out/group, k…], which is the underlying convolution's [K, C/group, k…] again.
/// </summary>
internal static class OnnxConvModel
{
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
            .Message(5, Int("group", groups));
        if (outputPadding is not null) node.Message(5, Ints("output_padding", outputPadding));

        var graph = new ProtoWriter()
            .Message(1, node)
            .String(2, "gpuconv_peer")
            .Message(5, FloatTensor("W", wShape, weights));
        if (bias is not null) graph.Message(5, FloatTensor("B", [bias.Length], bias));
        graph.Message(11, FloatValueInfo("X", x)).Message(12, FloatValueInfo("Y", y));

        return Model(graph);
    }
}
