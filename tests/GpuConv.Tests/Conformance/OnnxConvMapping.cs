using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Conformance;

/// <summary>
/// Maps an ONNX Conv / ConvTranspose node's attributes onto a <see cref="ConvSpec"/>
/// (transposed for ConvTranspose), following the operator definitions of opset 22.
/// </summary>
public static class OnnxConvMapping
{
    public static ConvSpec ToSpec(OnnxNode node, TensorShape input, TensorShape filter) => node.OpType switch
    {
        "Conv" => ConvSpecOf(node, input, filter),
        "ConvTranspose" => ConvTransposeSpecOf(node, input, filter),
        _ => throw new NotSupportedException($"op_type '{node.OpType}' is not a convolution."),
    };

    static ConvSpec ConvSpecOf(OnnxNode node, TensorShape input, TensorShape filter)
    {
        var (rank, kernel, strides, dilations, group) = Common(node, filter);
        string autoPad = node.String("auto_pad", "NOTSET");
        switch (autoPad)
        {
            case "SAME_UPPER": return ConvSpec.SameUpper(kernel, input.Spatial, strides, dilations, group);
            case "SAME_LOWER": return ConvSpec.SameLower(kernel, input.Spatial, strides, dilations, group);
            case "VALID": return ConvSpec.Valid(kernel, strides, dilations, group);
            case "NOTSET":
                var (begin, end) = ConvSpec.SplitOnnxPads(IntList(node, "pads") ?? new int[2 * rank], rank);
                return new ConvSpec(kernel, strides, dilations, begin, end, group);
            default: throw new NotSupportedException($"auto_pad '{autoPad}' is not an ONNX value.");
        }
    }

    static ConvSpec ConvTransposeSpecOf(OnnxNode node, TensorShape input, TensorShape filter)
    {
        var (rank, kernel, strides, dilations, group) = Common(node, filter);
        string autoPad = node.String("auto_pad", "NOTSET");
        int[] outputPadding = IntList(node, "output_padding") ?? new int[rank];
        int[]? outputShape = IntList(node, "output_shape");
        if (outputShape is not null && outputShape.Length == rank + 2) outputShape = outputShape[2..];
        int[] begin, end;
        if (outputShape is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            // ONNX: SAME_* targets output = input * stride; the padding needed to reach the target
            // is split with floor division (the extra goes to the end for SAME_UPPER, else to the begin);
            // a negative total (target larger than the natural output) lands at the end.
            begin = new int[rank];
            end = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                int inSize = input[2 + d];
                int target = outputShape?[d] ?? inSize * strides[d];
                int total = strides[d] * (inSize - 1) + outputPadding[d] + (kernel[d] - 1) * dilations[d] + 1 - target;
                int half = FloorDiv(total, 2);
                (begin[d], end[d]) = autoPad == "SAME_UPPER" ? (half, total - half) : (total - half, half);
            }
        }
        else if (autoPad == "VALID")
        {
            begin = new int[rank];
            end = new int[rank];
        }
        else
        {
            (begin, end) = ConvSpec.SplitOnnxPads(IntList(node, "pads") ?? new int[2 * rank], rank);
        }

        for (int d = 0; d < rank; d++)
        {
            if (begin[d] < 0)
                throw new NotSupportedException($"ConvTranspose needs negative begin padding {begin[d]} in dimension {d}; ConvSpec cannot express it.");
            if (end[d] < 0)
            {
                // Extra zeros-fed outputs at the end are exactly what output padding adds.
                outputPadding[d] -= end[d];
                end[d] = 0;
            }
        }
        return new ConvSpec(kernel, strides, dilations, begin, end, group, transposed: true, outputPadding);
    }

    static (int Rank, int[] Kernel, int[] Strides, int[] Dilations, int Group) Common(OnnxNode node, TensorShape filter)
    {
        int rank = filter.Rank - 2;
        int[] kernel = IntList(node, "kernel_shape") ?? filter.Spatial;
        int[] strides = IntList(node, "strides") ?? Ones(rank);
        int[] dilations = IntList(node, "dilations") ?? Ones(rank);
        int group = checked((int)node.Int("group", 1));
        return (rank, kernel, strides, dilations, group);
    }

    static int[]? IntList(OnnxNode node, string name) =>
        node.Ints(name) is { Length: > 0 } values ? values.Select(v => checked((int)v)).ToArray() : null;

    static int[] Ones(int rank) => Enumerable.Repeat(1, rank).ToArray();

    static int FloorDiv(int a, int b) => (int)Math.Floor(a / (double)b);
}
