using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Fused;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// MobileNetV2's inverted residual block as one call (torchvision's InvertedResidual; MobileNetV3's and EfficientNet's
/// blocks without their squeeze-and-excitation): expand 1×1, depthwise, project 1×1, BatchNorm folded into each. On the
/// CPU engine the block runs in bands of output rows (<see cref="InvertedResidualBands"/>) where its expanded tensor
/// would not stay in cache, so that tensor and the depthwise output never exist whole; elsewhere (a GPU, a forced
/// backend, a geometry the band kernel does not take, small planes) it is the three layers' own calls on the stream.
/// </summary>
public sealed partial class ConvEngine
{
    static readonly ConvSpec PointwiseSpec = new([1, 1]);

    /// <summary>
    /// Expanded tensors per image below this many floats run as three calls on the CPU engine too: they stay in cache
    /// between the layers, and each layer's own planned kernel is at least as fast.
    /// </summary>
    internal const long DefaultBandedMinExpandedFloats = 128 * 1024;

    /// <summary><see cref="DefaultBandedMinExpandedFloats"/>; the tests set 0 to band small blocks too.</summary>
    internal static long BandedMinExpandedFloats { get; set; } = DefaultBandedMinExpandedFloats;

    /// <summary>Whether the last <see cref="ForwardInvertedResidual"/> ran the CPU band kernel (for the tests).</summary>
    internal bool LastInvertedResidualBanded { get; private set; }

    /// <summary>
    /// y = project(act(depthwise(act(expand(x))))) (+ x when <paramref name="residual"/>) on tensors in
    /// <see cref="Memory"/>, each layer with its bias; the projection is linear. x is [N, C, H, W];
    /// <paramref name="expandWeight"/> [E, C, 1, 1] and <paramref name="expandBias"/> [E], or both null for a block
    /// without expansion (E = C); <paramref name="depthwise"/> a 2-d spec with groups = E, its weight [E, 1, kh, kw] and
    /// bias [E]; <paramref name="projectWeight"/> [C_out, E, 1, 1] and <paramref name="projectBias"/> [C_out].
    /// <paramref name="residual"/> adds x (needs stride 1 and C_out = C). Into <paramref name="output"/> (no memory shared
    /// with x or the weights) or a new tensor; returns it. The weights are taken as constant between calls (inference:
    /// <c>constantWeights: true</c> of the layer calls). The result matches the three layers called one by one to
    /// rounding (the CPU band kernel sums in its own order).
    /// </summary>
    public Tensor ForwardInvertedResidual(Tensor x, Tensor? expandWeight, Tensor? expandBias,
        ConvSpec depthwise, Tensor depthwiseWeight, Tensor depthwiseBias,
        Tensor projectWeight, Tensor projectBias, Activation activation, bool residual = false, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(depthwise);
        ArgumentNullException.ThrowIfNull(depthwiseWeight);
        ArgumentNullException.ThrowIfNull(depthwiseBias);
        ArgumentNullException.ThrowIfNull(projectWeight);
        ArgumentNullException.ThrowIfNull(projectBias);
        if (!IsActivation(activation))
            throw new ArgumentException($"activation {(int)activation} is not an Activation.", nameof(activation));
        var (expand, dw, project) = CheckInvertedResidual(x, expandWeight, expandBias, depthwise, depthwiseWeight, depthwiseBias,
            projectWeight, projectBias, residual);
        return RunBlock(x, expandWeight, expandBias, depthwise, depthwiseWeight, depthwiseBias, projectWeight, projectBias, activation,
            residual, output, expand, dw, project.YShape);
    }

