using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using OpenTelemetry.Proto.Common.V1;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Processor.Pipeline;

/// <summary>The fields of an OTLP Span that the projections need, as ranges of its bytes.</summary>
internal struct SpanFields
{
    public (int Offset, int Length) TraceId;
    public (int Offset, int Length) SpanId;
    public (int Offset, int Length) ParentSpanId;
    public (int Offset, int Length) Name;
    public (int Offset, int Length) StatusMessage;
    public ulong StartTimeUnixNano;
    public ulong EndTimeUnixNano;
    public int Kind;
    public int StatusCode;
}

/// <summary>
/// Reads an OTLP Span from its wire format without materializing it: the columns' fields, the attributes
/// written straight to JSON (exactly as <see cref="AttributeJson"/> writes them), and, parsed as objects,
/// only the attributes the GenAI mapping and span type rules read (<see cref="MappedAttributes"/>). A span
/// with 30 attributes costs a handful of objects instead of a hundred.
/// </summary>
internal static class SpanWire
{
    private const int MaxDepth = 100; // Google.Protobuf's recursion limit

    public static SpanFields Read(ReadOnlySpan<byte> span, Utf8JsonWriter json, List<KeyValue> mapped)
    {
        var fields = default(SpanFields);
        var reader = new ProtoWireReader(span);
        json.WriteStartObject();
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch ((field, wireType))
            {
                case (1, WireType.LengthDelimited):
                    fields.TraceId = reader.ReadRange();
                    break;
                case (2, WireType.LengthDelimited):
                    fields.SpanId = reader.ReadRange();
                    break;
                case (4, WireType.LengthDelimited):
                    fields.ParentSpanId = reader.ReadRange();
                    break;
                case (5, WireType.LengthDelimited):
                    fields.Name = reader.ReadRange();
                    break;
                case (6, WireType.Varint):
                    fields.Kind = (int)reader.ReadVarint64();
                    break;
                case (7, WireType.Fixed64):
                    fields.StartTimeUnixNano = reader.ReadFixed64();
                    break;
                case (8, WireType.Fixed64):
                    fields.EndTimeUnixNano = reader.ReadFixed64();
                    break;
                case (9, WireType.LengthDelimited):
                    var (offset, length) = reader.ReadRange();
                    WriteAttribute(span.Slice(offset, length), json, mapped);
                    break;
                case (15, WireType.LengthDelimited):
                    // A message field that occurs twice merges: later scalar values win.
                    var (statusOffset, statusLength) = reader.ReadRange();
                    var status = new ProtoWireReader(span, statusOffset, statusOffset + statusLength);
                    while (status.TryReadTag(out var statusField, out var statusWireType))
                    {
                        if (statusField == 2 && statusWireType == WireType.LengthDelimited)
                        {
                            fields.StatusMessage = status.ReadRange();
                        }
                        else if (statusField == 3 && statusWireType == WireType.Varint)
                        {
                            fields.StatusCode = (int)status.ReadVarint64();
                        }
                        else
                        {
                            status.Skip(statusWireType);
                        }
                    }

                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        json.WriteEndObject();
        return fields;
    }

    public static string String(ReadOnlySpan<byte> utf8) => AttributeJson.Clean(Encoding.UTF8.GetString(utf8));

    private static void WriteAttribute(ReadOnlySpan<byte> keyValue, Utf8JsonWriter json, List<KeyValue> mapped)
    {
        var (key, value, values) = ReadKeyValue(keyValue);
        if (MappedAttributes.IsMapped(keyValue.Slice(key.Offset, key.Length)) || values > 1)
        {
            // Parsed as an object: the mapping reads it (or its value occurs twice and must merge).
            var attribute = KeyValue.Parser.ParseFrom(keyValue);
            if (MappedAttributes.IsMapped(attribute.Key))
            {
                mapped.Add(attribute);
            }

            if (!GenAiPrecedence.IsContent(attribute.Key))
            {
                json.WritePropertyName(AttributeJson.Clean(attribute.Key));
                AttributeJson.WriteValue(json, attribute.Value);
            }

            return;
        }

        WritePropertyName(json, keyValue.Slice(key.Offset, key.Length));
        if (values == 0)
        {
            json.WriteNullValue();
        }
        else
        {
            WriteValue(json, keyValue.Slice(value.Offset, value.Length), 1);
        }
    }

    private static ((int Offset, int Length) Key, (int Offset, int Length) Value, int Values) ReadKeyValue(ReadOnlySpan<byte> keyValue)
    {
        (int, int) key = default, value = default;
        var values = 0;
        var reader = new ProtoWireReader(keyValue);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == 1 && wireType == WireType.LengthDelimited)
            {
                key = reader.ReadRange();
            }
            else if (field == 2 && wireType == WireType.LengthDelimited)
            {
                value = reader.ReadRange();
                values++;
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        return (key, value, values);
    }

    /// <summary>Writes an AnyValue: its oneof member, the last one when several occur, as protobuf decides.</summary>
    private static void WriteValue(Utf8JsonWriter json, ReadOnlySpan<byte> anyValue, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new FormatException($"an attribute value is nested more than {MaxDepth} levels deep");
        }

        var kind = 0;
        ulong scalar = 0;
        (int Offset, int Length) range = default;
        var reader = new ProtoWireReader(anyValue);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch ((field, wireType))
            {
                case (1 or 5 or 6 or 7, WireType.LengthDelimited):
                    if (kind is 5 or 6 && kind == field)
                    {
                        // An array or map that occurs twice merges its elements: leave that to Google.Protobuf.
                        AttributeJson.WriteValue(json, AnyValue.Parser.ParseFrom(anyValue));
                        return;
                    }

                    kind = field;
                    range = reader.ReadRange();
                    break;
                case (2 or 3, WireType.Varint):
                    kind = field;
                    scalar = reader.ReadVarint64();
                    break;
                case (4, WireType.Fixed64):
                    kind = field;
                    scalar = reader.ReadFixed64();
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        var bytes = anyValue.Slice(range.Offset, range.Length);
        switch (kind)
        {
            case 1:
                WriteString(json, bytes);
                break;
            case 2:
                json.WriteBooleanValue(scalar != 0);
                break;
            case 3:
                json.WriteNumberValue((long)scalar);
                break;
            case 4:
                var number = BitConverter.Int64BitsToDouble((long)scalar);
                if (double.IsFinite(number))
                {
                    json.WriteNumberValue(number);
                }
                else
                {
                    json.WriteStringValue(number.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }

                break;
            case 5:
                json.WriteStartArray();
                var items = new ProtoWireReader(bytes);
                while (items.TryReadTag(out var field, out var wireType))
                {
                    if (field == 1 && wireType == WireType.LengthDelimited)
                    {
                        var (offset, length) = items.ReadRange();
                        WriteValue(json, bytes.Slice(offset, length), depth + 1);
                    }
                    else
                    {
                        items.Skip(wireType);
                    }
                }

                json.WriteEndArray();
                break;
            case 6:
                json.WriteStartObject();
                var entries = new ProtoWireReader(bytes);
                while (entries.TryReadTag(out var field, out var wireType))
                {
                    if (field == 1 && wireType == WireType.LengthDelimited)
                    {
                        var (offset, length) = entries.ReadRange();
                        var entry = bytes.Slice(offset, length);
                        var (key, value, values) = ReadKeyValue(entry);
                        if (values > 1)
                        {
                            var attribute = KeyValue.Parser.ParseFrom(entry);
                            json.WritePropertyName(AttributeJson.Clean(attribute.Key));
                            AttributeJson.WriteValue(json, attribute.Value);
                            continue;
                        }

                        WritePropertyName(json, entry.Slice(key.Offset, key.Length));
                        if (values == 0)
                        {
                            json.WriteNullValue();
                        }
                        else
                        {
                            WriteValue(json, entry.Slice(value.Offset, value.Length), depth + 1);
                        }
                    }
                    else
                    {
                        entries.Skip(wireType);
                    }
                }

                json.WriteEndObject();
                break;
            case 7:
                json.WriteBase64StringValue(bytes);
                break;
            default:
                json.WriteNullValue();
                break;
        }
    }

    /// <summary>Valid UTF-8 without U+0000 goes as it is; anything else as protobuf would decode it, cleaned for jsonb.</summary>
    private static bool IsPlain(ReadOnlySpan<byte> utf8) => !utf8.Contains((byte)0) && Utf8.IsValid(utf8);

    private static void WriteString(Utf8JsonWriter json, ReadOnlySpan<byte> utf8)
    {
        if (IsPlain(utf8))
        {
            json.WriteStringValue(utf8);
        }
        else
        {
            json.WriteStringValue(String(utf8));
        }
    }

    private static void WritePropertyName(Utf8JsonWriter json, ReadOnlySpan<byte> utf8)
    {
        if (IsPlain(utf8))
        {
            json.WritePropertyName(utf8);
        }
        else
        {
            json.WritePropertyName(String(utf8));
        }
    }
}
