using System.Buffers.Text;
using System.Globalization;
using System.Text;
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

/// <summary>What <see cref="SpanWire.Read"/> collects from a span's attributes; cleared and reused span after span.</summary>
internal sealed class SpanAttributes
{
    private byte[] _scratch = new byte[256];

    /// <summary>The <see cref="AttributeHash"/> of every attribute with a value, prompt and completion content left out.</summary>
    public List<int> Hashes { get; } = [];

    /// <summary>The attributes the GenAI mapping and span type rules read (<see cref="MappedAttributes"/>), parsed.</summary>
    public List<KeyValue> Mapped { get; } = [];

    /// <summary>Where each of <see cref="Mapped"/> sits in the span: its attribute field, from its tag to its end.</summary>
    public List<(int Start, int End)> MappedFields { get; } = [];

    public void Clear()
    {
        Hashes.Clear();
        Mapped.Clear();
        MappedFields.Clear();
    }

    /// <summary>A buffer of at least <paramref name="length"/> bytes for building the text a hash is taken of.</summary>
    public Span<byte> Scratch(int length)
    {
        if (_scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, _scratch.Length * 2)];
        }

        return _scratch;
    }
}

/// <summary>
/// Reads an OTLP Span from its wire format without materializing it: the columns' fields, each
/// attribute's <see cref="AttributeHash"/> (the same as hashing the parsed attribute gives), and, parsed as
/// objects, only the attributes the GenAI mapping and span type rules read (<see cref="MappedAttributes"/>).
/// A span with 30 attributes costs a handful of objects instead of a hundred.
/// </summary>
internal static class SpanWire
{
    public static SpanFields Read(ReadOnlySpan<byte> span, SpanAttributes attributes)
    {
        var fields = default(SpanFields);
        var reader = new ProtoWireReader(span);
        while (true)
        {
            var fieldStart = reader.Position;
            if (!reader.TryReadTag(out var field, out var wireType))
            {
                break;
            }

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
                    ReadAttribute(span.Slice(offset, length), (fieldStart, offset + length), attributes);
                    break;
                case (11, WireType.LengthDelimited):
                    var (eventOffset, eventLength) = reader.ReadRange();
                    ReadEvent(span.Slice(eventOffset, eventLength), attributes);
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

        return fields;
    }

    public static string String(ReadOnlySpan<byte> utf8) => AttributeJson.Clean(Encoding.UTF8.GetString(utf8));

    private static void ReadAttribute(ReadOnlySpan<byte> keyValue, (int Start, int End) field, SpanAttributes attributes)
    {
        var (key, value, values) = ReadKeyValue(keyValue);
        var keyBytes = keyValue.Slice(key.Offset, key.Length);
        var plain = values <= 1 && Utf8.IsValid(keyBytes);
        if (MappedAttributes.IsMapped(keyBytes) || !plain)
        {
            // Parsed as an object: the mapping reads it (or its value occurs twice and must merge, or its key
            // is decoded as protobuf decodes invalid UTF-8).
            var attribute = KeyValue.Parser.ParseFrom(keyValue);
            if (MappedAttributes.IsMapped(attribute.Key))
            {
                attributes.Mapped.Add(attribute);
                attributes.MappedFields.Add(field);
            }

            if (GenAiPrecedence.IsContent(attribute.Key))
            {
                return;
            }

            if (!plain)
            {
                if (AttributeHash.Of(attribute.Key, attribute.Value) is { } hash)
                {
                    attributes.Hashes.Add(hash);
                }

                return;
            }
        }

        if (values == 1)
        {
            AddHash(keyBytes, keyValue.Slice(value.Offset, value.Length), attributes);
        }
    }

    /// <summary>
    /// A span event that carries content in semconv 1.26's form (<c>gen_ai.content.prompt</c> with a
    /// <c>gen_ai.prompt</c> attribute, <c>gen_ai.content.completion</c> with <c>gen_ai.completion</c>) is
    /// added to the mapped attributes under the event's name, as the precedence table expects it. Other
    /// events are skipped by their name alone.
    /// </summary>
    private static void ReadEvent(ReadOnlySpan<byte> spanEvent, SpanAttributes attributes)
    {
        var reader = new ProtoWireReader(spanEvent);
        string? name = null;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == 2 && wireType == WireType.LengthDelimited)
            {
                var (offset, length) = reader.ReadRange();
                var bytes = spanEvent.Slice(offset, length);
                name = bytes.SequenceEqual("gen_ai.content.prompt"u8) ? "gen_ai.content.prompt"
                    : bytes.SequenceEqual("gen_ai.content.completion"u8) ? "gen_ai.content.completion"
                    : null;
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        if (name is null)
        {
            return;
        }

        var attribute = name == "gen_ai.content.prompt" ? "gen_ai.prompt" : "gen_ai.completion";
        var parsed = OpenTelemetry.Proto.Trace.V1.Span.Types.Event.Parser.ParseFrom(spanEvent);
        if (parsed.Attributes.LastOrDefault(a => a.Key == attribute) is { } content)
        {
            attributes.Mapped.Add(new KeyValue { Key = name, Value = content.Value });
            attributes.MappedFields.Add((0, 0));
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

    /// <summary>
    /// Hashes key=value from the AnyValue's wire format: its oneof member, the last one when several occur,
    /// as protobuf decides; arrays, maps and strings that are not valid UTF-8 through the parsed value.
    /// </summary>
    private static void AddHash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> anyValue, SpanAttributes attributes)
    {
        var kind = 0;
        ulong scalar = 0;
        (int Offset, int Length) range = default;
        var reader = new ProtoWireReader(anyValue);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch ((field, wireType))
            {
                case (1 or 5 or 6 or 7, WireType.LengthDelimited):
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
        if (kind == 0)
        {
            return;
        }

        if (kind is 5 or 6 || (kind == 1 && !Utf8.IsValid(bytes)))
        {
            if (AttributeHash.Of(Encoding.UTF8.GetString(key), AnyValue.Parser.ParseFrom(anyValue)) is { } hash)
            {
                attributes.Hashes.Add(hash);
            }

            return;
        }

        // key=value in UTF-8, as AttributeHash.ValueText writes the value.
        var text = attributes.Scratch(key.Length + 1 + Math.Max(32, kind == 7 ? Base64.GetMaxEncodedToUtf8Length(bytes.Length) : bytes.Length));
        key.CopyTo(text);
        text[key.Length] = (byte)'=';
        var valueText = text[(key.Length + 1)..];
        int written;
        switch (kind)
        {
            case 1:
                bytes.CopyTo(valueText);
                written = bytes.Length;
                break;
            case 2:
                written = (scalar != 0 ? "true"u8 : "false"u8).Length;
                (scalar != 0 ? "true"u8 : "false"u8).CopyTo(valueText);
                break;
            case 3:
                ((long)scalar).TryFormat(valueText, out written, default, CultureInfo.InvariantCulture);
                break;
            case 4:
                BitConverter.Int64BitsToDouble((long)scalar).TryFormat(valueText, out written, "R", CultureInfo.InvariantCulture);
                break;
            default:
                Base64.EncodeToUtf8(bytes, valueText, out _, out written);
                break;
        }

        attributes.Hashes.Add(AttributeHash.HashText(text[..(key.Length + 1 + written)]));
    }
}
