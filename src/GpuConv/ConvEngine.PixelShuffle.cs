using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;
using GpuConv.Upsampling;

namespace GpuConv;

/// <summary>
/// Sub-pixel rearrangement on tensors in <see cref="Memory"/>, for super-resolution networks (ESPCN, EDSR, Real-ESRGAN)
/// that upsample with a convolution to C·r² channels and then spread them over an r× larger plane, and for models that
/// fold space into channels: PyTorch's F.pixel_shuffle and F.pixel_unshuffle on [N, C, H, W]. Each is the other's
/// inverse and its gradient (the backward of PixelShuffle is PixelUnshuffle of dy, and the other way round).
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
        return RunPixelShuffle(x, new PixelShuffleView(s, r, shuffle: true), s[0], s[1] / (r * r), s[2] * r, s[3] * r, output);
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
        return RunPixelShuffle(x, new PixelShuffleView(s, r, shuffle: false), s[0], s[1] * r * r, s[2] / r, s[3] / r, output);
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

    Tensor RunPixelShuffle(Tensor x, in PixelShuffleView view, int n, int c, int h, int w, Tensor? output)
    {
        if (output is not null)
        {
            var d = output.Shape.Dims;
            if (d.Length != 4 || d[0] != n || d[1] != c || d[2] != h || d[3] != w) // dim by dim: a warm call allocates nothing
                CheckTensorShape(output, new TensorShape(n, c, h, w), nameof(output));
            CheckResident(output, nameof(output));
            if (Overlaps(output, x))
                throw new ArgumentException("output shares memory with x; a pixel shuffle moves every value to another place, so write into a separate tensor.", nameof(output));
        }
        var result = output ?? Allocate(new TensorShape(n, c, h, w));
        try
        {
            using (EnterStream())
                switch (Memory)
                {
                    case var _ when result is HostTensor host:
                        CopyView(view, ((HostTensor)x).Data, host.Data, PoolWorkers);
                        Wrote(host);
                        break;
                    case IPtxRuntime rt:
                        PixelShuffleKernels.Launch(rt, view, rt.PointerOf(x), rt.PointerOf(result));
                        break;
                    default:
                        // A device memory that launches no kernels (the stand-ins of tests): through the host.
                        var hx = new float[x.Shape.ElementCountInt];
                        var hy = new float[hx.Length];
                        Memory.CopyToHost(x, hx);
                        CopyView(view, hx, hy, PoolWorkers);
                        Memory.CopyFromHost(hy, result);
                        break;
                }
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    static void CopyView(in PixelShuffleView view, float[] x, float[] y, Cpu.Threading.CpuWorkers? workers)
    {
        Span<int> dims = stackalloc int[PixelShuffleView.Rank];
        Span<long> sourceStrides = stackalloc long[PixelShuffleView.Rank];
        Span<long> destinationStrides = stackalloc long[PixelShuffleView.Rank];
        view.Describe(dims, sourceStrides, destinationStrides);
        CpuStridedCopy.Run(x, y, dims, sourceStrides, destinationStrides, workers);
    }
}
