using System.Buffers.Binary;
using StbImageSharp;
using StbImageWriteSharp;

namespace GpuConv.ImageFilters;

/// <summary>A file that is not a readable image, or one too large to filter; the message says which and why.</summary>
public sealed class BadImageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads PNG/JPEG/BMP (and the other formats stb_image knows) and writes PNG, through the StbImageSharp /
/// StbImageWriteSharp codecs. The header is read first, so an image whose stated size is absurd is refused
/// before any pixel memory is allocated.
/// </summary>
public static class ImageFile
{
    /// <summary>Largest side accepted, and largest pixel count (a 16k x 16k image is ~3 GiB as planar floats).</summary>
    public const int MaxSide = 16384;
    public const long MaxPixels = 64L << 20;

    public static PlanarImage Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new BadImageException($"{path}: cannot read the file: {e.Message}", e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes an image file's bytes; <paramref name="name"/> is used in messages.</summary>
    public static PlanarImage Decode(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0) throw new BadImageException($"{name}: the file is empty.");
        ImageInfo? info;
        try
        {
            using var header = new MemoryStream(bytes, writable: false);
            info = ImageInfo.FromStream(header);
        }
        catch (Exception e)
        {
            throw new BadImageException($"{name}: not a readable image header ({e.Message}).", e);
        }
        if (info is null && PngHeaderSize(bytes) is { } claimed)
            throw new BadImageException($"{name}: image size {claimed.Width}x{claimed.Height} is outside what this tool filters (each side 1..{MaxSide}, at most {MaxPixels} pixels).");
        if (info is not { } i)
            throw new BadImageException($"{name}: not an image stb_image can read (PNG, JPEG, BMP, GIF, TGA, PSD, HDR, PNM expected).");
        // A top-down BMP stores a negative height; StbImageSharp's header reader passes it on (its decoder handles it).
        if (i.Height < 0 && IsBmp(bytes)) i.Height = -i.Height;
        if (i.Width <= 0 || i.Height <= 0 || i.Width > MaxSide || i.Height > MaxSide || (long)i.Width * i.Height > MaxPixels)
            throw new BadImageException($"{name}: image size {i.Width}x{i.Height} is outside what this tool filters (each side 1..{MaxSide}, at most {MaxPixels} pixels).");

        if (IsTruncatedBmp(bytes))
            throw new BadImageException($"{name}: the image data is damaged or truncated (BMP shorter than its header's rows).");
        if (IsTruncatedJpeg(bytes))
            throw new BadImageException($"{name}: the image data is damaged or truncated (JPEG without a scan followed by its end marker).");

        bool color = i.ColorComponents is StbImageSharp.ColorComponents.RedGreenBlue or StbImageSharp.ColorComponents.RedGreenBlueAlpha;
        ImageResult decoded;
        try
        {
            decoded = ImageResult.FromMemory(bytes, color ? StbImageSharp.ColorComponents.RedGreenBlue : StbImageSharp.ColorComponents.Grey);
        }
        catch (Exception e)
        {
            // stb_image reports truncated or corrupt data by throwing with its short reason ("outofdata", "bad huffman code", …).
            throw new BadImageException($"{name}: the image data is damaged or truncated ({Printable(e.Message)}).", e);
        }
        if (decoded?.Data is null || decoded.Width != i.Width || decoded.Height != i.Height)
            throw new BadImageException($"{name}: the image data is damaged or truncated (decoder returned no pixels).");
        int channels = color ? 3 : 1;
        if (decoded.Data.Length < (long)decoded.Width * decoded.Height * channels)
            throw new BadImageException($"{name}: the image data is damaged or truncated (short pixel data).");
        return PlanarImage.FromInterleaved(decoded.Data, decoded.Width, decoded.Height, channels);
    }

    static bool IsBmp(byte[] b) => b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M';

    /// <summary>
    /// stb_image decodes a cut-off uncompressed BMP without complaint (the missing rows black): a header
    /// stating 16000x4100 over 100 bytes of data was filtered for 19 s. An uncompressed BMP (BI_RGB or
    /// BI_BITFIELDS, Windows header of 40+ bytes) holds its rows, each padded to 4 bytes, from the data offset on.
    /// </summary>
    static bool IsTruncatedBmp(byte[] b)
    {
        if (!IsBmp(b) || b.Length < 34) return false;
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(10));
        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(14));
        if (headerSize < 40) return false;   // old OS/2 headers: left to the decoder
        long width = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(18));
        long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(22)));
        int bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(28));
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(30));
        if (compression is not (0 or 3) || width <= 0 || bitsPerPixel == 0) return false;
        long stride = (width * bitsPerPixel + 31) / 32 * 4;
        return b.Length < offset + stride * height;
    }

    /// <summary>
    /// stb_image decodes a cut-off JPEG without complaint (missing data reads as zeros: grey blocks). A whole
    /// JPEG has a start-of-scan FF DA (one cut before it decodes too) and its end-of-image marker FF D9 after the
    /// last one; in scan data an FF is
    /// always followed by 00 or a restart marker, so neither pair appears there by chance.
    /// </summary>
    static bool IsTruncatedJpeg(byte[] b)
    {
        if (b.Length < 2 || b[0] != 0xFF || b[1] != 0xD8) return false;
        int lastScan = b.AsSpan().LastIndexOf((ReadOnlySpan<byte>)[0xFF, 0xDA]);
        return lastScan < 0 || b.AsSpan(lastScan).IndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) < 0;
    }

    /// <summary>
    /// The decoder's reason without control characters: for a truncated PNG StbImageSharp's message is 25 NUL
    /// bytes, which went to the terminal (and made the error line binary to grep).
    /// </summary>
    static string Printable(string message)
    {
        var text = new string([.. message.Where(c => !char.IsControl(c))]).Trim();
        return text.Length > 0 ? text : "the decoder gave no reason";
    }

    /// <summary>The size a PNG's IHDR states, read directly: stb_image refuses absurd sizes without saying why.</summary>
    static (long Width, long Height)? PngHeaderSize(byte[] b)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (b.Length < 24 || !b.AsSpan(0, 8).SequenceEqual(signature) || !b.AsSpan(12, 4).SequenceEqual("IHDR"u8)) return null;
        long w = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(16)), h = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(20));
        bool acceptable = w is > 0 and <= MaxSide && h is > 0 and <= MaxSide && w * h <= MaxPixels;
        return acceptable ? null : (w, h);
    }

    public static void WritePng(PlanarImage image, string path)
    {
        ArgumentNullException.ThrowIfNull(image);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        using var stream = File.Create(path);
        new ImageWriter().WritePng(image.ToInterleaved(), image.Width, image.Height,
            image.Channels == 3 ? StbImageWriteSharp.ColorComponents.RedGreenBlue : StbImageWriteSharp.ColorComponents.Grey, stream);
    }
}
