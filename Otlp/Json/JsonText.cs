using System.Buffers;
using System.Text;

namespace Trulayer.Otlp.Json;

/// <summary>
/// Scanning and unescaping JSON text (RFC 8259) for the transcoder: its compact-attribute fast path reads
/// bytes itself, and strings are unescaped here because Utf8JsonReader refuses a lone surrogate escape
/// (<c>\ud800</c>) that OTLP/JSON input is read with (as U+FFFD).
/// </summary>
internal static class JsonText
{
    // What ends the fast scan of a string: its closing quote, an escape, or a character JSON forbids unescaped.
    private static readonly SearchValues<byte> StringSpecials = SearchValues.Create(
        [(byte)'"', (byte)'\\', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    // 1 for the bytes that end the plain part of a string: '"', '\\' and the control characters.
    private static ReadOnlySpan<byte> StopsString =>
    [
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// <summary>The offset of the next quote, backslash or control character at or after <paramref name="at"/>; -1 if none.</summary>
    public static int FindStringStop(ReadOnlySpan<byte> json, int at)
    {
        // Most strings are short keys and values: looking at the first bytes one by one is cheaper than
        // setting up a vector search, which takes over for long strings (prompts, completions).
        var scalarEnd = Math.Min(json.Length, at + 32);
        var stops = StopsString;
        for (var i = at; i < scalarEnd; i++)
        {
            if (stops[json[i]] != 0)
            {
                return i;
            }
        }

        if (scalarEnd >= json.Length)
        {
            return -1;
        }

        var offset = json[scalarEnd..].IndexOfAny(StringSpecials);
        return offset < 0 ? -1 : scalarEnd + offset;
    }

    /// <summary>
    /// The end of a JSON number starting at <paramref name="at"/> (RFC 8259 grammar: optional minus, no
    /// leading zeros, optional fraction and exponent), or -1 when there is none.
    /// </summary>
    public static int FindNumberEnd(ReadOnlySpan<byte> json, int at)
    {
        if (at < json.Length && json[at] == (byte)'-')
        {
            at++;
        }

        if (at < json.Length && json[at] == (byte)'0')
        {
            at++;
        }
        else if ((at = SkipDigits(json, at)) < 0)
        {
            return -1;
        }

        if (at < json.Length && json[at] == (byte)'.' && (at = SkipDigits(json, at + 1)) < 0)
        {
            return -1;
        }

        if (at < json.Length && (json[at] | 0x20) == (byte)'e')
        {
            at++;
            if (at < json.Length && json[at] is (byte)'+' or (byte)'-')
            {
                at++;
            }

            at = SkipDigits(json, at);
        }

        return at;
    }

    private static int SkipDigits(ReadOnlySpan<byte> json, int at)
    {
        var start = at;
        while (at < json.Length && json[at] - (uint)'0' <= 9)
        {
            at++;
        }

        return at == start ? -1 : at;
    }

    /// <summary>
    /// Unescapes a string's bytes between the quotes, whose escapes the reader has validated, into
    /// <paramref name="destination"/> (at least as long); returns the bytes written. A lone surrogate
    /// (<c>\ud800</c>), which has no UTF-8 form, becomes U+FFFD.
    /// </summary>
    public static int Unescape(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var written = 0;
        var i = 0;
        while (i < source.Length)
        {
            var backslash = source[i..].IndexOf((byte)'\\');
            if (backslash < 0)
            {
                source[i..].CopyTo(destination[written..]);
                return written + source.Length - i;
            }

            source.Slice(i, backslash).CopyTo(destination[written..]);
            written += backslash;
            i += backslash + 1;
            var escape = source[i++];
            if (escape != (byte)'u')
            {
                destination[written++] = escape switch
                {
                    (byte)'n' => (byte)'\n',
                    (byte)'t' => (byte)'\t',
                    (byte)'r' => (byte)'\r',
                    (byte)'b' => (byte)'\b',
                    (byte)'f' => (byte)'\f',
                    _ => escape, // '"', '\\', '/': validated when the string was read
                };
                continue;
            }

            int codePoint = Hex4(source, i);
            i += 4;
            if (char.IsHighSurrogate((char)codePoint) && i + 6 <= source.Length && source[i] == (byte)'\\' && source[i + 1] == (byte)'u'
                && char.IsLowSurrogate((char)Hex4(source, i + 2)))
            {
                codePoint = char.ConvertToUtf32((char)codePoint, (char)Hex4(source, i + 2));
                i += 6;
            }
            else if (char.IsSurrogate((char)codePoint))
            {
                codePoint = 0xFFFD;
            }

            written += new Rune(codePoint).EncodeToUtf8(destination[written..]);
        }

        return written;
    }

    /// <summary>The value of the four hex digits at <paramref name="at"/>; -1 when one is not a hex digit.</summary>
    private static int Hex4(ReadOnlySpan<byte> text, int at)
    {
        var value = 0;
        for (var i = at; i < at + 4; i++)
        {
            var digit = HexDigit(text[i]);
            if (digit < 0)
            {
                return -1;
            }

            value = (value << 4) | digit;
        }

        return value;
    }

    public static int HexDigit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
