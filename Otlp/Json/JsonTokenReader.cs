using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Trulayer.Otlp.Json;

/// <summary>The kinds of token <see cref="JsonTokenReader"/> reads.</summary>
internal enum JsonToken : byte
{
    None,
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    PropertyName,
    String,
    Number,
    True,
    False,
    Null,
}

/// <summary>
/// A strict, forward-only JSON tokenizer over a complete UTF-8 document (RFC 8259: no comments, no
/// trailing commas, no control characters in strings), shaped like <see cref="Utf8JsonReader"/> but
/// doing only what the OTLP transcoder needs: no line tracking, no partial input, strings found with a
/// vectorized search. Malformed input throws <see cref="JsonException"/> naming the byte offset.
/// </summary>
internal ref struct JsonTokenReader
{
    public const int MaxDepth = 256;

    // What ends the fast scan of a string: its closing quote, an escape, or a character JSON forbids unescaped.
    private static readonly SearchValues<byte> StringSpecials = SearchValues.Create(
        [(byte)'"', (byte)'\\', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    private readonly ReadOnlySpan<byte> _json;
    private readonly bool[] _inArray;
    private int _position;
    private int _depth;
    private int _valueStart;
    private int _valueLength;

    public JsonTokenReader(ReadOnlySpan<byte> json)
    {
        _json = json;
        _inArray = new bool[MaxDepth];
    }

    public JsonToken TokenType { get; private set; }

    /// <summary>A string's or property name's bytes between the quotes (still escaped), or a number's text.</summary>
    public readonly ReadOnlySpan<byte> ValueSpan => _json.Slice(_valueStart, _valueLength);

    public bool ValueIsEscaped { get; private set; }

    public readonly int Position => _position;

    /// <summary>Moves to the next token; false at the end of the document (after the root value).</summary>
    public bool Read()
    {
        SkipWhitespace();
        var token = TokenType;
        if (_position >= _json.Length)
        {
            if (_depth == 0 && token != JsonToken.None && token != JsonToken.PropertyName)
            {
                return false;
            }

            throw Error(token == JsonToken.None ? "the input holds no JSON value" : "the JSON ends early");
        }

        var c = _json[_position];
        switch (token)
        {
            case JsonToken.None:
            case JsonToken.PropertyName:
                ReadValue(c);
                return true;
            case JsonToken.StartObject:
                if (c == (byte)'}')
                {
                    EndContainer(array: false);
                }
                else
                {
                    ReadPropertyName(c);
                }

                return true;
            case JsonToken.StartArray:
                if (c == (byte)']')
                {
                    EndContainer(array: true);
                }
                else
                {
                    ReadValue(c);
                }

                return true;
        }

        // After a complete value: a separator, or the end of the enclosing container.
        if (_depth == 0)
        {
            throw Error($"unexpected '{(char)c}' after the JSON value");
        }

        var inArray = _inArray[_depth - 1];
        if (c == (byte)',')
        {
            _position++;
            SkipWhitespace();
            if (_position >= _json.Length)
            {
                throw Error("the JSON ends early");
            }

            c = _json[_position];
            if (inArray)
            {
                ReadValue(c);
            }
            else
            {
                ReadPropertyName(c);
            }

            return true;
        }

        if (c == (inArray ? (byte)']' : (byte)'}'))
        {
            EndContainer(inArray);
            return true;
        }

        throw Error(inArray ? $"expected ',' or ']', found '{(char)c}'" : $"expected ',' or '}}', found '{(char)c}'");
    }

    /// <summary>Skips the current value: a whole object or array, or the value of a property name.</summary>
    public void Skip()
    {
        if (TokenType == JsonToken.PropertyName)
        {
            Read();
        }

        if (TokenType is JsonToken.StartObject or JsonToken.StartArray)
        {
            var depth = _depth;
            while (_depth >= depth)
            {
                Read();
            }
        }
    }

    /// <summary>Unescapes the current string into <paramref name="destination"/> (at least <see cref="ValueSpan"/>'s length); returns the bytes written.</summary>
    public readonly int CopyString(Span<byte> destination)
    {
        var source = ValueSpan;
        if (!ValueIsEscaped)
        {
            source.CopyTo(destination);
            return source.Length;
        }

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
                codePoint = 0xFFFD; // a lone surrogate has no UTF-8 form
            }

            written += new Rune(codePoint).EncodeToUtf8(destination[written..]);
        }

        return written;
    }

    public readonly bool TryGetInt64(out long value)
        => Utf8Parser.TryParse(ValueSpan, out value, out var consumed) && consumed == _valueLength;

    public readonly bool TryGetUInt64(out ulong value)
        => Utf8Parser.TryParse(ValueSpan, out value, out var consumed) && consumed == _valueLength;

    public readonly bool TryGetInt32(out int value)
        => Utf8Parser.TryParse(ValueSpan, out value, out var consumed) && consumed == _valueLength;

    public readonly bool TryGetDouble(out double value)
        => double.TryParse(ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SkipWhitespace()
    {
        var json = _json;
        var position = _position;
        while (position < json.Length && json[position] <= (byte)' ' && IsWhitespace(json[position]))
        {
            position++;
        }

        _position = position;
    }

    private static bool IsWhitespace(byte c) => c is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';

    private void ReadPropertyName(byte c)
    {
        if (c != (byte)'"')
        {
            throw Error($"expected a property name in quotes, found '{(char)c}'");
        }

        ReadString();
        TokenType = JsonToken.PropertyName;
        SkipWhitespace();
        if (_position >= _json.Length || _json[_position] != (byte)':')
        {
            throw Error("expected ':' after a property name");
        }

        _position++;
    }

    private void ReadValue(byte c)
    {
        switch (c)
        {
            case (byte)'"':
                ReadString();
                TokenType = JsonToken.String;
                break;
            case (byte)'{':
                StartContainer(array: false);
                break;
            case (byte)'[':
                StartContainer(array: true);
                break;
            case (byte)'t':
                ReadLiteral("true"u8, JsonToken.True);
                break;
            case (byte)'f':
                ReadLiteral("false"u8, JsonToken.False);
                break;
            case (byte)'n':
                ReadLiteral("null"u8, JsonToken.Null);
                break;
            case (byte)'-':
            case >= (byte)'0' and <= (byte)'9':
                ReadNumber();
                break;
            default:
                throw Error($"'{(char)c}' cannot start a JSON value");
        }
    }

    private void StartContainer(bool array)
    {
        if (_depth == MaxDepth)
        {
            throw Error($"the JSON nests deeper than {MaxDepth} levels");
        }

        _inArray[_depth++] = array;
        _position++;
        TokenType = array ? JsonToken.StartArray : JsonToken.StartObject;
    }

    private void EndContainer(bool array)
    {
        _depth--;
        _position++;
        TokenType = array ? JsonToken.EndArray : JsonToken.EndObject;
    }

    private void ReadLiteral(ReadOnlySpan<byte> literal, JsonToken token)
    {
        if (!_json[_position..].StartsWith(literal))
        {
            throw Error($"expected {Encoding.ASCII.GetString(literal)}");
        }

        _position += literal.Length;
        TokenType = token;
    }

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

    /// <summary>The whole document, for a caller that reads a value of a known shape itself.</summary>
    public readonly ReadOnlySpan<byte> Document => _json;

    /// <summary>
    /// Continues after a value the caller read itself from <see cref="Position"/> up to
    /// <paramref name="end"/>: the next <see cref="Read"/> expects what follows a complete value.
    /// </summary>
    public void CompleteValue(int end)
    {
        _position = end;
        TokenType = JsonToken.EndObject;
    }

    private void ReadString()
    {
        var start = _position + 1;
        var at = start;
        var escaped = false;
        while (true)
        {
            at = FindStringStop(_json, at);
            if (at < 0)
            {
                throw Error("a string is not terminated");
            }

            var c = _json[at];
            if (c == (byte)'"')
            {
                break;
            }

            if (c != (byte)'\\')
            {
                throw Error($"a string holds the control character 0x{c:X2}, which JSON requires to be escaped");
            }

            escaped = true;
            at += 1 + ValidateEscape(at + 1);
        }

        _valueStart = start;
        _valueLength = at - start;
        ValueIsEscaped = escaped;
        _position = at + 1;
    }

    /// <summary>Checks the escape after a backslash at <paramref name="at"/>; returns its length.</summary>
    private readonly int ValidateEscape(int at)
    {
        if (at >= _json.Length)
        {
            throw Error("a string is not terminated");
        }

        switch (_json[at])
        {
            case (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                return 1;
            case (byte)'u':
                if (at + 5 > _json.Length || Hex4(_json, at + 1) < 0)
                {
                    throw Error("\\u must be followed by four hex digits");
                }

                return 5;
            default:
                throw Error($"'\\{(char)_json[at]}' is not a JSON escape");
        }
    }

    private static int Hex4(ReadOnlySpan<byte> text, int at)
    {
        var value = 0;
        for (var i = at; i < at + 4; i++)
        {
            var digit = text[i] switch
            {
                >= (byte)'0' and <= (byte)'9' => text[i] - '0',
                >= (byte)'a' and <= (byte)'f' => text[i] - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => text[i] - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return -1;
            }

            value = (value << 4) | digit;
        }

        return value;
    }

    private void ReadNumber()
    {
        var start = _position;
        var at = FindNumberEnd(_json, start);
        if (at < 0)
        {
            throw Error("a number is malformed");
        }

        _valueStart = start;
        _valueLength = at - start;
        ValueIsEscaped = false;
        _position = at;
        TokenType = JsonToken.Number;
    }

    private readonly JsonException Error(string problem) => new($"{problem} (at byte {_position})");
}
