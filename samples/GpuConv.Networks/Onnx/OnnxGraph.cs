using GpuConv.Cli.Peers;
using static GpuConv.Cli.Peers.OnnxMessages;
using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Tensors;

namespace GpuConv.Networks.Onnx;

/// <summary>
/// A whole network as one ONNX model (opset 17), written node by node with the CLI's <see cref="ProtoWriter"/>: the
/// operators the networks use — Conv with bias, Relu, Clip (ReLU6), HardSwish, HardSigmoid, Sigmoid, Mul, Add, MaxPool,
/// GlobalAveragePool, Transpose, LayerNormalization, Flatten, Gemm — weights as float initializers; GELU (ONNX's Gelu op needs opset 20) as formula
/// nodes of the operators torch 1.13's exporter writes for it at opset 17 (Div, Erf, Add, Mul; Mul, Add, Tanh for the
/// tanh form). Each method appends a node reading the named inputs and returns its output's name. <see cref="ConvBn"/>
/// folds BatchNorm with the same <see cref="BatchNormFolding"/> call as <see cref="DeviceNetwork"/>, so ONNX Runtime gets
/// the very weights GpuConv runs.
/// </summary>
public sealed class OnnxGraph
{
    public const string InputName = "input", OutputName = "logits";

    readonly ProtoWriter graph = new();
    readonly TensorShape inputShape;
    int nodes;
    string? zero, six;
    readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);

    /// <summary>A graph whose input "input" is [N, C, H, W] of <paramref name="inputShape"/>.</summary>
    public OnnxGraph(TensorShape inputShape)
    {
        this.inputShape = inputShape;
        Input = InputName;
    }

    /// <summary>The graph input's name.</summary>
    public string Input { get; }

    /// <summary>Nodes per operator, for the printout ("53 Conv, 49 Relu, …").</summary>
    public SortedDictionary<string, int> Operators { get; } = new(StringComparer.Ordinal);

    /// <summary>conv(x) + bias with <paramref name="c"/>'s BatchNorm folded in, as GpuConv's device network runs it.</summary>
    public string ConvBn(ConvBn c, string x)
    {
        var (w, b) = BatchNormFolding.Fold(c.Spec, c.Weight, bias: null, c.BatchNorm);
        return Conv(c.Name, c.Spec, w, b, x);
    }

    /// <summary>conv(x, weight) + bias, weight [K, C/groups, k…] as GpuConv holds it (ONNX's layout too).</summary>
    public string Conv(string name, ConvSpec spec, HostTensor weight, HostTensor bias, string x)
    {
        string w = Initializer($"{name}.weight", weight.Shape.Dims, weight.Data);
        string b = Initializer($"{name}.bias", [bias.Shape.ElementCountInt], bias.Data);
        return Node("Conv", name, [x, w, b],
            [Ints("kernel_shape", spec.Kernel), Ints("strides", spec.Stride), Ints("pads", [.. spec.PadBegin, .. spec.PadEnd]),
             Ints("dilations", spec.Dilation), Int("group", spec.Groups)]);
    }

    public string Relu(string x) => Node("Relu", null, [x]);

    /// <summary>ReLU6 as ONNX writes it: Clip with min 0 and max 6 (inputs since opset 11).</summary>
    public string Relu6(string x)
    {
        zero ??= Initializer("clip.min", [], [0f]);
        six ??= Initializer("clip.max", [], [6f]);
        return Node("Clip", null, [x, zero, six]);
    }

    public string Add(string a, string b) => Node("Add", null, [a, b]);

    /// <summary>x · min(max(x/6 + 0.5, 0), 1): ONNX's HardSwish (opset 14+), torch's hardswish as exporters write it.</summary>
    public string HardSwish(string x) => Node("HardSwish", null, [x]);

    /// <summary>min(max(x/6 + 0.5, 0), 1): HardSigmoid with torch's alpha 1/6 and beta 0.5 (ONNX's defaults are 0.2 and 0.5).</summary>
    public string HardSigmoid(string x) => Node("HardSigmoid", null, [x], [Float("alpha", 1f / 6), Float("beta", 0.5f)]);

    public string Sigmoid(string x) => Node("Sigmoid", null, [x]);

    /// <summary>a · b, broadcasting as ONNX does (numpy rules): a [N, C, H, W] times a gate [N, C, 1, 1].</summary>
    public string Mul(string a, string b) => Node("Mul", null, [a, b]);

    /// <summary>x · sigmoid(x) as exporters write SiLU at opset 17: Sigmoid then Mul.</summary>
    public string Silu(string x) => Mul(x, Sigmoid(x));

    /// <summary>
    /// x·Φ(x), GELU (approximate='none'), at opset 17 (ONNX's Gelu op needs 20): (x · (Erf(x / √2) + 1)) · 0.5.
    /// </summary>
    public string Gelu(string x)
    {
        string erf = Node("Erf", null, [Node("Div", null, [x, Constant("gelu.sqrt2", MathF.Sqrt(2f))])]);
        return Mul(Mul(x, Add(erf, Constant("gelu.one", 1f))), Constant("gelu.half", 0.5f));
    }

    /// <summary>
    /// GELU's tanh form at opset 17: (x · 0.5) · (1 + Tanh(√(2/π) · (x + 0.044715 · x³))), x³ as x · (x · x).
    /// </summary>
    public string GeluTanh(string x)
    {
        string cube = Mul(x, Mul(x, x));
        string inner = Mul(Constant("gelu.sqrt2overpi", MathF.Sqrt(2f / MathF.PI)), Add(x, Mul(Constant("gelu.kappa", 0.044715f), cube)));
        return Mul(Mul(x, Constant("gelu.half", 0.5f)), Add(Constant("gelu.one", 1f), Node("Tanh", null, [inner])));
    }

    /// <summary>
    /// x · gate(expand(inner(reduce(GlobalAveragePool(x))))) (<see cref="SqueezeExcitation"/>): GlobalAveragePool, Conv +
    /// Relu or SiLU, Conv, HardSigmoid or Sigmoid, Mul.
    /// </summary>
    public string SqueezeExcite(SqueezeExcitation se, string x)
    {
        var h = Conv($"{se.Name}.fc1", SqueezeExcitation.Spec, se.ReduceWeight, se.ReduceBias, GlobalAveragePool(x));
        h = se.Inner switch
        {
            Activation.Relu => Relu(h),
            Activation.Silu => Silu(h),
            _ => throw new ArgumentException($"se.Inner: ReLU or SiLU are written, got {se.Inner}.", nameof(se)),
        };
        h = Conv($"{se.Name}.fc2", SqueezeExcitation.Spec, se.ExpandWeight, se.ExpandBias, h);
        return Mul(x, se.Gate == SqueezeGate.Hardsigmoid ? HardSigmoid(h) : Sigmoid(h));
    }

    /// <summary>The node for a layer's activation: Relu, Relu6 (Clip), SiLU (Sigmoid and Mul), HardSwish or GELU (<see cref="Gelu"/>, <see cref="GeluTanh"/>).</summary>
    public string Activate(Activation activation, string x) => activation switch
    {
        Activation.Relu => Relu(x),
        Activation.Relu6 => Relu6(x),
        Activation.Silu => Silu(x),
        Activation.Hardswish => HardSwish(x),
        Activation.Gelu => Gelu(x),
        Activation.GeluTanh => GeluTanh(x),
        _ => throw new ArgumentException($"activation: ReLU, ReLU6, SiLU, hardswish or GELU are written, got {activation}.", nameof(activation)),
    };

    /// <summary>Max pooling (−∞ padding, as ONNX's MaxPool pads).</summary>
    public string MaxPool(PoolSpec spec, string x)
    {
        if (spec.CeilMode) throw new ArgumentException($"spec: ceil mode is not written (the networks use floor), got {spec}.", nameof(spec));
        int[] r = [.. Enumerable.Range(0, spec.Rank)];
        return Node("MaxPool", null, [x], [Ints("kernel_shape", spec.Kernel), Ints("strides", [.. r.Select(spec.StrideOf)]),
            Ints("pads", [.. r.Select(spec.PaddingOf), .. r.Select(spec.PaddingOf)]), Ints("dilations", [.. r.Select(spec.DilationOf)])]);
    }

    public string GlobalAveragePool(string x) => Node("GlobalAveragePool", null, [x]);

    /// <summary>
    /// A channels-first LayerNorm on [N, C, H, W] (<see cref="ConvNeXt.ChannelNorm"/>) as torch's exporter writes
    /// timm's LayerNorm2d: Transpose to [N, H, W, C], LayerNormalization over the last axis (opset 17) with the weight
    /// and bias, Transpose back.
    /// </summary>
    public string ChannelLayerNorm(ConvNeXt.ChannelNorm norm, string x)
    {
        string w = Initializer($"{norm.Name}.weight", [norm.Channels], norm.Weight.Data);
        string b = Initializer($"{norm.Name}.bias", [norm.Channels], norm.Bias.Data);
        string last = Node("Transpose", null, [x], [Ints("perm", [0, 2, 3, 1])]);
        string y = Node("LayerNormalization", norm.Name, [last, w, b], [Int("axis", -1), Float("epsilon", (float)ConvNeXt.ChannelNorm.Spec.Epsilon)]);
        return Node("Transpose", null, [y], [Ints("perm", [0, 3, 1, 2])]);
    }

    /// <summary>
    /// The classifier on [N, C, 1, 1]: Flatten to [N, C], then Gemm with weight [classes, C] (transB = 1) + bias —
    /// what GpuConv runs as a 1×1 convolution on the same data (its weight [classes, C, 1, 1] is the same floats). Its
    /// output is the graph's output, "logits" [N, classes]: the last node.
    /// </summary>
    public string Classifier(string name, HostTensor weight, HostTensor bias, string x)
    {
        int classes = weight.Shape.Dims[0];
        string w = Initializer($"{name}.weight", [classes, weight.Shape.ElementCountInt / classes], weight.Data);
        string b = Initializer($"{name}.bias", [classes], bias.Data);
        string flat = Node("Flatten", null, [x], [Int("axis", 1)]);
        Classes = classes;
        return Node("Gemm", name, [flat, w, b], [Int("transB", 1)], output: OutputName);
    }

    /// <summary>The classifier's outputs (set by <see cref="Classifier"/>).</summary>
    public int Classes { get; private set; }

    /// <summary>The model: the graph, its input and its output "logits" [N, classes] (written by <see cref="Classifier"/>).</summary>
    public byte[] ToModel()
    {
        if (Classes == 0) throw new InvalidOperationException("the graph has no classifier: nothing writes its output 'logits'.");
        graph.String(2, "gpuconv_network")
            .Message(11, FloatValueInfo(Input, [.. inputShape.Dims.Select(d => (long)d)]))
            .Message(12, FloatValueInfo(OutputName, [inputShape.Dims[0], Classes]));
        return Model(graph);
    }

    /// <summary>Appends a node; its output is <paramref name="output"/> or a new name "tN"; its name <paramref name="name"/> or "op_N".</summary>
    string Node(string op, string? name, string[] inputs, ProtoWriter[]? attributes = null, string? output = null)
    {
        output ??= $"t{nodes}";
        var node = new ProtoWriter();
        foreach (var i in inputs) node.String(1, i);
        node.String(2, output).String(3, name ?? $"{op.ToLowerInvariant()}_{nodes}").String(4, op);
        foreach (var a in attributes ?? []) node.Message(5, a);
        graph.Message(1, node);
        nodes++;
        Operators[op] = Operators.GetValueOrDefault(op) + 1;
        return output;
    }

    /// <summary>A scalar initializer, written once per name.</summary>
    string Constant(string name, float value)
    {
        if (!constants.TryGetValue(name, out var written)) constants[name] = written = Initializer(name, [], [value]);
        return written;
    }

    string Initializer(string name, IReadOnlyList<int> dims, float[] data)
    {
        graph.Message(5, FloatTensor(name, dims.Select(d => (long)d), data));
        return name;
    }
}
