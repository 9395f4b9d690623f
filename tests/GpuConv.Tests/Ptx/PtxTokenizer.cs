namespace GpuConv.Tests.Ptx;

/// <summary>One lexical token of PTX text with its line, for error messages.</summary>
public readonly record struct PtxToken(PtxTokenKind Kind, string Text, int Line)
{
    public override string ToString() => $"'{Text}' (line {Line})";
}

public enum PtxTokenKind { Word, Number, Punct }

/// <summary>
/// Splits PTX text into words (identifiers, registers, directives, dotted opcodes such as
/// <c>ld.global.nc.f32</c> or <c>%tid.x</c>), numbers (<c>42</c>, <c>0x1F</c>, <c>0f3F800000</c>, <c>7.0</c>)
/// and single-character punctuation. Comments (<c>//</c> and <c>/* */</c>) are dropped.
/// </summary>
public static class PtxTokenizer
{
    const string Punctuation = ",;:{}[]()<>+-@!";

    public static List<PtxToken> Tokenize(string text)
    {
        // The driver's JIT rejects non-ASCII bytes, even inside comments.
        int bad = text.AsSpan().IndexOfAnyExceptInRange('\0', '\x7F');
        if (bad >= 0)
            throw new PtxException($"non-ASCII character '{text[bad]}' (U+{(int)text[bad]:X4}) on line {1 + text.AsSpan(0, bad).Count('\n')}");
        var tokens = new List<PtxToken>();
        int i = 0, line = 1;
        while (i < text.Length)
        {
            char ch = text[i];
            if (ch == '\n') { line++; i++; continue; }
            if (char.IsWhiteSpace(ch)) { i++; continue; }
            if (ch == '/' && i + 1 < text.Length && text[i + 1] == '/')
            {
                while (i < text.Length && text[i] != '\n') i++;
                continue;
            }
            if (ch == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                int end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0) throw new PtxException($"unterminated /* comment starting on line {line}");
                line += text.AsSpan(i, end - i).Count('\n');
                i = end + 2;
                continue;
            }
            int start = i;
            if (char.IsLetter(ch) || ch is '_' or '$' or '%' or '.')
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '$' or '%' or '.')) i++;
                tokens.Add(new PtxToken(PtxTokenKind.Word, text[start..i], line));
            }
            else if (char.IsDigit(ch))
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '.')) i++;
                tokens.Add(new PtxToken(PtxTokenKind.Number, text[start..i], line));
            }
            else if (Punctuation.Contains(ch))
            {
                i++;
                tokens.Add(new PtxToken(PtxTokenKind.Punct, ch.ToString(), line));
            }
            else
            {
                throw new PtxException($"unexpected character '{ch}' on line {line}");
            }
        }
        return tokens;
    }
}

/// <summary>Anything the interpreter cannot parse, does not support, or catches going wrong at run time.</summary>
public sealed class PtxException(string message) : Exception(message);
