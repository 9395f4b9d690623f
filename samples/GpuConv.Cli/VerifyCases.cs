using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>One problem <c>gpuconv verify</c> checks (on every op it lists).</summary>
public sealed record VerifyCase(string Name, ConvProblem Problem, bool WithBias);

/// <summary>
/// The built-in verification set: small problems that between them cover 1-d, 2-d and 3-d, groups,
/// depthwise, stride, dilation, asymmetric padding and transposed convolution, each on all three ops.
/// </summary>
public static class VerifyCases
{
    static readonly ConvOp[] AllOps = [ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter];

    public static IReadOnlyList<VerifyCase> BuiltIn()
    {
        var bases = new (string Name, ConvSpec Spec, int[] Input, int[] Filter)[]
        {
            ("1d k3 pad1", new ConvSpec([3], padBegin: [1]), [2, 3, 11], [4, 3, 3]),
            ("1d s2 d2 pads1-2", new ConvSpec([3], stride: [2], dilation: [2], padBegin: [1], padEnd: [2]), [2, 3, 13], [4, 3, 3]),
            ("2d k3 pad1", new ConvSpec([3, 3], padBegin: [1]), [2, 3, 8, 8], [4, 3, 3, 3]),
            ("2d s2 pad1", new ConvSpec([3, 3], stride: [2], padBegin: [1]), [1, 4, 9, 9], [6, 4, 3, 3]),
            ("2d dilation2", new ConvSpec([3, 3], dilation: [2], padBegin: [2]), [1, 3, 10, 10], [5, 3, 3, 3]),
            ("2d asym pads", new ConvSpec([3, 2], padBegin: [0, 1], padEnd: [2, 0]), [1, 2, 7, 6], [3, 2, 3, 2]),
            ("2d rect k1x5 s1x2", new ConvSpec([1, 5], stride: [1, 2], padBegin: [0, 2]), [2, 3, 4, 12], [4, 3, 1, 5]),
            ("2d groups2", new ConvSpec([3, 3], groups: 2), [2, 4, 6, 6], [6, 2, 3, 3]),
            ("2d depthwise", new ConvSpec([3, 3], padBegin: [1], groups: 8), [1, 8, 7, 7], [8, 1, 3, 3]),
            ("2d depthwise x2", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 4), [1, 4, 6, 6], [8, 1, 3, 3]),
            ("2d pointwise", new ConvSpec([1, 1]), [2, 16, 5, 5], [8, 16, 1, 1]),
            ("3d k3 pad1", new ConvSpec([3, 3, 2], padBegin: [1, 1, 0]), [1, 2, 5, 6, 4], [3, 2, 3, 3, 2]),
            ("3d s2 groups2", new ConvSpec([3, 3, 3], stride: [2], padBegin: [1], groups: 2), [1, 4, 6, 6, 6], [4, 2, 3, 3, 3]),
            ("2d transposed s2 op1", new ConvSpec([3, 3], stride: [2], padBegin: [1], transposed: true, outputPadding: [1]), [1, 4, 5, 5], [4, 3, 3, 3]),
            ("1d transposed g2 d2", new ConvSpec([3], dilation: [2], groups: 2, transposed: true), [2, 4, 7], [4, 2, 3]),
            ("3d transposed s2", new ConvSpec([2, 2, 2], stride: [2], transposed: true), [1, 2, 3, 3, 3], [2, 3, 2, 2, 2]),
        };
        var cases = new List<VerifyCase>();
        for (int i = 0; i < bases.Length; i++)
        {
            var (name, spec, input, filter) = bases[i];
            var problem = ConvProblem.Create(spec, new TensorShape(input), new TensorShape(filter));
            foreach (var op in AllOps)
                // Bias on every other case, so both paths (with and without) are exercised.
                cases.Add(new VerifyCase(name, problem.WithOp(op), WithBias: op != ConvOp.BackwardFilter && i % 2 == 0));
        }
        return cases;
    }

    /// <summary>
    /// The rows of a shape set: the layer's forward pass always (backward data of a transposed row), the
    /// other ops too when small; batch capped.
    /// </summary>
    public static IReadOnlyList<VerifyCase> FromShapes(ShapeSet set, int maxBatch)
    {
        if (maxBatch < 1)
            throw new ArgumentException($"--max-batch: must be >= 1, got {maxBatch}.", "--max-batch");
        var cases = new List<VerifyCase>();
        foreach (var row in set.Rows)
        {
            var problem = row.Problem.WithBatch(Math.Min(row.Problem.N, maxBatch));
            cases.Add(new VerifyCase(row.Name, problem, WithBias: true));
            if (problem.Flops <= Execution.OutputCheck.FullCheckFlops)
                foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter }.Where(o => o != problem.Op))
                    cases.Add(new VerifyCase(row.Name, problem.WithOp(op), WithBias: false));
        }
        return cases;
    }
}
