using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Otlp.Json;

/// <summary>
/// Reads OTLP/JSON traces (an ExportTraceServiceRequest or a TracesData: both are
/// <c>{"resourceSpans": [...]}</c>) and writes the same message in the protobuf wire format, in one
/// pass without building objects. Follows the OTLP/JSON rules rather than proto3's canonical JSON:
/// trace and span ids are hex (either case), 64-bit integers may be strings or numbers, enums are
/// integers (their names are accepted too), keys are lowerCamelCase or snake_case, unknown keys and
/// null values are ignored, every AnyValue kind is read (bytesValue as base64).
/// </summary>
internal ref struct OtlpJsonTranscoder
{
    private const int MaxIdBytes = 64;
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private JsonTokenReader _reader;
    private readonly ProtobufBuilder _output;
    private readonly JsonPathTracker _path;

    private OtlpJsonTranscoder(ReadOnlySpan<byte> json, ProtobufBuilder output)
    {
        // A UTF-8 byte order mark may start a JSON text; it is not part of the value.
        _reader = new JsonTokenReader(json.StartsWith(Utf8Bom) ? json[Utf8Bom.Length..] : json);
        _output = output;
        _path = new JsonPathTracker();
    }

    /// <summary>Transcodes <paramref name="utf8Json"/> into <paramref name="output"/>; throws <see cref="OtlpJsonException"/>.</summary>
    public static void Transcode(ReadOnlySpan<byte> utf8Json, ProtobufBuilder output)
    {
        var transcoder = new OtlpJsonTranscoder(utf8Json, output);
        try
        {
            transcoder.ReadDocument();
        }
        catch (JsonException ex)
        {
            throw new OtlpJsonException(transcoder._path.ToString(), "invalid JSON: " + ex.Message);
        }
    }

    private void ReadDocument()
    {
        _reader.Read();
        ExpectObject();
        while (NextProperty(out var field))
        {
            if (field == OtlpJsonField.ResourceSpans)
            {
                ReadRepeatedMessages(field, 1);
            }
            else
            {
                _reader.Skip();
            }
        }

        // Reading past the object makes the reader refuse anything but whitespace after it.
        _reader.Read();
    }

    private void ReadRepeatedMessages(OtlpJsonField field, int fieldNumber)
    {
        _path.Push(field);
        ExpectArray();
        var index = -1;
        while (true)
        {
            if (field == OtlpJsonField.Attributes && TryReadCompactKeyValue(fieldNumber))
            {
                _path.SetIndex(++index);
                continue;
            }

            if (!NextElement(ref index))
            {
                break;
            }

            switch (field)
            {
                case OtlpJsonField.ResourceSpans:
                    ReadResourceSpans(fieldNumber);
                    break;
                case OtlpJsonField.ScopeSpans:
                    ReadScopeSpans(fieldNumber);
                    break;
                case OtlpJsonField.Spans:
                    ReadSpan(fieldNumber);
                    break;
                case OtlpJsonField.Attributes:
                    ReadKeyValue(fieldNumber);
                    break;
                case OtlpJsonField.Events:
                    ReadEvent(fieldNumber);
                    break;
                case OtlpJsonField.Links:
                    ReadLink(fieldNumber);
                    break;
                case OtlpJsonField.EntityRefs:
                    ReadEntityRef(fieldNumber);
                    break;
                default:
                    throw new InvalidOperationException($"no reader for repeated {field}");
            }
        }

        _path.Pop();
    }

    private void ReadResourceSpans(int fieldNumber)
    {
        ExpectObject();
        _output.BeginMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.Resource:
                    _path.Push(field);
                    ReadResource(1);
                    _path.Pop();
                    break;
                case OtlpJsonField.ScopeSpans:
                    ReadRepeatedMessages(field, 2);
                    break;
                case OtlpJsonField.SchemaUrl:
                    WriteString(field, 3);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadResource(int fieldNumber)
    {
        ExpectObject();
        _output.BeginMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.Attributes:
                    ReadRepeatedMessages(field, 1);
                    break;
                case OtlpJsonField.DroppedAttributesCount:
                    WriteUInt32(field, 2);
                    break;
                case OtlpJsonField.EntityRefs:
                    ReadRepeatedMessages(field, 3);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadEntityRef(int fieldNumber)
    {
        ExpectObject();
        _output.BeginSmallMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.SchemaUrl:
                    WriteString(field, 1);
                    break;
                case OtlpJsonField.Type:
                    WriteString(field, 2);
                    break;
                case OtlpJsonField.IdKeys:
                    WriteRepeatedStrings(field, 3);
                    break;
                case OtlpJsonField.DescriptionKeys:
                    WriteRepeatedStrings(field, 4);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadScopeSpans(int fieldNumber)
    {
        ExpectObject();
        _output.BeginMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.Scope:
                    _path.Push(field);
                    ReadScope(1);
                    _path.Pop();
                    break;
                case OtlpJsonField.Spans:
                    ReadRepeatedMessages(field, 2);
                    break;
                case OtlpJsonField.SchemaUrl:
                    WriteString(field, 3);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadScope(int fieldNumber)
    {
        ExpectObject();
        _output.BeginMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.Name:
                    WriteString(field, 1);
                    break;
                case OtlpJsonField.Version:
                    WriteString(field, 2);
                    break;
                case OtlpJsonField.Attributes:
                    ReadRepeatedMessages(field, 3);
                    break;
                case OtlpJsonField.DroppedAttributesCount:
                    WriteUInt32(field, 4);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadSpan(int fieldNumber)
    {
        ExpectObject();
        _output.BeginMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.TraceId:
                    WriteHexId(field, 1);
                    break;
                case OtlpJsonField.SpanId:
                    WriteHexId(field, 2);
                    break;
                case OtlpJsonField.TraceState:
                    WriteString(field, 3);
                    break;
                case OtlpJsonField.ParentSpanId:
                    WriteHexId(field, 4);
                    break;
                case OtlpJsonField.Name:
                    WriteString(field, 5);
                    break;
                case OtlpJsonField.Kind:
                    WriteEnum(field, 6, SpanKindNames);
                    break;
                case OtlpJsonField.StartTimeUnixNano:
                    WriteFixed64(field, 7);
                    break;
                case OtlpJsonField.EndTimeUnixNano:
                    WriteFixed64(field, 8);
                    break;
                case OtlpJsonField.Attributes:
                    ReadRepeatedMessages(field, 9);
                    break;
                case OtlpJsonField.DroppedAttributesCount:
                    WriteUInt32(field, 10);
                    break;
                case OtlpJsonField.Events:
                    ReadRepeatedMessages(field, 11);
                    break;
                case OtlpJsonField.DroppedEventsCount:
                    WriteUInt32(field, 12);
                    break;
                case OtlpJsonField.Links:
                    ReadRepeatedMessages(field, 13);
                    break;
                case OtlpJsonField.DroppedLinksCount:
                    WriteUInt32(field, 14);
                    break;
                case OtlpJsonField.Status:
                    _path.Push(field);
                    ReadStatus(15);
                    _path.Pop();
                    break;
                case OtlpJsonField.Flags:
                    WriteFixed32(field, 16);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadEvent(int fieldNumber)
    {
        ExpectObject();
        _output.BeginSmallMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.TimeUnixNano:
                    WriteFixed64(field, 1);
                    break;
                case OtlpJsonField.Name:
                    WriteString(field, 2);
                    break;
                case OtlpJsonField.Attributes:
                    ReadRepeatedMessages(field, 3);
                    break;
                case OtlpJsonField.DroppedAttributesCount:
                    WriteUInt32(field, 4);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadLink(int fieldNumber)
    {
        ExpectObject();
        _output.BeginSmallMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.TraceId:
                    WriteHexId(field, 1);
                    break;
                case OtlpJsonField.SpanId:
                    WriteHexId(field, 2);
                    break;
                case OtlpJsonField.TraceState:
                    WriteString(field, 3);
                    break;
                case OtlpJsonField.Attributes:
                    ReadRepeatedMessages(field, 4);
                    break;
                case OtlpJsonField.DroppedAttributesCount:
                    WriteUInt32(field, 5);
                    break;
                case OtlpJsonField.Flags:
                    WriteFixed32(field, 6);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadStatus(int fieldNumber)
    {
        ExpectObject();
        _output.BeginSmallMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.Message:
                    WriteString(field, 2);
                    break;
                case OtlpJsonField.Code:
                    WriteEnum(field, 3, StatusCodeNames);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadKeyValue(int fieldNumber)
    {
        ExpectObject();
        _output.BeginSmallMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            switch (field)
            {
                case OtlpJsonField.Key:
                    WriteString(field, 1);
                    break;
                case OtlpJsonField.Value:
                    _path.Push(field);
                    ReadAnyValue(2);
                    _path.Pop();
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    private void ReadAnyValue(int fieldNumber)
    {
        ExpectObject();
        _output.BeginSmallMessage(fieldNumber);
        while (NextProperty(out var field))
        {
            // A oneof: every kind is written even when it holds its type's default (0, false, ""),
            // because which kind is set is itself the value.
            switch (field)
            {
                case OtlpJsonField.StringValue:
                    WriteString(field, 1, evenIfEmpty: true);
                    break;
                case OtlpJsonField.BoolValue:
                    _output.WriteVarintField(2, ReadBool(field) ? 1UL : 0UL);
                    break;
                case OtlpJsonField.IntValue:
                    _output.WriteVarintField(3, unchecked((ulong)ReadInt64(field)));
                    break;
                case OtlpJsonField.DoubleValue:
                    _output.WriteDoubleField(4, ReadDouble(field));
                    break;
                case OtlpJsonField.ArrayValue:
                    _path.Push(field);
                    ReadValueList(5, keyValues: false);
                    _path.Pop();
                    break;
                case OtlpJsonField.KvlistValue:
                    _path.Push(field);
                    ReadValueList(6, keyValues: true);
                    _path.Pop();
                    break;
                case OtlpJsonField.BytesValue:
                    WriteBase64(field, 7);
                    break;
                default:
                    _reader.Skip();
                    break;
            }
        }

        _output.EndMessage();
    }

    /// <summary>An ArrayValue or KeyValueList: <c>{"values": [...]}</c> (a bare array is accepted too).</summary>
    private void ReadValueList(int fieldNumber, bool keyValues)
    {
        _output.BeginSmallMessage(fieldNumber);
        if (_reader.TokenType == JsonToken.StartArray)
        {
            ReadValueListItems(keyValues);
        }
        else
        {
            ExpectObject();
            while (NextProperty(out var field))
            {
                if (field == OtlpJsonField.Values)
                {
                    _path.Push(field);
                    ExpectArray();
                    ReadValueListItems(keyValues);
                    _path.Pop();
                }
                else
                {
                    _reader.Skip();
                }
            }
        }

        _output.EndMessage();
    }

    private void ReadValueListItems(bool keyValues)
    {
        var index = -1;
        while (true)
        {
            if (keyValues && TryReadCompactKeyValue(1))
            {
                _path.SetIndex(++index);
                continue;
            }

            if (!NextElement(ref index))
            {
                break;
            }

            if (keyValues)
            {
                ReadKeyValue(1);
            }
            else
            {
                ReadAnyValue(1);
            }
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
    /// Reads the next KeyValue of an array when it has the compact shape SDKs and Collectors send,
    /// <c>{"key":"k","value":{"stringValue":"v"}}</c> (or intValue, doubleValue, boolValue) without
    /// whitespace or escapes, and writes it at once, its sizes known before writing. Anything else
    /// returns false with nothing consumed, and the element is read token by token: the fast path
    /// changes the speed, never the result.
    /// </summary>
    private bool TryReadCompactKeyValue(int fieldNumber)
    {
        var json = _reader.Document;
        var at = _reader.Position;
        if (_reader.TokenType != JsonToken.StartArray)
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
        var keyEnd = JsonTokenReader.FindStringStop(json, keyStart);
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
            var end = JsonTokenReader.FindStringStop(json, valueStart);
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
            var end = JsonTokenReader.FindNumberEnd(json, at);
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
            var end = JsonTokenReader.FindNumberEnd(json, at);
            if (end < 0 || !double.TryParse(json[at..end], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
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

        _reader.CompleteValue(at + 2);
        return true;
    }

    // ---- scalars ----

    private void WriteString(OtlpJsonField field, int fieldNumber, bool evenIfEmpty = false)
    {
        if (_reader.TokenType != JsonToken.String)
        {
            throw Error(field, $"expected a string, got {Describe()}");
        }

        WriteStringValue(fieldNumber, evenIfEmpty);
    }

    private void WriteStringValue(int fieldNumber, bool evenIfEmpty)
    {
        if (!_reader.ValueIsEscaped)
        {
            if (evenIfEmpty || _reader.ValueSpan.Length > 0)
            {
                _output.WriteBytesField(fieldNumber, _reader.ValueSpan);
            }

            return;
        }

        // Unescaped straight into the output: the unescaped text is never longer than the escaped.
        _output.BeginSmallMessage(fieldNumber);
        var written = _reader.CopyString(_output.GetSpan(_reader.ValueSpan.Length));
        _output.Advance(written);
        _output.EndMessage();
    }

    private void WriteRepeatedStrings(OtlpJsonField field, int fieldNumber)
    {
        _path.Push(field);
        ExpectArray();
        var index = -1;
        while (NextElement(ref index))
        {
            if (_reader.TokenType != JsonToken.String)
            {
                throw Error($"expected a string, got {Describe()}");
            }

            WriteStringValue(fieldNumber, evenIfEmpty: true);
        }

        _path.Pop();
    }

    private void WriteHexId(OtlpJsonField field, int fieldNumber)
    {
        if (_reader.TokenType != JsonToken.String)
        {
            throw Error(field, $"expected a hex string, got {Describe()}");
        }

        Span<byte> text = stackalloc byte[MaxIdBytes * 2];
        var hex = Unescaped(field, text, "a hex id");
        if (hex.Length == 0)
        {
            return;
        }

        if (hex.Length % 2 != 0 || hex.Length > MaxIdBytes * 2)
        {
            throw Error(field, $"expected an even number of hex digits (at most {MaxIdBytes * 2}), got {hex.Length}: {Quote(hex)}");
        }

        Span<byte> id = stackalloc byte[hex.Length / 2];
        for (var i = 0; i < id.Length; i++)
        {
            var high = HexDigit(hex[2 * i]);
            var low = HexDigit(hex[(2 * i) + 1]);
            if ((high | low) < 0)
            {
                throw Error(field, $"expected hex digits (OTLP/JSON encodes ids as hex, not base64), got {Quote(hex)}");
            }

            id[i] = (byte)((high << 4) | low);
        }

        _output.WriteBytesField(fieldNumber, id);
    }

    private static int HexDigit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    private void WriteBase64(OtlpJsonField field, int fieldNumber)
    {
        if (_reader.TokenType != JsonToken.String)
        {
            throw Error(field, $"expected a base64 string, got {Describe()}");
        }

        var rented = ArrayPool<byte>.Shared.Rent(_reader.ValueSpan.Length + 4);
        try
        {
            var length = _reader.ValueIsEscaped ? _reader.CopyString(rented) : Copy(_reader.ValueSpan, rented);
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
                throw Error(field, "expected base64");
            }

            _output.WriteBytesField(fieldNumber, rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int Copy(ReadOnlySpan<byte> source, byte[] destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

    private void WriteFixed64(OtlpJsonField field, int fieldNumber)
    {
        var value = ReadUInt64(field);
        if (value != 0)
        {
            _output.WriteFixed64Field(fieldNumber, value);
        }
    }

    private void WriteFixed32(OtlpJsonField field, int fieldNumber)
    {
        var value = ReadUInt32(field);
        if (value != 0)
        {
            _output.WriteFixed32Field(fieldNumber, value);
        }
    }

    private void WriteUInt32(OtlpJsonField field, int fieldNumber)
    {
        var value = ReadUInt32(field);
        if (value != 0)
        {
            _output.WriteVarintField(fieldNumber, value);
        }
    }

    private void WriteEnum(OtlpJsonField field, int fieldNumber, string[] names)
    {
        int value;
        if (_reader.TokenType == JsonToken.Number)
        {
            if (!_reader.TryGetInt32(out value))
            {
                throw Error(field, $"expected an enum number, got {Describe()}");
            }
        }
        else if (_reader.TokenType == JsonToken.String)
        {
            Span<byte> text = stackalloc byte[64];
            var name = Unescaped(field, text, "an enum name");
            value = IndexOfName(names, name);
            if (value < 0 && !(Utf8Parser.TryParse(name, out value, out var consumed) && consumed == name.Length))
            {
                throw Error(field, $"expected an enum number or one of {string.Join(", ", names)}, got {Quote(name)}");
            }
        }
        else
        {
            throw Error(field, $"expected an enum number, got {Describe()}");
        }

        if (value != 0)
        {
            _output.WriteVarintField(fieldNumber, unchecked((ulong)(long)value));
        }
    }

    private static int IndexOfName(string[] names, ReadOnlySpan<byte> name)
    {
        for (var i = 0; i < names.Length; i++)
        {
            if (Ascii.Equals(name, names[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static readonly string[] SpanKindNames =
    [
        "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
    ];

    private static readonly string[] StatusCodeNames = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

    private bool ReadBool(OtlpJsonField field) => _reader.TokenType switch
    {
        JsonToken.True => true,
        JsonToken.False => false,
        _ => throw Error(field, $"expected true or false, got {Describe()}"),
    };

    private ulong ReadUInt64(OtlpJsonField field)
    {
        if (_reader.TokenType == JsonToken.Number && _reader.TryGetUInt64(out var number))
        {
            return number;
        }

        if (_reader.TokenType == JsonToken.String)
        {
            Span<byte> text = stackalloc byte[32];
            var digits = Unescaped(field, text, "an unsigned integer");
            if (Utf8Parser.TryParse(digits, out ulong parsed, out var consumed) && consumed == digits.Length)
            {
                return parsed;
            }
        }

        throw Error(field, $"expected an unsigned 64-bit integer (a number or a decimal string), got {Describe()}");
    }

    private uint ReadUInt32(OtlpJsonField field)
    {
        var value = ReadUInt64(field);
        return value <= uint.MaxValue ? (uint)value : throw Error(field, $"expected an unsigned 32-bit integer, got {value}");
    }

    private long ReadInt64(OtlpJsonField field)
    {
        if (_reader.TokenType == JsonToken.Number && _reader.TryGetInt64(out var number))
        {
            return number;
        }

        if (_reader.TokenType == JsonToken.String)
        {
            Span<byte> text = stackalloc byte[32];
            var digits = Unescaped(field, text, "an integer");
            if (Utf8Parser.TryParse(digits, out long parsed, out var consumed) && consumed == digits.Length)
            {
                return parsed;
            }
        }

        throw Error(field, $"expected a 64-bit integer (a number or a decimal string), got {Describe()}");
    }

    private double ReadDouble(OtlpJsonField field)
    {
        if (_reader.TokenType == JsonToken.Number && _reader.TryGetDouble(out var number))
        {
            return number;
        }

        if (_reader.TokenType == JsonToken.String)
        {
            Span<byte> text = stackalloc byte[64];
            var value = Unescaped(field, text, "a number");
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

        throw Error(field, $"expected a number (or \"NaN\", \"Infinity\", \"-Infinity\"), got {Describe()}");
    }

    /// <summary>The current string token's unescaped bytes, in <paramref name="scratch"/> when it had escapes.</summary>
    private readonly ReadOnlySpan<byte> Unescaped(OtlpJsonField field, Span<byte> scratch, string what)
    {
        if (!_reader.ValueIsEscaped)
        {
            return _reader.ValueSpan;
        }

        if (_reader.ValueSpan.Length > scratch.Length)
        {
            throw Error(field, $"expected {what}, got a string of {_reader.ValueSpan.Length} bytes");
        }

        return scratch[.._reader.CopyString(scratch)];
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
            if (_reader.TokenType == JsonToken.EndObject)
            {
                field = OtlpJsonField.Unknown;
                return false;
            }

            field = _reader.ValueIsEscaped ? MatchEscapedName() : OtlpJsonFields.Match(_reader.ValueSpan);

            _reader.Read();
            if (_reader.TokenType != JsonToken.Null)
            {
                return true;
            }
        }
    }

    private readonly OtlpJsonField MatchEscapedName()
    {
        Span<byte> name = stackalloc byte[128];
        return _reader.ValueSpan.Length <= name.Length ? OtlpJsonFields.Match(name[.._reader.CopyString(name)]) : OtlpJsonField.Unknown;
    }

    private bool NextElement(ref int index)
    {
        _reader.Read();
        if (_reader.TokenType == JsonToken.EndArray)
        {
            return false;
        }

        _path.SetIndex(++index);
        return true;
    }

    private void ExpectObject()
    {
        if (_reader.TokenType != JsonToken.StartObject)
        {
            throw Error($"expected an object, got {Describe()}");
        }
    }

    private void ExpectArray()
    {
        if (_reader.TokenType != JsonToken.StartArray)
        {
            throw Error($"expected an array, got {Describe()}");
        }
    }

    private readonly string Describe() => _reader.TokenType switch
    {
        JsonToken.StartObject => "an object",
        JsonToken.StartArray => "an array",
        JsonToken.String => "the string " + Quote(_reader.ValueSpan),
        JsonToken.Number => "the number " + Encoding.UTF8.GetString(_reader.ValueSpan),
        JsonToken.True => "true",
        JsonToken.False => "false",
        JsonToken.Null => "null",
        _ => _reader.TokenType.ToString(),
    };

    private static string Quote(ReadOnlySpan<byte> text)
    {
        const int Max = 48;
        var shown = Encoding.UTF8.GetString(text.Length > Max ? text[..Max] : text);
        return text.Length > Max ? $"\"{shown}...\"" : $"\"{shown}\"";
    }

    private readonly OtlpJsonException Error(string problem) => new(_path.ToString(), problem);

    private readonly OtlpJsonException Error(OtlpJsonField field, string problem) => new(_path.ToString(field), problem);
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
