using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace GpuConv.Tensors;

/// <summary>
/// NumPy .npy files (format versions 1.0, 2.0 and 3.0): read little-endian float32 ('&lt;f4') or
/// float64 ('&lt;f8') arrays in C order into a float32 <see cref="HostTensor"/>, and write float32.
/// Anything else (Fortran order, big-endian, other dtypes, truncated data, bad magic) is rejected with
/// an <see cref="InvalidDataException"/> that says what was found.
/// </summary>
public static class NpyFile
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>numpy aligns the start of the data to this many bytes (header padded with spaces).</summary>
    const int Alignment = 64;

    /// <summary>Reads the .npy file at <paramref name="path"/>; <see cref="InvalidDataException"/> (message prefixed with the path) when it is not a supported array.</summary>
    public static HostTensor Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        try { return Read(stream); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>Reads one .npy array from <paramref name="stream"/>; <see cref="InvalidDataException"/> when it is not a supported array or the data is truncated or followed by extra bytes.</summary>
    public static HostTensor Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (header, headerText) = ReadHeader(stream);
        var shape = header.Shape;
        int itemSize = header.ItemSize;
        long byteCount = shape.ElementCount * itemSize;
        if (shape.ElementCount > Array.MaxLength)
            throw new InvalidDataException($"array of shape {shape} has {shape.ElementCount} elements, more than one .NET array holds.");
        // Converted in chunks, so a large array never needs a second full-size byte buffer.
        var data = new float[shape.ElementCount];
        var chunk = new byte[itemSize * 8192];
        long read = 0;
        for (int start = 0; start < data.Length;)
        {
            int count = Math.Min(8192, data.Length - start);
            int got = ReadFully(stream, chunk.AsSpan(0, count * itemSize));
            read += got;
            if (got < count * itemSize)
                throw new InvalidDataException($"truncated data: shape {shape} of '{header.Descr}' needs {byteCount} bytes after the header, found {read} (header {headerText}).");
            for (int i = 0; i < count; i++)
                data[start + i] = itemSize == 4
                    ? BinaryPrimitives.ReadSingleLittleEndian(chunk.AsSpan(i * 4, 4))
                    : (float)BinaryPrimitives.ReadDoubleLittleEndian(chunk.AsSpan(i * 8, 8));
            start += count;
        }
        if (stream.ReadByte() >= 0)
            throw new InvalidDataException($"unexpected bytes after the data: shape {shape} of '{header.Descr}' needs exactly {byteCount} bytes.");
        return new HostTensor(shape, data);
    }

    /// <summary>
    /// Writes the file atomically: to a temporary file in the same folder, flushed to disk, then renamed
    /// over <paramref name="path"/>. A failed write (disk full, quota) leaves the old file whole, even
    /// when it was the input being read.
    /// </summary>
    public static void Write(string path, HostTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensor);
        string full = Path.GetFullPath(path);
        // Checked here so that the error names the user's path, not the hidden temporary file beside it.
        if (Directory.Exists(full))
            throw new IOException($"cannot write '{path}': it is a folder, not a file.");
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new DirectoryNotFoundException($"cannot write '{path}': folder '{dir}' does not exist.");
        string temp = TempPathFor(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Write(stream, tensor);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Throws (IOException, UnauthorizedAccessException) unless <see cref="Write(string, HostTensor)"/>
    /// could create its temporary file beside <paramref name="path"/> and <paramref name="path"/> is not a
    /// folder: lets a caller refuse an unwritable output before any work. Leaves nothing behind.
    /// </summary>
    public static void CheckWritable(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new IOException($"'{path}' is a folder, not a file.");
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new DirectoryNotFoundException($"folder '{dir}' does not exist.");
        string temp = TempPathFor(full);
        try
        {
            new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None).Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The temp file's name would only confuse: say which folder refused.
            throw new IOException($"no file can be created in folder '{dir}' ({e.GetType().Name}).", e);
        }
        File.Delete(temp);
    }

    static string TempPathFor(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    /// <summary>Writes float32 little-endian in C order; version 1.0 unless the header needs 2.0.</summary>
    public static void Write(Stream stream, HostTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensor);
        var dims = tensor.Shape.Dims;
        string shapeText = dims.Length == 1 ? $"({dims[0]},)" : "(" + string.Join(", ", dims) + ")";
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";

        // Version 1.0 stores the header length in 2 bytes; longer headers need 2.0 (4 bytes).
        int prefix = Magic.Length + 2 + 2;
        byte major = 1;
        if (Padded(dict.Length, prefix) > ushort.MaxValue) { major = 2; prefix = Magic.Length + 2 + 4; }
        int headerLength = Padded(dict.Length, prefix);
        string header = dict + new string(' ', headerLength - dict.Length - 1) + "\n";

        var head = new byte[prefix + headerLength];
        Magic.CopyTo(head, 0);
        head[6] = major;
        head[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)headerLength);
        else BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(8), (uint)headerLength);
        Encoding.ASCII.GetBytes(header, head.AsSpan(prefix));
        stream.Write(head);

        var data = tensor.Data;
        var buffer = new byte[Math.Min(data.Length, 1 << 16) * 4];
        for (int start = 0; start < data.Length; start += buffer.Length / 4)
        {
            int count = Math.Min(buffer.Length / 4, data.Length - start);
            for (int i = 0; i < count; i++)
                BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4, 4), data[start + i]);
            stream.Write(buffer, 0, count * 4);
        }
    }

    /// <summary>Header length (dict + spaces + newline) that makes prefix + header a multiple of the alignment.</summary>
    static int Padded(int dictLength, int prefix) =>
        (prefix + dictLength + 1 + Alignment - 1) / Alignment * Alignment - prefix;

    readonly record struct Header(string Descr, TensorShape Shape, int ItemSize);

    static (Header Header, string Text) ReadHeader(Stream stream)
    {
        var start = new byte[8];
        int got = ReadFully(stream, start);
        if (got < 8 || !start.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"not a .npy file: expected the magic bytes \\x93NUMPY, found {Hex(start.AsSpan(0, got))}.");
        byte major = start[6], minor = start[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new InvalidDataException($"unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0).");
        var lengthBytes = new byte[major == 1 ? 2 : 4];
        if (ReadFully(stream, lengthBytes) < lengthBytes.Length)
            throw new InvalidDataException($"truncated .npy header: the {lengthBytes.Length}-byte header length is missing.");
        long length = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(lengthBytes) : BinaryPrimitives.ReadUInt32LittleEndian(lengthBytes);
        if (length > 1 << 24)
            throw new InvalidDataException($"implausible .npy header length {length} bytes.");
        var headerBytes = new byte[length];
        int headerGot = ReadFully(stream, headerBytes);
        if (headerGot < length)
            throw new InvalidDataException($"truncated .npy header: expected {length} bytes, found {headerGot}.");
        // Versions 1.0 and 2.0 store the header in latin-1, 3.0 in UTF-8.
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes).Trim();
        return (ParseHeader(text), text);
    }

    /// <summary>Parses the Python dict literal {'descr': …, 'fortran_order': …, 'shape': (…), }.</summary>
    static Header ParseHeader(string text)
    {
        if (!text.StartsWith('{') || !text.EndsWith('}'))
            throw new InvalidDataException($"malformed .npy header (not a dict literal): {text}");
        string descr = Field(text, "descr");
        if (!descr.StartsWith('\'') && !descr.StartsWith('"'))
            throw new InvalidDataException($"malformed .npy header: 'descr' must be a string, found {descr} (structured dtypes are not supported).");
        descr = descr.Trim('\'', '"');
        string fortran = Field(text, "fortran_order");
        if (fortran == "True")
            throw new InvalidDataException("fortran_order is True: only C-order (row-major) arrays are supported; save with np.ascontiguousarray.");
        if (fortran != "False")
            throw new InvalidDataException($"malformed .npy header: fortran_order must be True or False, found {fortran}.");
        string shapeText = Field(text, "shape");
        var shape = ParseShape(shapeText);

        int itemSize = descr switch
        {
            "<f4" => 4,
            "<f8" => 8,
            ">f4" or ">f8" => throw new InvalidDataException($"big-endian dtype '{descr}' is not supported: save as little-endian ('<f4' or '<f8')."),
            _ => throw new InvalidDataException($"unsupported dtype '{descr}': only float32 ('<f4') and float64 ('<f8') are supported."),
        };
        return new Header(descr, shape, itemSize);
    }

    /// <summary>The raw value text of one key: a quoted string, a tuple, or a bare word.</summary>
    static string Field(string text, string key)
    {
        int at = text.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (at < 0) at = text.IndexOf($"\"{key}\"", StringComparison.Ordinal);
        if (at < 0)
            throw new InvalidDataException($"malformed .npy header: no '{key}' key in {text}");
        // Python's dict keeps the last of a repeated key ('descr': '<f4', 'descr': '>f4' is big-endian to NumPy):
        // reading the first would give other numbers than NumPy's, so a repeated key is refused.
        if (text.IndexOf($"'{key}'", at + 1, StringComparison.Ordinal) >= 0 || text.IndexOf($"\"{key}\"", at + 1, StringComparison.Ordinal) >= 0)
            throw new InvalidDataException($"malformed .npy header: key '{key}' appears more than once in {text}");
        int colon = text.IndexOf(':', at + key.Length + 2);
        if (colon < 0)
            throw new InvalidDataException($"malformed .npy header: no value for '{key}' in {text}");
        int i = colon + 1;
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        if (i >= text.Length)
            throw new InvalidDataException($"malformed .npy header: no value for '{key}' in {text}");
        char first = text[i];
        if (first is '\'' or '"' or '(' or '[')
        {
            char close = first switch { '(' => ')', '[' => ']', _ => first };
            int j = text.IndexOf(close, i + 1);
            if (j < 0)
                throw new InvalidDataException($"malformed .npy header: unterminated value for '{key}' in {text}");
            return text[i..(j + 1)];
        }
        int k = i;
        while (k < text.Length && text[k] != ',' && text[k] != '}') k++;
        return text[i..k].Trim();
    }

    static TensorShape ParseShape(string text)
    {
        if (!text.StartsWith('(') || !text.EndsWith(')'))
            throw new InvalidDataException($"malformed .npy header: shape must be a tuple, found {text}.");
        // A Python tuple: entries separated by commas, one optional trailing comma ("(3,)"), nothing empty between.
        if (string.IsNullOrWhiteSpace(text[1..^1]))
            throw new InvalidDataException("shape () is a 0-d scalar: a tensor needs at least one dimension.");
        var parts = text[1..^1].Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 1 && parts[^1].Length == 0) parts = parts[..^1];
        if (Array.IndexOf(parts, "") is int empty and >= 0)
            throw new InvalidDataException($"malformed .npy header: shape {text} has an empty entry at position {empty}.");
        var dims = new int[parts.Length];
        for (int d = 0; d < parts.Length; d++)
        {
            string p = parts[d].TrimEnd('L'); // Python 2 wrote long integers as 3L
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out dims[d]))
                throw new InvalidDataException($"malformed .npy header: shape entry '{parts[d]}' in {text} is not a non-negative 32-bit integer.");
            if (dims[d] == 0)
                throw new InvalidDataException($"shape {text} has a zero-length dimension {d}: empty arrays are not supported.");
        }
        try { return new TensorShape(dims); }
        catch (ArgumentException e) { throw new InvalidDataException($"unsupported shape {text}: {e.Message}", e); }
    }

    static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    static string Hex(ReadOnlySpan<byte> bytes) =>
        bytes.Length == 0 ? "an empty file" : string.Join(" ", bytes.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
}
