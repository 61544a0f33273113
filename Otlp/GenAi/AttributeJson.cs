using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using OpenTelemetry.Proto.Common.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>
/// Attributes as plain JSON, for querying (a <c>jsonb</c> column) and for structured message content:
/// strings, booleans and numbers as themselves, bytes as base64, arrays as arrays, key-value lists as
/// objects, an empty value as null. Not a lossless encoding (an int and a whole double look alike): the
/// exact attribute stays in the span's OTLP bytes. The output is valid for PostgreSQL's jsonb, which
/// refuses U+0000: that character is written as U+FFFD, and NaN and infinities as strings.
/// </summary>
public static class AttributeJson
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Not HTML: only what JSON itself requires is escaped, so non-ASCII text stays compact UTF-8.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
        MaxDepth = 128,
    };

    /// <summary>Writes an object of the attributes, leaving out those <paramref name="exclude"/> selects.</summary>
    public static void WriteObject(Utf8JsonWriter writer, IReadOnlyList<KeyValue> attributes, Func<string, bool>? exclude = null)
    {
        writer.WriteStartObject();
        for (var i = 0; i < attributes.Count; i++)
        {
            var attribute = attributes[i];
            if (exclude is not null && exclude(attribute.Key))
            {
                continue;
            }

            writer.WritePropertyName(Clean(attribute.Key));
            WriteValue(writer, attribute.Value);
        }

        writer.WriteEndObject();
    }

    public static void WriteValue(Utf8JsonWriter writer, AnyValue? value)
    {
        switch (value?.ValueCase)
        {
            case AnyValue.ValueOneofCase.StringValue:
                writer.WriteStringValue(Clean(value.StringValue));
                break;
            case AnyValue.ValueOneofCase.BoolValue:
                writer.WriteBooleanValue(value.BoolValue);
                break;
            case AnyValue.ValueOneofCase.IntValue:
                writer.WriteNumberValue(value.IntValue);
                break;
            case AnyValue.ValueOneofCase.DoubleValue:
                if (double.IsFinite(value.DoubleValue))
                {
                    writer.WriteNumberValue(value.DoubleValue);
                }
                else
                {
                    writer.WriteStringValue(value.DoubleValue.ToString(CultureInfo.InvariantCulture));
                }

                break;
            case AnyValue.ValueOneofCase.BytesValue:
                writer.WriteBase64StringValue(value.BytesValue.Span);
                break;
            case AnyValue.ValueOneofCase.ArrayValue:
                writer.WriteStartArray();
                foreach (var item in value.ArrayValue.Values)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            case AnyValue.ValueOneofCase.KvlistValue:
                WriteObject(writer, value.KvlistValue.Values);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    /// <summary>A writer with the options above, over <paramref name="buffer"/>.</summary>
    public static Utf8JsonWriter CreateWriter(IBufferWriter<byte> buffer) => new(buffer, WriterOptions);

    public static string ToJson(AnyValue value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = CreateWriter(buffer))
        {
            WriteValue(writer, value);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string ToJson(IReadOnlyList<KeyValue> attributes)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = CreateWriter(buffer))
        {
            WriteObject(writer, attributes);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>U+0000 becomes U+FFFD: PostgreSQL's text and jsonb cannot hold it.</summary>
    public static string Clean(string text) => text.Contains('\0', StringComparison.Ordinal) ? text.Replace('\0', '\uFFFD') : text;
}
