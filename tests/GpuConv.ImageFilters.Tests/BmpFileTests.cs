using System.Buffers.Binary;

namespace GpuConv.ImageFilters.Tests;

/// <summary>BMP input as docs/samples.md claims it: both row orders a BMP may have, and cut-off files refused.</summary>
public class BmpFileTests
{
    const int W = 5, H = 3;

    /// <summary>Blue, green, red of pixel (x, y), y counted from the top.</summary>
    static (byte B, byte G, byte R) Pixel(int x, int y) => ((byte)(10 * x + y), (byte)(100 + y), (byte)(200 + x));

    /// <summary>An uncompressed 24-bit BMP; top-down files store a negative height and their top row first.</summary>
    static byte[] Bmp(bool topDown)
    {
        int stride = (W * 3 + 3) & ~3;
        var bytes = new byte[54 + stride * H];
        bytes[0] = (byte)'B'; bytes[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), bytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), W);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), topDown ? -H : H);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(34), stride * H);
        for (int row = 0; row < H; row++)
        {
            int y = topDown ? row : H - 1 - row;
            for (int x = 0; x < W; x++)
            {
                var (b, g, r) = Pixel(x, y);
                int at = 54 + row * stride + 3 * x;
                bytes[at] = b; bytes[at + 1] = g; bytes[at + 2] = r;
            }
        }
        return bytes;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void BothRowOrdersReadAsTheSameImage(bool topDown)
    {
        // A top-down BMP was refused: "image size 5x-3 is outside what this tool filters".
        var image = ImageFile.Decode(Bmp(topDown), "t.bmp");
        Assert.That((image.Width, image.Height, image.Channels), Is.EqualTo((W, H, 3)));
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                var (b, g, r) = Pixel(x, y);
                Assert.That((image.At(0, y, x), image.At(1, y, x), image.At(2, y, x)), Is.EqualTo(((float)r, (float)g, (float)b)), $"pixel ({x}, {y})");
            }
    }

    [TestCase(1)]
    [TestCase(20)]
    public void ACutOffBmpIsRefused(int bytesCut)
    {
        // stb_image read the missing rows as black, exit 0.
        var bytes = Bmp(topDown: false);
        var e = Assert.Throws<BadImageException>(() => ImageFile.Decode(bytes[..^bytesCut], "cut.bmp"));
        Assert.That(e!.Message, Does.Contain("cut.bmp").And.Contain("damaged or truncated"));
    }
}
