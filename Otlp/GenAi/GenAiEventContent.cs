using System.Buffers;
using System.Text.Json;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>
/// A span's input and output from its GenAI log events, in the stored form (semconv 1.37 messages), the
/// way <see cref="GenAiMapper"/> gives them from attributes:
/// <list type="bullet">
/// <item>semconv up to 1.36: <c>gen_ai.system.message</c>, <c>gen_ai.user.message</c>,
/// <c>gen_ai.assistant.message</c>, <c>gen_ai.tool.message</c> (input) and <c>gen_ai.choice</c> (output),
/// each with its message in the body (read as pydantic-ai's event list is, <see cref="GenAiContent.FromEventList"/>);</item>
/// <item>semconv 1.37+: <c>gen_ai.client.inference.operation.details</c> with <c>gen_ai.input.messages</c>,
/// <c>gen_ai.output.messages</c> and <c>gen_ai.system_instructions</c> as attributes.</item>
/// </list>
/// The event's name is its <c>event_name</c> field, else its <c>event.name</c> attribute.
/// </summary>
public static class GenAiEventContent
{
    public const string OperationDetails = "gen_ai.client.inference.operation.details";

    private static readonly HashSet<string> MessageEvents =
        ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message", "gen_ai.choice"];

    /// <summary>The names of the events that carry a span's content.</summary>
    public static IEnumerable<string> ContentEvents => MessageEvents.Append(OperationDetails);

    /// <summary>Whether a record named <paramref name="eventName"/> carries a span's content.</summary>
    public static bool IsContentEvent(string? eventName) => eventName is not null && (eventName == OperationDetails || MessageEvents.Contains(eventName));

    /// <summary>The record's event name: the field, else the <c>event.name</c> attribute; null when it has neither.</summary>
    public static string? EventName(LogRecord record)
    {
        if (record.EventName.Length > 0)
        {
            return record.EventName;
        }

        foreach (var attribute in record.Attributes)
        {
            if (attribute.Key == "event.name" && attribute.Value is { ValueCase: AnyValue.ValueOneofCase.StringValue } value)
            {
                return value.StringValue;
            }
        }

        return null;
    }

    /// <summary>
    /// The input and output of one span's <paramref name="events"/> (in the order they happened), each capped
    /// at <paramref name="maxTextBytes"/>; null where the events hold none.
    /// </summary>
    public static (string? Input, string? Output) From(IEnumerable<LogRecord> events, int maxTextBytes = GenAiMapper.DefaultMaxTextBytes)
    {
        var list = new ArrayBufferWriter<byte>();
        string? detailsInput = null;
        string? detailsOutput = null;
        string? instructions = null;
        var messages = 0;
        using (var writer = AttributeJson.CreateWriter(list))
        {
            writer.WriteStartArray();
            foreach (var record in events)
            {
                var name = EventName(record);
                if (name == OperationDetails)
                {
                    detailsInput ??= Messages(record.Attributes, "gen_ai.input.messages");
                    detailsOutput ??= Messages(record.Attributes, "gen_ai.output.messages");
                    instructions ??= Text(record.Attributes, "gen_ai.system_instructions");
                    continue;
                }

                if (name is null || !MessageEvents.Contains(name) || record.Body is null)
                {
                    continue;
                }

                // The body is the message ({content, role, tool_calls} or, for a choice, {index, finish_reason, message});
                // a plain string body is the message's content.
                writer.WriteStartObject();
                writer.WriteString("event.name", name);
                if (record.Body.ValueCase == AnyValue.ValueOneofCase.KvlistValue)
                {
                    foreach (var field in record.Body.KvlistValue.Values)
                    {
                        if (field.Key != "event.name")
                        {
                            writer.WritePropertyName(field.Key);
                            AttributeJson.WriteValue(writer, field.Value);
                        }
                    }
                }
                else
                {
                    writer.WritePropertyName("content");
                    AttributeJson.WriteValue(writer, record.Body);
                }

                writer.WriteEndObject();
                messages++;
            }

            writer.WriteEndArray();
        }

        string? input = null;
        string? output = null;
        if (messages > 0)
        {
            var json = System.Text.Encoding.UTF8.GetString(list.WrittenSpan);
            input = GenAiContent.FromEventList(json, GenAiField.InputText);
            output = GenAiContent.FromEventList(json, GenAiField.OutputText);
        }

        input ??= detailsInput;
        output ??= detailsOutput;
        if (instructions is not null)
        {
            input = GenAiContent.WithSystemInstructions(input, instructions);
        }

        return (input is null ? null : GenAiMapper.Cap(input, maxTextBytes).Text, output is null ? null : GenAiMapper.Cap(output, maxTextBytes).Text);
    }

    /// <summary>A messages attribute in the stored form: a JSON string as it is, structured values as their JSON.</summary>
    private static string? Messages(IReadOnlyList<KeyValue> attributes, string key)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.Key != key || attribute.Value is not { } value)
            {
                continue;
            }

            return value.ValueCase switch
            {
                AnyValue.ValueOneofCase.StringValue => IsJsonArray(value.StringValue) ? value.StringValue : null,
                AnyValue.ValueOneofCase.ArrayValue => AttributeJson.ToJson(value),
                _ => null,
            };
        }

        return null;
    }

    private static string? Text(IReadOnlyList<KeyValue> attributes, string key)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.Key == key && attribute.Value is { } value)
            {
                return value.ValueCase == AnyValue.ValueOneofCase.StringValue ? value.StringValue : AttributeJson.ToJson(value);
            }
        }

        return null;
    }

    private static bool IsJsonArray(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Array;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