    /// <summary>
    /// y = act(depthwise(act(expand(x)))) on tensors in <see cref="Memory"/>, each layer with its bias: the part of an
    /// inverted residual block before its squeeze-and-excitation (EfficientNet's MBConv, MobileNetV3's blocks with one),
    /// which needs the whole depthwise output before the projection can start. Shapes as
    /// <see cref="ForwardInvertedResidual"/>'s; y is [N, E, OutH, OutW]. On the CPU engine the expanded tensor never
    /// exists whole where it would leave the cache (the same band kernel, writing the depthwise rows into y); elsewhere
    /// the two layers' calls. Into <paramref name="output"/> (no memory shared with x or the weights) or a new tensor.
    /// </summary>
    public Tensor ForwardExpandDepthwise(Tensor x, Tensor expandWeight, Tensor expandBias,
        ConvSpec depthwise, Tensor depthwiseWeight, Tensor depthwiseBias, Activation activation, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(expandWeight);
        ArgumentNullException.ThrowIfNull(expandBias);
        ArgumentNullException.ThrowIfNull(depthwise);
        ArgumentNullException.ThrowIfNull(depthwiseWeight);
        ArgumentNullException.ThrowIfNull(depthwiseBias);
        if (!IsActivation(activation))
            throw new ArgumentException($"activation {(int)activation} is not an Activation.", nameof(activation));
        var (expand, dw) = CheckExpandDepthwise(x, expandWeight, expandBias, depthwise, depthwiseWeight, depthwiseBias);
        return RunBlock(x, expandWeight, expandBias, depthwise, depthwiseWeight, depthwiseBias, null, null, activation, residual: false,
            output, expand, dw, dw.YShape);
    }

