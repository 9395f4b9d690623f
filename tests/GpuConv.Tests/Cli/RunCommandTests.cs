using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv run` on .npy files must reproduce PyTorch's F.conv*d / F.conv_transpose*d for each
/// parameter: against the float64 reference on random data, and against values worked out by hand.
/// </summary>
public class RunCommandTests
{
    /// <summary>One run case: CLI flags and the spec PyTorch would be given for the same call.</summary>
    public sealed record Case(string Name, int[] X, int[] W, bool Bias, string[] Flags, ConvSpec Spec)
    {
        public override string ToString() => Name;
    }

    static IEnumerable<Case> Cases() =>
    [
        new("stride", [2, 3, 9, 8], [4, 3, 3, 3], false, ["--stride", "2,3"], new ConvSpec([3, 3], stride: [2, 3])),
        new("symmetric pad", [1, 3, 6, 6], [2, 3, 3, 3], false, ["--pad", "1,2"], new ConvSpec([3, 3], padBegin: [1, 2])),
        new("asymmetric pads", [1, 2, 7, 6], [3, 2, 3, 2], false, ["--pads", "0,1,2,0"], new ConvSpec([3, 2], padBegin: [0, 1], padEnd: [2, 0])),
        new("dilation", [1, 3, 11, 10], [2, 3, 3, 3], false, ["--dilation", "2,3", "--pads", "1"], new ConvSpec([3, 3], dilation: [2, 3], padBegin: [1])),
        new("groups", [2, 6, 7, 7], [4, 3, 3, 3], false, ["--groups", "2"], new ConvSpec([3, 3], groups: 2)),
        new("depthwise", [1, 5, 8, 8], [10, 1, 3, 3], true, ["--groups", "5", "--pad", "1"], new ConvSpec([3, 3], padBegin: [1], groups: 5)),
        new("bias", [2, 3, 5, 5], [6, 3, 2, 2], true, [], new ConvSpec([2, 2])),
        new("transposed output_padding", [2, 4, 5, 4], [4, 3, 3, 3], true, ["--transposed", "--stride", "2", "--pad", "1", "--output-padding", "1,0"],
            new ConvSpec([3, 3], stride: [2], padBegin: [1], transposed: true, outputPadding: [1, 0])),
        new("transposed asymmetric pads", [1, 3, 5, 6], [3, 2, 3, 2], true, ["--transposed", "--stride", "2,3", "--pads", "0,1,2,0", "--output-padding", "1,2"],
            new ConvSpec([3, 2], stride: [2, 3], padBegin: [0, 1], padEnd: [2, 0], transposed: true, outputPadding: [1, 2])),
        new("transposed groups dilation", [1, 4, 6], [4, 2, 3], false, ["--transposed", "--groups", "2", "--dilation", "2", "--stride", "3", "--output-padding", "2"],
            new ConvSpec([3], stride: [3], dilation: [2], groups: 2, transposed: true, outputPadding: [2])),
        // F.conv2d(padding='same'): total d·(k − 1) per dimension, the odd extra at the end (3 = 1 + 2 here, both dimensions).
        new("pad same", [1, 2, 9, 10], [3, 2, 4, 2], true, ["--pad", "same", "--dilation", "1,3"],
            new ConvSpec([4, 2], dilation: [1, 3], padBegin: [1, 1], padEnd: [2, 2])),
        new("pad valid", [1, 2, 9, 10], [3, 2, 3, 3], false, ["--pad", "VALID", "--stride", "2"], new ConvSpec([3, 3], stride: [2])),
        new("1d", [3, 2, 17], [5, 2, 4], true, ["--stride", "2", "--pads", "3,1"], new ConvSpec([4], stride: [2], padBegin: [3], padEnd: [1])),
        new("3d", [1, 2, 5, 6, 4], [3, 2, 3, 2, 2], true, ["--stride", "1,2,1", "--pads", "1,0,1,0,1,0", "--dilation", "1,1,2"],
            new ConvSpec([3, 2, 2], stride: [1, 2, 1], dilation: [1, 1, 2], padBegin: [1, 0, 1], padEnd: [0, 1, 0])),
    ];

    [TestCaseSource(nameof(Cases))]
    public void MatchesTheFloat64Reference(Case c)
    {
        using var h = new CliHarness();
        var x = HostTensor.Random(new TensorShape(c.X), seed: 1);
        var w = HostTensor.Random(new TensorShape(c.W), seed: 2);
        var problem = ConvProblem.Create(c.Spec, x.Shape, w.Shape);
        var b = c.Bias ? HostTensor.Random(new TensorShape(problem.BiasLength), seed: 3) : null;
        var args = new List<string> { "run", "--x", h.Save("x.npy", x), "--w", h.Save("w.npy", w), "--out", h.Path("y.npy") };
        if (b is not null) args.AddRange(["--b", h.Save("b.npy", b)]);
        args.AddRange(c.Flags);

        var (exit, output, error) = CliHarness.Invoke([.. args]);

        Assert.That(exit, Is.EqualTo(0), error);
        var y = NpyFile.Read(h.Path("y.npy"));
        Assert.That(y.Shape, Is.EqualTo(problem.OutputShape));
        // A transposed convolution is backward-data of the underlying convolution: its input is dy.
        var reference = c.Spec.Transposed
            ? ReferenceConv.BackwardData(problem, x.Data, w.Data, b is null ? default : b.Data)
            : ReferenceConv.Forward(problem, x.Data, w.Data, b is null ? default : b.Data);
        Assert.That(ErrorMetrics.Compare(y.Data, reference).MaxRelative, Is.LessThan(1e-6));
        Assert.That(output, Does.Contain("backend:").And.Contain("algorithm:").And.Contain($"output:    {y.Shape}").And.Contain(" ms"));
    }

    static float[] RunOn(float[] xValues, int[] xDims, float[] wValues, int[] wDims, params string[] flags) => RunOn(xValues, xDims, wValues, wDims, null, flags).Data;

    static HostTensor RunOn(float[] xValues, int[] xDims, float[] wValues, int[] wDims, float[]? bias, params string[] flags)
    {
        using var h = new CliHarness();
        var args = new List<string>
        {
            "run", "--x", h.Save("x.npy", new HostTensor(new TensorShape(xDims), xValues)),
            "--w", h.Save("w.npy", new HostTensor(new TensorShape(wDims), wValues)), "--out", h.Path("y.npy"),
        };
        if (bias is not null) args.AddRange(["--b", h.Save("b.npy", new HostTensor(new TensorShape(bias.Length), bias))]);
        args.AddRange(flags);
        var (exit, _, error) = CliHarness.Invoke([.. args]);
        Assert.That(exit, Is.EqualTo(0), error);
        return NpyFile.Read(h.Path("y.npy"));
    }

    static readonly float[] X3x3 = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    static readonly float[] W2x2 = [1, 2, 3, 4];

    [Test]
    public void HandWorked2dCorrelation() =>
        // y[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on: cross-correlation, the filter is not flipped.
        Assert.That(RunOn(X3x3, [1, 1, 3, 3], W2x2, [1, 1, 2, 2]), Is.EqualTo(new float[] { 37, 47, 67, 77 }));

    [Test]
    public void HandWorkedStrideWithPadding() =>
        // Padded input is 5x5 with a zero border; stride 2 visits rows/cols {-1,0} and {1,2}:
        // y00 = 4*x00 = 4; y01 = 3*x01 + 4*x02 = 18; y10 = 2*x10 + 4*x20 = 36; y11 = 5 + 12 + 24 + 36 = 77.
        Assert.That(RunOn(X3x3, [1, 1, 3, 3], W2x2, [1, 1, 2, 2], "--stride", "2", "--pad", "1"), Is.EqualTo(new float[] { 4, 18, 36, 77 }));

    [Test]
    public void HandWorkedAsymmetricPads()
    {
        // x = [1,2,3,4], w = [1,10]; pads (1 before, 0 after) gives [0,1,2,3,4] -> [10, 21, 32, 43].
        Assert.That(RunOn([1, 2, 3, 4], [1, 1, 4], [1, 10], [1, 1, 2], "--pads", "1,0"), Is.EqualTo(new float[] { 10, 21, 32, 43 }));
        // pads (0 before, 2 after) gives [1,2,3,4,0,0] -> [21, 32, 43, 4, 0].
        Assert.That(RunOn([1, 2, 3, 4], [1, 1, 4], [1, 10], [1, 1, 2], "--pads", "0,2"), Is.EqualTo(new float[] { 21, 32, 43, 4, 0 }));
    }

    [Test]
    public void HandWorkedDilation() =>
        // Taps two apart: y[i] = x[i] + 10*x[i+2] -> [31, 42, 53].
        Assert.That(RunOn([1, 2, 3, 4, 5], [1, 1, 5], [1, 10], [1, 1, 2], "--dilation", "2"), Is.EqualTo(new float[] { 31, 42, 53 }));

    [Test]
    public void HandWorkedGroups() =>
        // Two groups of one channel each: y = [3*1, 5*2] (no mixing across channels).
        Assert.That(RunOn([1, 2], [1, 2, 1], [3, 5], [2, 1, 1], "--groups", "2"), Is.EqualTo(new float[] { 3, 10 }));

    [Test]
    public void HandWorkedTransposedAsymmetricPadsCropTheFullOutput()
    {
        // Full transposed output of x = [1,2] with w = [1,10] is [1, 12, 20]; padding crops it
        // (PyTorch's padding, and ONNX ConvTranspose pads): begin 1 drops the first, end 1 the last.
        Assert.That(RunOn([1, 2], [1, 1, 2], [1, 10], [1, 1, 2], "--transposed"), Is.EqualTo(new float[] { 1, 12, 20 }));
        Assert.That(RunOn([1, 2], [1, 1, 2], [1, 10], [1, 1, 2], "--transposed", "--pads", "1,0"), Is.EqualTo(new float[] { 12, 20 }));
        Assert.That(RunOn([1, 2], [1, 1, 2], [1, 10], [1, 1, 2], "--transposed", "--pads", "0,1"), Is.EqualTo(new float[] { 1, 12 }));
    }

    [Test]
    public void HandWorkedTransposedWithOutputPaddingAndBias()
    {
        // Stride 2 scatters x[i,j]*w into the 2x2 block at (2i, 2j); output_padding adds a row and a
        // column that only the bias reaches (size (2-1)*2 + 2 + 1 = 5).
        var y = RunOn([1, 2, 3, 4], [1, 1, 2, 2], W2x2, [1, 1, 2, 2], [0.5f], "--transposed", "--stride", "2", "--output-padding", "1");
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(1, 1, 5, 5)));
        float[] expected =
        [
            1, 2, 2, 4, 0,
            3, 4, 6, 8, 0,
            3, 6, 4, 8, 0,
            9, 12, 12, 16, 0,
            0, 0, 0, 0, 0,
        ];
        Assert.That(y.Data, Is.EqualTo(expected.Select(v => v + 0.5f).ToArray()));
    }
}
