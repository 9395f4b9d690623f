namespace GpuConv.ImageFilters;

/// <summary>
/// An image as the convolution sees it: channels one after another (planar, [C, H, W]), float values in
/// the 8-bit range 0–255. One channel for grey images, three for color (alpha is dropped on load).
/// </summary>
public sealed class PlanarImage
{
    public PlanarImage(int width, int height, int channels, float[]? data = null)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"image size must be positive, got {width}x{height}.", nameof(width));
        if (channels is not (1 or 3))
            throw new ArgumentException($"channels must be 1 (grey) or 3 (RGB), got {channels}.", nameof(channels));
        Width = width;
        Height = height;
        Channels = channels;
        Data = data ?? new float[(long)width * height * channels];
        if (Data.LongLength != (long)width * height * channels)
            throw new ArgumentException($"data has {Data.Length} values but a {width}x{height}x{channels} image needs {(long)width * height * channels}.", nameof(data));
    }

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public float[] Data { get; }

    public ref float At(int channel, int y, int x) => ref Data[((long)channel * Height + y) * Width + x];

    /// <summary>From interleaved 8-bit pixels (RGBRGB… or grey).</summary>
    public static PlanarImage FromInterleaved(byte[] pixels, int width, int height, int channels)
    {
        var image = new PlanarImage(width, height, channels);
        int plane = width * height;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < channels; c++)
                image.Data[c * plane + i] = pixels[i * channels + c];
        return image;
    }

    /// <summary>To interleaved 8-bit pixels, rounding and clamping to 0–255.</summary>
    public byte[] ToInterleaved()
    {
        int plane = Width * Height;
        var pixels = new byte[plane * Channels];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < Channels; c++)
                pixels[i * Channels + c] = ToByte(Data[c * plane + i]);
        return pixels;
    }

    public static byte ToByte(float v) => float.IsNaN(v) ? (byte)0 : (byte)Math.Clamp(MathF.Round(v), 0f, 255f);

    /// <summary>This image and <paramref name="right"/> side by side (same height; grey is widened to RGB when the other is color).</summary>
    public PlanarImage SideBySide(PlanarImage right)
    {
        ArgumentNullException.ThrowIfNull(right);
        if (right.Height != Height)
            throw new ArgumentException($"heights differ: {Height} and {right.Height}.", nameof(right));
        int channels = Math.Max(Channels, right.Channels);
        var result = new PlanarImage(Width + right.Width, Height, channels);
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < Height; y++)
            {
                for (int x = 0; x < Width; x++)
                    result.At(c, y, x) = At(Math.Min(c, Channels - 1), y, x);
                for (int x = 0; x < right.Width; x++)
                    result.At(c, y, Width + x) = right.At(Math.Min(c, right.Channels - 1), y, x);
            }
        return result;
    }
}