    /// <summary>
    /// The block (without a projection when <paramref name="projectWeight"/> is null) into <paramref name="output"/>, checked
    /// first against every input, or a new tensor of <paramref name="outputShape"/>: the band kernel where it applies, else
    /// the layers' own calls.
    /// </summary>
    Tensor RunBlock(Tensor x, Tensor? expandWeight, Tensor? expandBias, ConvSpec depthwise, Tensor depthwiseWeight, Tensor depthwiseBias,
        Tensor? projectWeight, Tensor? projectBias, Activation activation, bool residual, Tensor? output,
        ConvProblem? expand, ConvProblem dw, TensorShape outputShape)
    {
        if (output is not null)
        {
            CheckTensorShape(output, outputShape, nameof(output));
            CheckResident(output, nameof(output));
            // One by one, not over an array: a warm call allocates nothing.
            CheckDisjoint(output, nameof(output), x, nameof(x));
            if (expandWeight is not null) CheckDisjoint(output, nameof(output), expandWeight, nameof(expandWeight));
            if (expandBias is not null) CheckDisjoint(output, nameof(output), expandBias, nameof(expandBias));
            CheckDisjoint(output, nameof(output), depthwiseWeight, nameof(depthwiseWeight));
            CheckDisjoint(output, nameof(output), depthwiseBias, nameof(depthwiseBias));
            if (projectWeight is not null) CheckDisjoint(output, nameof(output), projectWeight, nameof(projectWeight));
            if (projectBias is not null) CheckDisjoint(output, nameof(output), projectBias, nameof(projectBias));
        }
        var result = output ?? Memory.Allocate(outputShape);
        try
        {
            LastInvertedResidualBanded = BandedApplies(x, dw, out var geometry);
            if (LastInvertedResidualBanded)
                RunBanded(x, expandWeight, expandBias, depthwiseWeight, depthwiseBias, projectWeight, projectBias, activation,
                    residual, result, dw, geometry);
            else
                RunLayerByLayer(x, expandWeight, expandBias, depthwise, depthwiseWeight, depthwiseBias, projectWeight, projectBias,
                    activation, residual, result, expand, dw);
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>The three layers' problems, every shape and residency checked before any work.</summary>
    (ConvProblem? Expand, ConvProblem Depthwise, ConvProblem Project) CheckInvertedResidual(Tensor x, Tensor? expandWeight, Tensor? expandBias,
        ConvSpec depthwise, Tensor depthwiseWeight, Tensor depthwiseBias, Tensor projectWeight, Tensor projectBias, bool residual)
    {
        var (expand, dw) = CheckExpandDepthwise(x, expandWeight, expandBias, depthwise, depthwiseWeight, depthwiseBias);
        CheckResident(projectWeight, nameof(projectWeight));
        CheckResident(projectBias, nameof(projectBias));
        int e = dw.XShape[1];
        if (projectWeight.Shape.Rank != 4 || projectWeight.Shape[2] != 1 || projectWeight.Shape[3] != 1)
            throw new ArgumentException($"projectWeight has shape {projectWeight.Shape}; it must be [C_out, {e}, 1, 1].", nameof(projectWeight));
        var project = Problem(PointwiseSpec, dw.YShape, projectWeight.Shape, ConvOp.Forward, nameof(depthwiseWeight), nameof(projectWeight));
        CheckChannelValues(projectBias, project.BiasLength, nameof(projectBias));
        if (residual && project.YShape != x.Shape)
            throw new ArgumentException($"residual needs the block's output shape to equal x's ({x.Shape}), got {project.YShape} (depthwise stride {string.Join("x", depthwise.Stride)}, projection to {projectWeight.Shape[0]} channels).", nameof(residual));
        return (expand, dw, project);
    }

    /// <summary>The expansion's and the depthwise layer's problems, every shape and residency checked before any work.</summary>
    (ConvProblem? Expand, ConvProblem Depthwise) CheckExpandDepthwise(Tensor x, Tensor? expandWeight, Tensor? expandBias,
        ConvSpec depthwise, Tensor depthwiseWeight, Tensor depthwiseBias)
    {
        if (x.Shape.Rank != 4)
            throw new ArgumentException($"x has shape {x.Shape}; an inverted residual block takes [N, C, H, W].", nameof(x));
        if ((expandWeight is null) != (expandBias is null))
            throw new ArgumentException($"expandWeight is {(expandWeight is null ? "null" : "given")} and expandBias is {(expandBias is null ? "null" : "given")}: give both (a block with expansion) or neither.",
                expandWeight is null ? nameof(expandWeight) : nameof(expandBias));
        if (depthwise.Rank != 2 || depthwise.Transposed)
            throw new ArgumentException($"depthwise must be a 2-d convolution spec, got rank {depthwise.Rank}{(depthwise.Transposed ? ", transposed" : "")}.", nameof(depthwise));
        CheckResident(x, nameof(x));
        if (expandWeight is not null) CheckResident(expandWeight, nameof(expandWeight));
        if (expandBias is not null) CheckResident(expandBias, nameof(expandBias));
        CheckResident(depthwiseWeight, nameof(depthwiseWeight));
        CheckResident(depthwiseBias, nameof(depthwiseBias));
        ConvProblem? expand = null;
        var h = x.Shape;
        if (expandWeight is not null)
        {
            if (expandWeight.Shape.Rank != 4 || expandWeight.Shape[2] != 1 || expandWeight.Shape[3] != 1)
                throw new ArgumentException($"expandWeight has shape {expandWeight.Shape}; it must be [E, {x.Shape[1]}, 1, 1].", nameof(expandWeight));
            expand = Problem(PointwiseSpec, x.Shape, expandWeight.Shape, ConvOp.Forward, nameof(x), nameof(expandWeight));
            CheckChannelValues(expandBias!, expand.BiasLength, nameof(expandBias));
            h = expand.YShape;
        }
        int e = h[1];
        if (depthwise.Groups != e)
            throw new ArgumentException($"depthwise has groups = {depthwise.Groups}; a depthwise layer on {e} channels (the {(expand is null ? "input's" : "expansion's")}) needs groups = {e}.", nameof(depthwise));
        if (depthwiseWeight.Shape.Rank != 4 || depthwiseWeight.Shape[0] != e || depthwiseWeight.Shape[1] != 1)
            throw new ArgumentException($"depthwiseWeight has shape {depthwiseWeight.Shape}; it must be [{e}, 1, kh, kw].", nameof(depthwiseWeight));
        var dw = Problem(depthwise, h, depthwiseWeight.Shape, ConvOp.Forward, expand is null ? nameof(x) : nameof(expandWeight), nameof(depthwiseWeight));
        CheckChannelValues(depthwiseBias, e, nameof(depthwiseBias));
        return (expand, dw);
    }

    static void CheckChannelValues(Tensor t, long length, string name)
    {
        if (t.Shape.Rank != 1 || t.Shape[0] != length)
            throw new ArgumentException($"{name} must have shape [{length}] (one value per channel), got {t.Shape}.", name);
    }

    /// <summary>
    /// Whether the CPU band kernel runs the block: host tensors on an engine with the CPU backend (not forced to
    /// another), zero padding, a depthwise geometry it takes, and an expanded tensor too large to stay in cache.
    /// </summary>
    bool BandedApplies(Tensor x, ConvProblem dw, out ConvGeometry geometry)
    {
        geometry = ConvGeometry.Of(dw);
        if (cpuBackends.Length == 0 || x is not HostTensor || Options.Backend is { } forced && forced != CpuBackend.BackendName)
            return false;
        if (dw.Spec.HasPaddingMode) return false;
        long expandedFloats = (long)dw.XShape[1] * dw.XShape[2] * dw.XShape[3];
        if (expandedFloats < BandedMinExpandedFloats) return false;
        return InvertedResidualBands.Applies(geometry, dw.XShape[1], cpuBackends[0].Tier);
    }

    /// <summary>The CPU band kernel; without <paramref name="projectWeight"/> y is the depthwise output.</summary>
    unsafe void RunBanded(Tensor x, Tensor? expandWeight, Tensor? expandBias, Tensor depthwiseWeight, Tensor depthwiseBias,
        Tensor? projectWeight, Tensor? projectBias, Activation activation, bool residual, Tensor y, ConvProblem dw, ConvGeometry geometry)
    {
        var cpu = cpuBackends[0];
        float[] hx = HostValues(x)!, hdw = HostValues(depthwiseWeight)!, hdb = HostValues(depthwiseBias)!, hy = HostBuffer(y);
        float[]? hew = HostValues(expandWeight), heb = HostValues(expandBias), hpw = HostValues(projectWeight), hpb = HostValues(projectBias);
        fixed (float* px = hx, pew = hew, peb = heb, pdw = hdw, pdb = hdb, ppw = hpw, ppb = hpb, py = hy)
        {
            var block = new InvertedResidualBands.Block
            {
                X = px, Y = py, ExpandWeight = pew, ExpandBias = peb, DepthwiseWeight = pdw, DepthwiseBias = pdb,
                ProjectWeight = ppw, ProjectBias = ppb,
                N = x.Shape[0], C = x.Shape[1], E = dw.XShape[1], COut = y.Shape[1],
                Depthwise = geometry, Activation = activation, Residual = residual,
            };
            InvertedResidualBands.Run(block, cpu.Tier, cpu.Workers);
        }
        StoreHost(hy, y);
    }

    /// <summary>
    /// The layers' own calls (each planned as any call), the intermediates lent by <see cref="scratch"/>; without a
    /// projection the depthwise layer writes y.
    /// </summary>
    void RunLayerByLayer(Tensor x, Tensor? expandWeight, Tensor? expandBias, ConvSpec depthwise, Tensor depthwiseWeight,
        Tensor depthwiseBias, Tensor? projectWeight, Tensor? projectBias, Activation activation, bool residual, Tensor y,
        ConvProblem? expand, ConvProblem dw)
    {
        Tensor? expanded = null, depthwiseOut = null;
        try
        {
            var h = x;
            if (expand is not null)
            {
                expanded = scratch.Rent(Memory, expand.YShape);
                h = ForwardBiasActivation(PointwiseSpec, x, expandWeight!, expandBias, activation, output: expanded, constantWeights: true);
            }
            if (projectWeight is null)
            {
                ForwardBiasActivation(depthwise, h, depthwiseWeight, depthwiseBias, activation, output: y, constantWeights: true);
                return;
            }
            depthwiseOut = scratch.Rent(Memory, dw.YShape);
            ForwardBiasActivation(depthwise, h, depthwiseWeight, depthwiseBias, activation, output: depthwiseOut, constantWeights: true);
            Forward(PointwiseSpec, depthwiseOut, projectWeight, projectBias, output: y, constantWeights: true);
            if (residual) Add(y, x, output: y);
        }
        finally
        {
            if (expanded is not null) scratch.Return(expanded);
            if (depthwiseOut is not null) scratch.Return(depthwiseOut);
        }
    }
}
