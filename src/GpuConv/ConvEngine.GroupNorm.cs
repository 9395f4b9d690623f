using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// GroupNorm on tensors in <see cref="Memory"/>, forward and backward: torch.nn.functional.group_norm's semantics
/// (<see cref="GroupNormSpec"/> for num_groups and eps), inputs [N, C] or [N, C, spatial…] with 1–3 spatial
/// dimensions, weight and bias [C] (both or neither). The exact fp32 definition (summation order, two-pass statistics,
/// the formulas) is <see cref="CpuGroupNorm"/>'s; a GPU gives the same bits (NaN payloads aside).
/// <para>
/// On a GPU each call is two kernels of kernels/groupnorm.ptx on the engine's stream (forward: per-(n, group)
/// statistics, then an element-wise pass; backward: dx per (n, group), then the affine gradients per channel when the
/// layer is affine) and returns without waiting; on the CPU engine it is a loop that has finished on return. A device
/// memory that cannot launch kernels (the tests' stand-ins) goes through host copies and the same loops. Outputs are
/// new tensors or the caller's; a tensor a call writes must share no memory with another it reads or writes.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// y = group_norm(x, Groups, weight, bias, eps) (PyTorch's native_group_norm): per sample n and group g (channels
    /// g·C/G … (g+1)·C/G − 1 and every spatial position, M values), mean and biased variance var_b (divided by M);
    /// y = (x − mean)/sqrt(var_b + eps)·weight[c] + bias[c] (weight and bias both null: 1 and 0). Returns y and the saved
    /// mean and rstd = 1/sqrt(var_b + eps), each [N, G], for <see cref="GroupNormBackward"/>; each into the tensor given or a new one.
    /// </summary>
    public GroupNormResult GroupNorm(GroupNormSpec spec, Tensor x, Tensor? weight = null, Tensor? bias = null,
        Tensor? output = null, Tensor? savedMean = null, Tensor? savedRstd = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        spec.Validate();
        var s = spec.ShapeOf(x.Shape, nameof(x));
        CheckResident(x, nameof(x));
        CheckGroupNormAffine(weight, bias, s);
        CheckGroupNormUnits(savedMean, s, nameof(savedMean));
        CheckGroupNormUnits(savedRstd, s, nameof(savedRstd));
        if (output is not null)
        {
            CheckTensorShape(output, x.Shape, nameof(output));
            CheckResident(output, nameof(output));
        }
        CheckSeparate("GroupNorm", [(output, nameof(output)), (savedMean, nameof(savedMean)), (savedRstd, nameof(savedRstd))],
            [(x, nameof(x)), (weight, nameof(weight)), (bias, nameof(bias))]);

        Tensor? y = null, mean = null, rstd = null;
        try
        {
            y = output ?? Memory.Allocate(x.Shape);
            mean = savedMean ?? Memory.Allocate(new TensorShape(s.Batch, s.Groups));
            rstd = savedRstd ?? Memory.Allocate(new TensorShape(s.Batch, s.Groups));
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    GroupNormKernels.LaunchStatistics(rt, s, rt.PointerOf(x), rt.PointerOf(mean), rt.PointerOf(rstd), spec.EpsilonF32);
                    GroupNormKernels.LaunchNormalize(rt, s, rt.PointerOf(x), rt.PointerOf(y), rt.PointerOf(mean), rt.PointerOf(rstd),
                        PointerOrZero(rt, weight), PointerOrZero(rt, bias));
                }
                else
                {
                    float[] hy = HostBuffer(y), hm = HostBuffer(mean), hr = HostBuffer(rstd);
                    CpuGroupNorm.Forward(HostValues(x)!, s, spec.EpsilonF32, HostValues(weight), HostValues(bias), hy, hm, hr, HostWorkers);
                    StoreHost(hy, y);
                    StoreHost(hm, mean);
                    StoreHost(hr, rstd);
                }
            return new GroupNormResult(y, mean, rstd);
        }
        catch
        {
            if (output is null) (y as IDisposable)?.Dispose();
            if (savedMean is null) (mean as IDisposable)?.Dispose();
            if (savedRstd is null) (rstd as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The backward of <see cref="GroupNorm"/> (PyTorch's native_group_norm_backward): from dy = ∂loss/∂y, the forward's
    /// x, its saved mean and rstd ([N, G]) and weight (null: not affine), dx = rstd·(w·dy − mean(w·dy) − x̂·mean(w·dy·x̂))
    /// with x̂ = (x − mean)·rstd and the means over each (n, group); when weight is given also dweight = Σ dy·x̂ and
    /// dbias = Σ dy per channel over N and the spatial positions (null in the result otherwise, and dWeight/dBias must
    /// then be null). Each into the tensor given or a new one.
    /// </summary>
    public GroupNormGradients GroupNormBackward(GroupNormSpec spec, Tensor dy, Tensor x, Tensor savedMean, Tensor savedRstd, Tensor? weight,
        Tensor? dx = null, Tensor? dWeight = null, Tensor? dBias = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(savedMean);
        ArgumentNullException.ThrowIfNull(savedRstd);
        spec.Validate();
        var s = spec.ShapeOf(x.Shape, nameof(x));
        CheckTensorShape(dy, x.Shape, nameof(dy));
        CheckResident(dy, nameof(dy));
        CheckResident(x, nameof(x));
        CheckGroupNormUnits(savedMean, s, nameof(savedMean));
        CheckGroupNormUnits(savedRstd, s, nameof(savedRstd));
        CheckGroupNormChannel(weight, s, nameof(weight));
        if (dx is not null)
        {
            CheckTensorShape(dx, x.Shape, nameof(dx));
            CheckResident(dx, nameof(dx));
        }
        if (weight is null && (dWeight is not null || dBias is not null))
        {
            string name = dWeight is not null ? nameof(dWeight) : nameof(dBias);
            throw new ArgumentException($"{name} is given but weight is null: a GroupNorm without weight has no affine gradients.", name);
        }
        CheckGroupNormChannel(dWeight, s, nameof(dWeight));
        CheckGroupNormChannel(dBias, s, nameof(dBias));
        CheckSeparate("GroupNorm", [(dx, nameof(dx)), (dWeight, nameof(dWeight)), (dBias, nameof(dBias))],
            [(dy, nameof(dy)), (x, nameof(x)), (weight, nameof(weight)), (savedMean, nameof(savedMean)), (savedRstd, nameof(savedRstd))]);

        var (gx, gw, gb) = RunNormBackward(new GroupNormBackwardRun(s), s.Channels, dy, x, savedMean, savedRstd, weight, dx, dWeight, dBias);
        return new GroupNormGradients(gx, gw, gb);
    }

    /// <summary>Weight and bias: both [C] tensors of this engine's memory, or both null.</summary>
    void CheckGroupNormAffine(Tensor? weight, Tensor? bias, GroupNormShape s)
    {
        if ((weight is null) != (bias is null))
            throw new ArgumentException($"weight is {(weight is null ? "null" : "given")} but bias is {(bias is null ? "null" : "given")}; GroupNorm takes both (affine) or neither.",
                weight is null ? nameof(weight) : nameof(bias));
        CheckGroupNormChannel(weight, s, nameof(weight));
        CheckGroupNormChannel(bias, s, nameof(bias));
    }

    /// <summary>Throws unless <paramref name="t"/> (when given) is a [C] tensor of this engine's memory, not disposed.</summary>
    void CheckGroupNormChannel(Tensor? t, GroupNormShape s, string name)
    {
        if (t is null) return;
        if (t.Shape.Rank != 1 || t.Shape.Dims[0] != s.Channels)
            throw new ArgumentException($"{name} has shape {t.Shape}, expected [{s.Channels}]: one value per channel of x (its dimension 1).", name);
        CheckResident(t, name);
    }

    /// <summary>Throws unless <paramref name="t"/> (when given) is an [N, G] tensor of this engine's memory, not disposed.</summary>
    void CheckGroupNormUnits(Tensor? t, GroupNormShape s, string name)
    {
        if (t is null) return;
        if (t.Shape.Rank != 2 || t.Shape.Dims[0] != s.Batch || t.Shape.Dims[1] != s.Groups)
            throw new ArgumentException($"{name} has shape {t.Shape}, expected [{s.Batch}, {s.Groups}]: one value per sample and group (N, Groups).", name);
        CheckResident(t, name);
    }
}
