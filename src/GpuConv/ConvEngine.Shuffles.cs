using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Rearrangements on tensors in <see cref="Memory"/>: sub-pixel shuffles for super-resolution networks (ESPCN, EDSR,
/// Real-ESRGAN) that upsample with a convolution to C·r² channels and then spread them over an r× larger plane, and for
/// models that fold space into channels — PyTorch's F.pixel_shuffle and F.pixel_unshuffle on [N, C, H, W], each the
/// other's inverse and gradient (the backward of PixelShuffle is PixelUnshuffle of dy, and the other way round); and
/// ShuffleNet's channel shuffle, torch.channel_shuffle, whose gradient is the channel shuffle by C/groups.
/// <para>
/// The output is a new tensor or <c>output</c>, which must not share memory with the input. On a GPU each call is one
/// kernel of kernels/strided_copy.ptx on the engine's stream, with no host wait; on the CPU engine it is a loop (split over
/// the worker threads for large tensors) that has finished on return. Both give the same bits: the values are moved, not computed.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// y = F.pixel_shuffle(x, upscaleFactor): x [N, C·r², H, W] → y [N, C, H·r, W·r] with y[n, c, h·r + i, w·r + j] =
    /// x[n, c·r² + i·r + j, h, w]. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">x is not [N, C, H, W], upscaleFactor is below 1 or r² does not divide x's channels, the
    /// output is too large, or the output has the wrong shape, lives elsewhere or shares memory with x.</exception>
    public Tensor PixelShuffle(Tensor x, int upscaleFactor, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        var s = CheckPixelShuffleInput(x, upscaleFactor, nameof(upscaleFactor));
        int r = upscaleFactor;
        if (s[1] % (r * r) != 0)
            throw new ArgumentException($"x has {s[1]} channels (shape {s}), not a multiple of upscaleFactor² = {r * r}; pixel_shuffle spreads each group of r² channels over an r × r block.", nameof(x));
        if ((long)s[2] * r > int.MaxValue || (long)s[3] * r > int.MaxValue)
            throw new ArgumentException($"x {s} shuffled by {r} would be {(long)s[2] * r} × {(long)s[3] * r}, more than a dimension holds ({int.MaxValue}).", nameof(upscaleFactor));
        return Rearrange(x, Rearrangement.PixelShuffle(s, r), s[0], s[1] / (r * r), s[2] * r, s[3] * r, output);
    }

    /// <summary>
    /// y = F.pixel_unshuffle(x, downscaleFactor): x [N, C, H, W], H and W multiples of r → y [N, C·r², H/r, W/r], the
    /// inverse of <see cref="PixelShuffle"/>. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">x is not [N, C, H, W], downscaleFactor is below 1 or does not divide x's height and width,
    /// the output has too many channels, or the output has the wrong shape, lives elsewhere or shares memory with x.</exception>
    public Tensor PixelUnshuffle(Tensor x, int downscaleFactor, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        var s = CheckPixelShuffleInput(x, downscaleFactor, nameof(downscaleFactor));
        int r = downscaleFactor;
        if (s[2] % r != 0 || s[3] % r != 0)
            throw new ArgumentException($"x is {s[2]} × {s[3]} (shape {s}), not multiples of downscaleFactor {r}; pixel_unshuffle folds each r × r block into channels.", nameof(x));
        if ((long)s[1] * r * r > int.MaxValue)
            throw new ArgumentException($"x {s} unshuffled by {r} would have {(long)s[1] * r * r} channels, more than a dimension holds ({int.MaxValue}).", nameof(downscaleFactor));
        return Rearrange(x, Rearrangement.PixelUnshuffle(s, r), s[0], s[1] * r * r, s[2] / r, s[3] / r, output);
    }

    /// <summary>
    /// y = torch.channel_shuffle(x, groups) (nn.ChannelShuffle; ShuffleNet's shuffle between grouped convolutions): x
    /// [N, C, …] viewed as [N, groups, C/groups, …] with the two group dims transposed, so y[n, j·groups + i, …] =
    /// x[n, i·(C/groups) + j, …]; y has x's shape. Its gradient is ChannelShuffle(dy, C/groups). Into
    /// <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">x has fewer than 2 dims, groups is below 1 or does not divide x's channels, or the
    /// output has the wrong shape, lives elsewhere or shares memory with x.</exception>
    public Tensor ChannelShuffle(Tensor x, int groups, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        var s = x.Shape;
        if (s.Rank < 2)
            throw new ArgumentException($"x has shape {s} (rank {s.Rank}); a channel shuffle takes [N, C, …].", nameof(x));
        if (groups < 1)
            throw new ArgumentException($"groups must be at least 1, got {groups}.", nameof(groups));
        if (s[1] % groups != 0)
            throw new ArgumentException($"x has {s[1]} channels (shape {s}), not a multiple of groups {groups}.", nameof(groups));
        CheckResident(x, nameof(x));
        if (output is not null && !output.Shape.Equals(s)) CheckTensorShape(output, s, nameof(output));
        return Rearrange(x, Rearrangement.ChannelShuffle(s, groups), s, output);
    }

    TensorShape CheckPixelShuffleInput(Tensor x, int factor, string factorName)
    {
        var s = x.Shape;
        if (s.Rank != 4)
            throw new ArgumentException($"x has shape {s} (rank {s.Rank}); pixel shuffles take [N, C, H, W].", nameof(x));
        if (factor < 1)
            throw new ArgumentException($"{factorName} must be at least 1, got {factor}.", factorName);
        CheckResident(x, nameof(x));
        return s;
    }

    Tensor Rearrange(Tensor x, in Rearrangement view, int n, int c, int h, int w, Tensor? output)
    {
        if (output is not null)
        {
            var d = output.Shape.Dims;
            if (d.Length != 4 || d[0] != n || d[1] != c || d[2] != h || d[3] != w) // dim by dim: a warm call allocates nothing
                CheckTensorShape(output, new TensorShape(n, c, h, w), nameof(output));
        }
        return Rearrange(x, view, output?.Shape ?? new TensorShape(n, c, h, w), output);
    }

    /// <summary>The view copied from x into the output (of <paramref name="shape"/>, checked by the caller) or a new tensor.</summary>
    Tensor Rearrange(Tensor x, in Rearrangement view, TensorShape shape, Tensor? output)
    {
        if (output is not null)
        {
            CheckResident(output, nameof(output));
            if (Overlaps(output, x))
                throw new ArgumentException("output shares memory with x; a shuffle moves every value to another place, so write into a separate tensor.", nameof(output));
        }
        var result = output ?? Allocate(shape);
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt) RearrangeKernels.Launch(rt, view, rt.PointerOf(x), rt.PointerOf(result));
                else
                {
                    var hy = HostBuffer(result);
                    CopyView(view, HostValues(x)!, hy, HostWorkers);
                    StoreHost(hy, result);
                }
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    static void CopyView(in Rearrangement view, float[] x, float[] y, Cpu.Threading.CpuWorkers? workers)
    {
        Span<int> dims = stackalloc int[Rearrangement.Rank];
        Span<long> sourceStrides = stackalloc long[Rearrangement.Rank];
        Span<long> destinationStrides = stackalloc long[Rearrangement.Rank];
        view.Describe(dims, sourceStrides, destinationStrides);
        CpuStridedCopy.Run(x, y, dims, sourceStrides, destinationStrides, workers);
    }
}
