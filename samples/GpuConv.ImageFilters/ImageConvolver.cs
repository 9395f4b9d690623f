using System.Diagnostics;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.ImageFilters;

/// <summary>
/// Applies a <see cref="Filter"/> to an image with GpuConv, the way an application uses the engine: upload
/// the image and the weights once, convolve on the device (GPU when present, else CPU — the same code), and
/// download the result. Color is a depthwise convolution: groups = channels, the same kernel for each channel.
/// The gradient magnitude runs both Sobel kernels in one depthwise call (two outputs per channel).
/// </summary>
public sealed class ImageConvolver(ConvEngine engine)
{
    readonly ConvEngine engine = engine ?? throw new ArgumentNullException(nameof(engine));

    /// <summary>Milliseconds of the last <see cref="Apply"/> from upload to download.</summary>
    public double LastMilliseconds { get; private set; }

    /// <summary>
    /// The filtered image, same size and channels as <paramref name="image"/>. Values are not clamped (the PNG
    /// writer clamps); edge detectors (<see cref="OutputMapping.Absolute"/>) give |response|.
    /// </summary>
    public PlanarImage Apply(PlanarImage image, Filter filter, EdgeMode edges = EdgeMode.Zero)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(filter);
        int kh = filter.KernelHeight, kw = filter.KernelWidth;
        // An even kernel has one more neighbour after the centre than before (PyTorch's padding="same").
        int top = (kh - 1) / 2, bottom = kh / 2, left = (kw - 1) / 2, right = kw / 2;
        var input = edges == EdgeMode.Replicate ? ReplicatePad(image, top, bottom, left, right) : image;
        var spec = edges == EdgeMode.Replicate
            ? new ConvSpec([kh, kw], groups: image.Channels)
            : new ConvSpec([kh, kw], padBegin: [top, left], padEnd: [bottom, right], groups: image.Channels);

        var kernels = filter.SecondKernel is { } second ? new[] { filter.Kernel, second } : [filter.Kernel];
        if (kernels.Any(k => k.GetLength(0) != kh || k.GetLength(1) != kw))
            throw new ArgumentException($"both kernels of {filter.Name} must have the same size.", nameof(filter));
        int perChannel = kernels.Length;
        var weights = new float[image.Channels * perChannel * kh * kw];
        for (int c = 0; c < image.Channels; c++)
            for (int j = 0; j < perChannel; j++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        weights[((c * perChannel + j) * kh + y) * kw + x] = kernels[j][y, x];

        var start = Stopwatch.GetTimestamp();
        using var xt = engine.Upload(input.Data, new TensorShape(1, image.Channels, input.Height, input.Width));
        using var wt = engine.Upload(weights, new TensorShape(image.Channels * perChannel, 1, kh, kw));
        using var yt = engine.Forward(spec, xt, wt, constantWeights: true);
        var response = engine.Download(yt);
        LastMilliseconds = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

        var result = new PlanarImage(image.Width, image.Height, image.Channels);
        int plane = image.Width * image.Height;
        if (perChannel == 2)
        {
            for (int c = 0; c < image.Channels; c++)
                for (int i = 0; i < plane; i++)
                {
                    float gx = response.Data[(2 * c) * plane + i], gy = response.Data[(2 * c + 1) * plane + i];
                    result.Data[c * plane + i] = MathF.Sqrt(gx * gx + gy * gy);
                }
        }
        else
        {
            response.Data.CopyTo(result.Data, 0);
            if (filter.Mapping == OutputMapping.Absolute)
                for (int i = 0; i < result.Data.Length; i++) result.Data[i] = MathF.Abs(result.Data[i]);
        }
        return result;
    }

    /// <summary>The image grown by the given margins, each new pixel a copy of the nearest edge pixel.</summary>
    public static PlanarImage ReplicatePad(PlanarImage image, int top, int bottom, int left, int right)
    {
        var padded = new PlanarImage(image.Width + left + right, image.Height + top + bottom, image.Channels);
        for (int c = 0; c < image.Channels; c++)
            for (int y = 0; y < padded.Height; y++)
            {
                int sy = Math.Clamp(y - top, 0, image.Height - 1);
                for (int x = 0; x < padded.Width; x++)
                    padded.At(c, y, x) = image.At(c, sy, Math.Clamp(x - left, 0, image.Width - 1));
            }
        return padded;
    }
}
