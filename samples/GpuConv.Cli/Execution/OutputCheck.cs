using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Cli.Execution;

/// <summary>
/// Judges a backend's output against the float64 <see cref="ReferenceConv"/>: in full for problems
/// small enough, or at random sampled output elements (forward only) for big ones.
/// </summary>
public static class OutputCheck
{
    /// <summary>Strict fp32 tolerance on the normwise max relative error (max|a − ref| / max|ref|).</summary>
    public const double StrictTolerance = 1e-4;

    /// <summary>Problems up to this many flops are compared element by element in full.</summary>
    public const double FullCheckFlops = 2e7;

    public static bool Passes(ErrorReport error) => error.MaxRelative <= StrictTolerance && !double.IsNaN(error.MaxRelative);

    /// <summary>The whole output of the problem's op against the reference.</summary>
    public static ErrorReport Full(ConvProblem p, HostTensor? x, HostTensor? w, HostTensor? y, HostTensor? bias, HostTensor actual)
    {
        var reference = ReferenceConv.Run(p, Data(x), Data(w), Data(y), Data(bias));
        return ErrorMetrics.Compare(actual.Data, reference);
    }

    /// <summary><paramref name="samples"/> random elements of a forward output against <see cref="ReferenceConv.ForwardAt"/>.</summary>
    public static ErrorReport SampledForward(ConvProblem p, HostTensor x, HostTensor w, HostTensor? bias, HostTensor actualY, int samples, int seed)
    {
        if (p.Op != ConvOp.Forward)
            throw new ArgumentException($"sampled checks exist for forward only, got {p.Op}.", nameof(p));
        var rng = new Random(seed);
        int count = (int)Math.Min(samples, actualY.Shape.ElementCount);
        var actual = new float[count];
        var reference = new double[count];
        for (int i = 0; i < count; i++)
        {
            long index = count == actualY.Shape.ElementCount ? i : rng.NextInt64(actualY.Shape.ElementCount);
            actual[i] = actualY.Data[index];
            reference[i] = ReferenceConv.ForwardAt(p, x.Data, w.Data, Data(bias), index);
        }
        return ErrorMetrics.Compare(actual, reference);
    }

    /// <summary>Full comparison for small problems, sampled (forward only) for big ones.</summary>
    public static (ErrorReport Error, string Method) Auto(ConvProblem p, HostTensor? x, HostTensor? w, HostTensor? y, HostTensor? bias, HostTensor actual, int samples, int seed)
    {
        if (p.Flops <= FullCheckFlops || p.Op != ConvOp.Forward)
            return (Full(p, x, w, y, bias, actual), "full");
        return (SampledForward(p, x!, w!, bias, actual, samples, seed), $"{samples} samples");
    }

    static ReadOnlySpan<float> Data(HostTensor? t) => t is null ? default : t.Data;
}
