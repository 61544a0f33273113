using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Otlp.Json;

/// <summary>
/// Reads an OTLP/JSON document and writes the same message in the protobuf wire format, in one pass
/// without building objects, as the message tables in <see cref="OtlpJsonMessages"/> describe it.
/// Follows the OTLP/JSON rules rather than proto3's canonical JSON: trace and span ids are hex (either
/// case), 64-bit integers may be strings or numbers, enums are integers (their names are accepted too),
/// keys are lowerCamelCase or snake_case, unknown keys and null values are ignored, every AnyValue kind
/// is read (bytesValue as base64). System.Text.Json's Utf8JsonReader tokenizes.
/// </summary>
internal ref struct OtlpJsonTranscoder
{
    private const int MaxIdBytes = 64;
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private Utf8JsonTokenReader _reader;
    private readonly ProtobufBuilder _output;
    private readonly JsonPathTracker _path;

    // Where escaped ids, numbers, enum names and keys are unescaped.
    private readonly byte[] _scratch = new byte[MaxIdBytes * 2];

    // The containers the reader is in, innermost last: a bit each (1 for an array) after a leading 1, or 0
    // when they are too many for 64 bits. The reader keys what it remembers about an array position on it.
    private ulong _containers = 1;

    private OtlpJsonTranscoder(ReadOnlySpan<byte> json, ProtobufBuilder output)
    {
        // A UTF-8 byte order mark may start a JSON text; it is not part of the value.
        _reader = new Utf8JsonTokenReader(json.StartsWith(Utf8Bom) ? json[Utf8Bom.Length..] : json);
        _output = output;
        _path = new JsonPathTracker();
    }

    /// <summary>Transcodes <paramref name="utf8Json"/>, a <paramref name="document"/>, into <paramref name="output"/>; throws <see cref="OtlpJsonException"/>.</summary>
    public static void Transcode(ReadOnlySpan<byte> utf8Json, OtlpJsonMessage document, ProtobufBuilder output)
    {
        var transcoder = new OtlpJsonTranscoder(utf8Json, output);
        try
        {
            transcoder.ReadDocument(document);
        }
        catch (JsonException ex)
        {
            throw new OtlpJsonException(transcoder._path.ToString(), "invalid JSON: " + transcoder._reader.Explain(ex));
        }
    }

    private void ReadDocument(OtlpJsonMessage document)
    {
        _reader.Read();
        ReadFields(document);

        // Reading past the object makes the reader refuse anything but whitespace after it.
        _reader.Read();
    }

    // ---- messages, as their tables say ----

    /// <summary>Reads the object at the reader as <paramref name="message"/>'s fields, skipping keys it does not have.</summary>
    private void ReadFields(OtlpJsonMessage message)
    {
        ExpectObject();
        var outer = EnterContainer(array: false);
        while (NextProperty(out var key))
        {
            if (message[key] is { } field)
            {
                ReadField(field);
            }
            else
            {
                _reader.Skip();
            }
        }

        _containers = outer;
    }

    /// <summary>Reads a property's value as <paramref name="field"/>.</summary>
    private void ReadField(OtlpJsonFieldShape field)
    {
        if (field.Repeated)
        {
            _path.Push(field.Field);
            ExpectArray();
            ReadElements(field);
            _path.Pop();
        }
        else if (field.Kind == OtlpJsonKind.Message)
        {
            _path.Push(field.Field);
            ReadMessage(field);
            _path.Pop();
        }
        else
        {
            WriteScalar(field, field.Field);
        }
    }

    /// <summary>Reads the elements of the array at the reader, each one a <paramref name="field"/> (the path's last step counts them).</summary>
    private void ReadElements(OtlpJsonFieldShape field)
    {
        var outer = EnterContainer(array: true);
        var keyValues = field.Message == OtlpJsonMessages.KeyValue;
        var index = -1;
        while (true)
        {
            if (keyValues)
            {
                ReadCompactKeyValues(field.Number, ref index);
            }

            if (!NextElement(ref index))
            {
                break;
            }

            if (field.Kind == OtlpJsonKind.Message)
            {
                ReadMessage(field);
            }
            else
            {
                WriteScalar(field, OtlpJsonField.Unknown);
            }
        }

        _containers = outer;
    }

    /// <summary>Notes that the reader has entered an object or an array; returns what to restore on leaving it.</summary>
    private ulong EnterContainer(bool array)
    {
        var outer = _containers;
        _containers = outer == 0 || outer >> 63 != 0 ? 0 : (outer << 1) | (array ? 1UL : 0UL);
        return outer;
    }

    private void ReadMessage(OtlpJsonFieldShape field)
    {
        var message = field.Message!;
        if (message.Small)
        {
            _output.BeginSmallMessage(field.Number);
        }
        else
        {
            _output.BeginMessage(field.Number);
        }

        if (message.BareArray is { } items && _reader.TokenType == JsonTokenType.StartArray)
        {
            ReadElements(items);
        }
        else
        {
            ReadFields(message);
        }

        _output.EndMessage();
    }

    /// <summary>
    /// Writes the scalar at the reader as <paramref name="field"/>; <paramref name="leaf"/> names it in
    /// error paths (Unknown where the path already does: an array's element).
    /// </summary>
    private void WriteScalar(OtlpJsonFieldShape field, OtlpJsonField leaf)
    {
        var number = field.Number;
        var always = field.Always;
        switch (field.Kind)
        {
            case OtlpJsonKind.String:
                WriteString(leaf, number, always);
                break;
            case OtlpJsonKind.HexBytes:
                WriteHexId(leaf, number, always);
                break;
            case OtlpJsonKind.Base64Bytes:
                WriteBase64(leaf, number, always);
                break;
            case OtlpJsonKind.Fixed32:
                var fixed32 = ReadUInt32(leaf);
                if (fixed32 != 0 || always)
                {
                    _output.WriteFixed32Field(number, fixed32);
                }

                break;
            case OtlpJsonKind.Fixed64 or OtlpJsonKind.Double:
                var fixed64 = field.Kind == OtlpJsonKind.Fixed64 ? ReadUInt64(leaf) : BitConverter.DoubleToUInt64Bits(ReadDouble(leaf));
                if (fixed64 != 0 || always)
                {
                    _output.WriteFixed64Field(number, fixed64);
                }

                break;
            default:
                var varint = field.Kind switch
                {
                    OtlpJsonKind.Bool => ReadBool(leaf) ? 1UL : 0UL,
                    OtlpJsonKind.Int64 => unchecked((ulong)ReadInt64(leaf)),
                    OtlpJsonKind.UInt32 => ReadUInt32(leaf),
                    OtlpJsonKind.Enum => unchecked((ulong)(long)ReadEnum(leaf, field.EnumNames!)),
                    _ => throw new InvalidOperationException($"no reader for {field.Kind}"),
                };
                if (varint != 0 || always)
                {
                    _output.WriteVarintField(number, varint);
                }

                break;
        }
    }

    private enum CompactKind
    {
        String,
        Int,
        Double,
        Bool,
    }

    /// <summary>
    /// Reads the KeyValues that follow in the array at the reader as long as they have the compact shape
    /// SDKs and Collectors send, <c>{"key":"k","value":{"stringValue":"v"}}</c> (or intValue, doubleValue,
    /// boolValue) without whitespace or escapes, writing each at once, its sizes known before writing; then
    /// moves the reader past them in one step. The first element of any other shape is left to be read token
    /// by token: the fast path changes the speed, never the result.
    /// </summary>
    private void ReadCompactKeyValues(int fieldNumber, ref int index)
    {
        var json = _reader.Document;
        var at = _reader.Position;
        var read = 0;
        while (TryReadCompactKeyValue(fieldNumber, json, ref at, afterElement: read > 0 || _reader.TokenType != JsonTokenType.StartArray))
        {
            read++;
        }

        if (read > 0)
        {
            index += read;
            _path.SetIndex(index);
            _reader.CompleteElements(at, _containers);
        }
    }

    /// <summary>One compact KeyValue at <paramref name="next"/> (after a comma when <paramref name="afterElement"/>); on success, <paramref name="next"/> moves past it.</summary>
    private bool TryReadCompactKeyValue(int fieldNumber, ReadOnlySpan<byte> json, ref int next, bool afterElement)
    {
        var at = next;
        if (afterElement)
        {
            if (at >= json.Length || json[at] != (byte)',')
            {
                return false;
            }

            at++;
        }

        if (!json[at..].StartsWith("{\"key\":\""u8))
        {
            return false;
        }

        var keyStart = at + 8;
        var keyEnd = JsonText.FindStringStop(json, keyStart);
        if (keyEnd < 0 || json[keyEnd] != (byte)'"' || !json[(keyEnd + 1)..].StartsWith(",\"value\":{\""u8))
        {
            return false;
        }

        at = keyEnd + 12;
        var rest = json[at..];
        CompactKind kind;
        var valueStart = 0;
        var valueLength = 0;
        ulong scalar = 0;
        if (rest.StartsWith("stringValue\":\""u8))
        {
            valueStart = at + 14;
            var end = JsonText.FindStringStop(json, valueStart);
            if (end < 0 || json[end] != (byte)'"')
            {
                return false;
            }

            kind = CompactKind.String;
            valueLength = end - valueStart;
            at = end + 1;
        }
        else if (rest.StartsWith("intValue\":"u8))
        {
            at += 10;
            var quoted = at < json.Length && json[at] == (byte)'"';
            at += quoted ? 1 : 0;
            var end = JsonText.FindNumberEnd(json, at);
            if (end < 0 || !Utf8Parser.TryParse(json[at..end], out long value, out var consumed) || consumed != end - at)
            {
                return false;
            }

            if (quoted && (end >= json.Length || json[end++] != (byte)'"'))
            {
                return false;
            }

            kind = CompactKind.Int;
            scalar = unchecked((ulong)value);
            at = end;
        }
        else if (rest.StartsWith("doubleValue\":"u8))
        {
            at += 13;
            var end = JsonText.FindNumberEnd(json, at);
            if (end < 0 || !double.TryParse(json[at..end], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            kind = CompactKind.Double;
            scalar = BitConverter.DoubleToUInt64Bits(value);
            at = end;
        }
        else if (rest.StartsWith("boolValue\":true"u8))
        {
            kind = CompactKind.Bool;
            scalar = 1;
            at += 15;
        }
        else if (rest.StartsWith("boolValue\":false"u8))
        {
            kind = CompactKind.Bool;
            at += 16;
        }
        else
        {
            return false;
        }

        if (!json[at..].StartsWith("}}"u8))
        {
            return false;
        }

        var keyLength = keyEnd - keyStart;
        var anyLength = kind switch
        {
            CompactKind.String => 1 + ProtoWire.VarintSize((uint)valueLength) + valueLength,
            CompactKind.Int => 1 + ProtoWire.VarintSize(scalar),
            CompactKind.Double => 9,
            _ => 2,
        };
        var keyValueLength = (keyLength > 0 ? 1 + ProtoWire.VarintSize((uint)keyLength) + keyLength : 0) + 1 + ProtoWire.VarintSize((uint)anyLength) + anyLength;
        _output.WriteLengthPrefix(fieldNumber, keyValueLength);
        if (keyLength > 0)
        {
            _output.WriteBytesField(1, json.Slice(keyStart, keyLength));
        }

        _output.WriteLengthPrefix(2, anyLength);
        switch (kind)
        {
            case CompactKind.String:
                _output.WriteBytesField(1, json.Slice(valueStart, valueLength));
                break;
            case CompactKind.Int:
                _output.WriteVarintField(3, scalar);
                break;
            case CompactKind.Double:
                _output.WriteFixed64Field(4, scalar);
                break;
            default:
                _output.WriteVarintField(2, scalar);
                break;
        }

        next = at + 2;
        return true;
    }

    // ---- scalars ----

    private void WriteString(OtlpJsonField leaf, int fieldNumber, bool evenIfEmpty)
    {
        if (_reader.TokenType != JsonTokenType.String)
        {
            throw Error(leaf, $"expected a string, got {Describe()}");
        }

        var text = _reader.ValueSpan;
        if (!_reader.ValueIsEscaped)
        {
            if (evenIfEmpty || text.Length > 0)
            {
                _output.WriteBytesField(fieldNumber, text);
            }

            return;
        }

        // Unescaped straight into the output: the unescaped text is never longer than the escaped.
        _output.BeginSmallMessage(fieldNumber);
        _output.Advance(JsonText.Unescape(text, _output.GetSpan(text.Length)));
        _output.EndMessage();
    }

    private void WriteHexId(OtlpJsonField leaf, int fieldNumber, bool evenIfEmpty)
    {
        if (_reader.TokenType != JsonTokenType.String)
        {
            throw Error(leaf, $"expected a hex string, got {Describe()}");
        }

        var hex = Unescaped(leaf, MaxIdBytes * 2, "a hex id");
        if (hex.Length == 0 && !evenIfEmpty)
        {
            return;
        }

        if (hex.Length % 2 != 0 || hex.Length > MaxIdBytes * 2)
        {
            throw Error(leaf, $"expected an even number of hex digits (at most {MaxIdBytes * 2}), got {hex.Length}: {Quote(hex)}");
        }

        Span<byte> id = stackalloc byte[hex.Length / 2];
        for (var i = 0; i < id.Length; i++)
        {
            var high = JsonText.HexDigit(hex[2 * i]);
            var low = JsonText.HexDigit(hex[(2 * i) + 1]);
            if ((high | low) < 0)
            {
                throw Error(leaf, $"expected hex digits (OTLP/JSON encodes ids as hex, not base64), got {Quote(hex)}");
            }

            id[i] = (byte)((high << 4) | low);
        }

        _output.WriteBytesField(fieldNumber, id);
    }

    private void WriteBase64(OtlpJsonField leaf, int fieldNumber, bool evenIfEmpty)
    {
        if (_reader.TokenType != JsonTokenType.String)
        {
            throw Error(leaf, $"expected a base64 string, got {Describe()}");
        }

        var text = _reader.ValueSpan;
        var rented = ArrayPool<byte>.Shared.Rent(text.Length + 4);
        try
        {
            int length;
            if (_reader.ValueIsEscaped)
            {
                length = JsonText.Unescape(text, rented);
            }
            else
            {
                text.CopyTo(rented);
                length = text.Length;
            }

            // Accept the URL-safe alphabet and missing padding, as proto3 JSON parsers do.
            for (var i = 0; i < length; i++)
            {
                rented[i] = rented[i] switch { (byte)'-' => (byte)'+', (byte)'_' => (byte)'/', var b => b };
            }

            while (length % 4 != 0)
            {
                rented[length++] = (byte)'=';
            }

            var status = Base64.DecodeFromUtf8InPlace(rented.AsSpan(0, length), out var written);
            if (status != OperationStatus.Done)
            {
                throw Error(leaf, "expected base64");
            }

            if (written > 0 || evenIfEmpty)
            {
                _output.WriteBytesField(fieldNumber, rented.AsSpan(0, written));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private int ReadEnum(OtlpJsonField leaf, string?[] names)
    {
        int value;
        if (_reader.TokenType == JsonTokenType.Number)
        {
            if (!Utf8Parser.TryParse(_reader.ValueSpan, out value, out var consumed) || consumed != _reader.ValueSpan.Length)
            {
                throw Error(leaf, $"expected an enum number, got {Describe()}");
            }
        }
        else if (_reader.TokenType == JsonTokenType.String)
        {
            var name = Unescaped(leaf, 64, "an enum name");
            value = IndexOfName(names, name);
            if (value < 0 && !(Utf8Parser.TryParse(name, out value, out var consumed) && consumed == name.Length))
            {
                throw Error(leaf, $"expected an enum number or one of {string.Join(", ", names.OfType<string>())}, got {Quote(name)}");
            }
        }
        else
        {
            throw Error(leaf, $"expected an enum number, got {Describe()}");
        }

        return value;
    }

    private static int IndexOfName(string?[] names, ReadOnlySpan<byte> name)
    {
        for (var i = 0; i < names.Length; i++)
        {
            if (names[i] is { } known && Ascii.Equals(name, known))
            {
                return i;
            }
        }

        return -1;
    }

    private bool ReadBool(OtlpJsonField leaf) => _reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw Error(leaf, $"expected true or false, got {Describe()}"),
    };

    private ulong ReadUInt64(OtlpJsonField leaf)
    {
        var digits = IntegerText(leaf, "an unsigned integer");
        return Utf8Parser.TryParse(digits, out ulong value, out var consumed) && consumed == digits.Length
            ? value
            : throw Error(leaf, $"expected an unsigned 64-bit integer (a number or a decimal string), got {Describe()}");
    }

    private uint ReadUInt32(OtlpJsonField leaf)
    {
        var value = ReadUInt64(leaf);
        return value <= uint.MaxValue ? (uint)value : throw Error(leaf, $"expected an unsigned 32-bit integer, got {value}");
    }

    private long ReadInt64(OtlpJsonField leaf)
    {
        var digits = IntegerText(leaf, "an integer");
        return Utf8Parser.TryParse(digits, out long value, out var consumed) && consumed == digits.Length
            ? value
            : throw Error(leaf, $"expected a 64-bit integer (a number or a decimal string), got {Describe()}");
    }

    /// <summary>A number's text, or a string's (OTLP/JSON writes 64-bit integers as either); empty for any other token.</summary>
    private ReadOnlySpan<byte> IntegerText(OtlpJsonField leaf, string what) => _reader.TokenType switch
    {
        JsonTokenType.Number => _reader.ValueSpan,
        JsonTokenType.String => Unescaped(leaf, 32, what),
        _ => default,
    };

    private double ReadDouble(OtlpJsonField leaf)
    {
        if (_reader.TokenType == JsonTokenType.Number && double.TryParse(_reader.ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        if (_reader.TokenType == JsonTokenType.String)
        {
            var value = Unescaped(leaf, 64, "a number");
            if (value.SequenceEqual("NaN"u8))
            {
                return double.NaN;
            }

            if (value.SequenceEqual("Infinity"u8))
            {
                return double.PositiveInfinity;
            }

            if (value.SequenceEqual("-Infinity"u8))
            {
                return double.NegativeInfinity;
            }

            if (Utf8Parser.TryParse(value, out double parsed, out var consumed) && consumed == value.Length)
            {
                return parsed;
            }
        }

        throw Error(leaf, $"expected a number (or \"NaN\", \"Infinity\", \"-Infinity\"), got {Describe()}");
    }

    /// <summary>
    /// The current string token's unescaped bytes: the token itself, or a copy in the scratch buffer when
    /// it had escapes, which may be at most <paramref name="maxLength"/> bytes long before unescaping.
    /// </summary>
    private ReadOnlySpan<byte> Unescaped(OtlpJsonField leaf, int maxLength, string what)
    {
        var text = _reader.ValueSpan;
        if (!_reader.ValueIsEscaped)
        {
            return text;
        }

        if (text.Length > maxLength)
        {
            throw Error(leaf, $"expected {what}, got a string of {text.Length} bytes");
        }

        return _scratch.AsSpan(0, JsonText.Unescape(text, _scratch));
    }

    // ---- structure ----

    /// <summary>
    /// Moves to the next property of the current object and onto its value; false at the object's end.
    /// Properties whose value is null are skipped: null means "not set" in proto3 JSON.
    /// </summary>
    private bool NextProperty(out OtlpJsonField field)
    {
        while (true)
        {
            _reader.Read();
            if (_reader.TokenType == JsonTokenType.EndObject)
            {
                field = OtlpJsonField.Unknown;
                return false;
            }

            field = _reader.ValueIsEscaped ? MatchEscapedName() : OtlpJsonFields.Match(_reader.ValueSpan);

            _reader.Read();
            if (_reader.TokenType != JsonTokenType.Null)
            {
                return true;
            }
        }
    }

    private OtlpJsonField MatchEscapedName()
    {
        var escaped = _reader.ValueSpan;
        return escaped.Length <= _scratch.Length ? OtlpJsonFields.Match(_scratch.AsSpan(0, JsonText.Unescape(escaped, _scratch))) : OtlpJsonField.Unknown;
    }

    private bool NextElement(ref int index)
    {
        _reader.Read();
        if (_reader.TokenType == JsonTokenType.EndArray)
        {
            return false;
        }

        _path.SetIndex(++index);
        return true;
    }

    private void ExpectObject()
    {
        if (_reader.TokenType != JsonTokenType.StartObject)
        {
            throw Error(OtlpJsonField.Unknown, $"expected an object, got {Describe()}");
        }
    }

    private void ExpectArray()
    {
        if (_reader.TokenType != JsonTokenType.StartArray)
        {
            throw Error(OtlpJsonField.Unknown, $"expected an array, got {Describe()}");
        }
    }

    private string Describe() => _reader.TokenType switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "the string " + Quote(_reader.ValueSpan),
        JsonTokenType.Number => "the number " + Encoding.UTF8.GetString(_reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => _reader.TokenType.ToString(),
    };

    private static string Quote(ReadOnlySpan<byte> text)
    {
        const int Max = 48;
        var shown = Encoding.UTF8.GetString(text.Length > Max ? text[..Max] : text);
        return text.Length > Max ? $"\"{shown}...\"" : $"\"{shown}\"";
    }

    /// <summary>An error at the current path, or at its property <paramref name="leaf"/> unless that is Unknown.</summary>
    private readonly OtlpJsonException Error(OtlpJsonField leaf, string problem)
        => new(leaf == OtlpJsonField.Unknown ? _path.ToString() : _path.ToString(leaf), problem);
}

/// <summary>The JSON path of the value being read (<c>resourceSpans[0].scopeSpans[1].spans[2]</c>), kept cheaply and printed only for errors.</summary>
internal sealed class JsonPathTracker
{
    private OtlpJsonField[] _fields = new OtlpJsonField[16];
    private int[] _indexes = new int[16];
    private int _depth;

    public void Push(OtlpJsonField field)
    {
        if (_depth == _fields.Length)
        {
            Array.Resize(ref _fields, _depth * 2);
            Array.Resize(ref _indexes, _depth * 2);
        }

        _fields[_depth] = field;
        _indexes[_depth] = -1;
        _depth++;
    }

    public void Pop() => _depth--;

    public void SetIndex(int index) => _indexes[_depth - 1] = index;

    public override string ToString() => Format(null);

    /// <summary>The path of <paramref name="leaf"/>, a scalar property of the current object.</summary>
    public string ToString(OtlpJsonField leaf) => Format(leaf);

    private string Format(OtlpJsonField? leaf)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < _depth; i++)
        {
            if (builder.Length > 0)
            {
                builder.Append('.');
            }

            builder.Append(OtlpJsonFields.Name(_fields[i]));
            if (_indexes[i] >= 0)
            {
                builder.Append('[').Append(_indexes[i]).Append(']');
            }
        }

        if (leaf is { } field)
        {
            if (builder.Length > 0)
            {
                builder.Append('.');
            }

            builder.Append(OtlpJsonFields.Name(field));
        }

        return builder.Length == 0 ? "(root)" : builder.ToString();
    }
}
