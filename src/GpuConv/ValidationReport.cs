using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Reference;

namespace GpuConv;

/// <summary>How far a planned run was from the float64 reference on the same inputs.</summary>
public sealed record ValidationReport(ConvProblem Problem, Plan Plan, ErrorReport Error)
{
    /// <summary>Algorithm key, problem and errors on one line.</summary>
    public override string ToString() => $"{Plan.Algorithm.Key} on {Problem}: {Error}";
}
