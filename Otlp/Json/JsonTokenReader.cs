using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Trulayer.Otlp.Json;

/// <summary>
/// A strict, forward-only JSON tokenizer over a complete UTF-8 document (RFC 8259: no comments, no
/// trailing commas, no control characters in strings), shaped like <see cref="Utf8JsonReader"/> but
/// doing only what the OTLP transcoder needs: no line tracking, no partial input, strings found with a
/// vectorized search. Malformed input throws <see cref="JsonException"/> naming the byte offset.
/// </summary>
internal ref struct JsonTokenReader : IJsonTokenSource
{
    public const int MaxDepth = 256;

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

    public JsonTokenType TokenType { get; private set; }

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
            if (_depth == 0 && token != JsonTokenType.None && token != JsonTokenType.PropertyName)
            {
                return false;
            }

            throw Error(token == JsonTokenType.None ? "the input holds no JSON value" : "the JSON ends early");
        }

        var c = _json[_position];
        switch (token)
        {
            case JsonTokenType.None:
            case JsonTokenType.PropertyName:
                ReadValue(c);
                return true;
            case JsonTokenType.StartObject:
                if (c == (byte)'}')
                {
                    EndContainer(array: false);
                }
                else
                {
                    ReadPropertyName(c);
                }

                return true;
            case JsonTokenType.StartArray:
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
        if (TokenType == JsonTokenType.PropertyName)
        {
            Read();
        }

        if (TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            var depth = _depth;
            while (_depth >= depth)
            {
                Read();
            }
        }
    }

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
        TokenType = JsonTokenType.PropertyName;
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
                TokenType = JsonTokenType.String;
                break;
            case (byte)'{':
                StartContainer(array: false);
                break;
            case (byte)'[':
                StartContainer(array: true);
                break;
            case (byte)'t':
                ReadLiteral("true"u8, JsonTokenType.True);
                break;
            case (byte)'f':
                ReadLiteral("false"u8, JsonTokenType.False);
                break;
            case (byte)'n':
                ReadLiteral("null"u8, JsonTokenType.Null);
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
        TokenType = array ? JsonTokenType.StartArray : JsonTokenType.StartObject;
    }

    private void EndContainer(bool array)
    {
        _depth--;
        _position++;
        TokenType = array ? JsonTokenType.EndArray : JsonTokenType.EndObject;
    }

    private void ReadLiteral(ReadOnlySpan<byte> literal, JsonTokenType token)
    {
        if (!_json[_position..].StartsWith(literal))
        {
            throw Error($"expected {Encoding.ASCII.GetString(literal)}");
        }

        _position += literal.Length;
        TokenType = token;
    }

    public readonly ReadOnlySpan<byte> Document => _json;

    public void CompleteElement(int end)
    {
        _position = end;
        TokenType = JsonTokenType.EndObject;
    }

    public readonly string Explain(JsonException error) => error.Message;

    private void ReadString()
    {
        var start = _position + 1;
        var at = start;
        var escaped = false;
        while (true)
        {
            at = JsonText.FindStringStop(_json, at);
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
                if (at + 5 > _json.Length || JsonText.Hex4(_json, at + 1) < 0)
                {
                    throw Error("\\u must be followed by four hex digits");
                }

                return 5;
            default:
                throw Error($"'\\{(char)_json[at]}' is not a JSON escape");
        }
    }

    private void ReadNumber()
    {
        var start = _position;
        var at = JsonText.FindNumberEnd(_json, start);
        if (at < 0)
        {
            throw Error("a number is malformed");
        }

        _valueStart = start;
        _valueLength = at - start;
        ValueIsEscaped = false;
        _position = at;
        TokenType = JsonTokenType.Number;
    }

    private readonly JsonException Error(string problem) => new($"{problem} (at byte {_position})");
}
