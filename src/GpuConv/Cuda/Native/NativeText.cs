using System.Runtime.InteropServices;
using System.Text;

namespace GpuConv.Cuda.Native;

/// <summary>Small helpers for C strings and C-style enum names.</summary>
internal static class NativeText
{
    public static unsafe string FromUtf8(byte* p) => p == null ? "" : Marshal.PtrToStringUTF8((nint)p) ?? "";

    /// <summary>Reads a NUL-terminated string out of a fixed buffer (stops at the buffer end).</summary>
    public static string FromBuffer(ReadOnlySpan<byte> buffer)
    {
        int end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]).Trim();
    }

    /// <summary>Bytes of <paramref name="s"/> followed by a NUL, for C functions that take const char*.</summary>
    public static byte[] ToUtf8Z(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    /// <summary>"OutOfMemory" → "OUT_OF_MEMORY", for status names when the library cannot name them.</summary>
    public static string UpperSnake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (i > 0 && char.IsUpper(c) && !char.IsUpper(pascal[i - 1])) sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>A status for the trace: "OK" for success, else the enum name and its number ("NotSupported 3000").</summary>
    public static string StatusLabel<T>(T status) where T : struct, Enum
    {
        // Evaluated for every native call, traced or not: success (0) answers without boxing the enum.
        if (EqualityComparer<T>.Default.Equals(status, default)) return "OK";
        long code = Convert.ToInt64(status, System.Globalization.CultureInfo.InvariantCulture);
        return code == 0 ? "OK" : $"{status} {code}";
    }
}
