using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenTelemetry.Proto.Common.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>
/// Turns prompt and completion content, in whichever form a convention sends it, into the one stored form:
/// the semconv 1.37 message shape, a JSON array of <c>{"role", "parts": [{"type": "text", "content"}, ...]}</c>
/// (output messages also with <c>finish_reason</c> when known). Null when the value holds no content.
/// </summary>
public static class GenAiContent
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The role a message without one gets: the user's for input, the assistant's for output.</summary>
    public static string DefaultRole(GenAiField field) => field == GenAiField.OutputText ? "assistant" : "user";

    /// <summary>
    /// The stored form (semconv 1.37 messages) of <paramref name="field"/>'s content given as the string value
    /// <paramref name="text"/> of the one attribute <paramref name="form"/>, normalized as that attribute's row
    /// of <see cref="GenAiPrecedence.Table"/> says; with <paramref name="form"/> null, <paramref name="text"/>
    /// is in the stored form already and comes back as it is. The mapper normalizes such content with it, so
    /// a reader of input_text (output_text) with input_form (output_form) gets byte for byte what the column
    /// would hold normalized (README.md, "Storage"). Null when the value holds no content.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="form"/> is not an attribute whose value alone fills <paramref name="field"/>.</exception>
    public static string? Normalize(GenAiField field, string? form, string text)
    {
        if (form is null)
        {
            return text;
        }

        var row = GenAiPrecedence.SingleAttribute(field, form)
                  ?? throw new ArgumentException($"'{form}' is not an attribute whose value alone fills {field}", nameof(form));
        return Normalize(row, text);
    }

    /// <summary>The content of one plain attribute of <paramref name="row"/> (any shape but <see cref="GenAiShape.Indexed"/>) in the stored form.</summary>
    internal static string? Normalize(GenAiSource row, string text) => row.Shape switch
    {
        GenAiShape.SemConvMessages => text,
        GenAiShape.EventList => FromEventList(text, row.Field),
        GenAiShape.Text => FromText(text, DefaultRole(row.Field)),
        _ => FromChatJson(text, DefaultRole(row.Field)),
    };

    /// <summary>One message of <paramref name="role"/> with <paramref name="text"/> as its only part.</summary>
    public static string FromText(string text, string role)
        => Write(w => WriteMessage(w, role, [new Part.Text(text)], null));

    /// <summary>
    /// Chat messages as JSON: an array of <c>{role, content}</c> (content a string or a list of typed parts, as
    /// the OpenAI API, the AI SDK and Langfuse write them; OpenAI <c>tool_calls</c> too), an object holding
    /// <c>messages</c> (a request) or <c>choices</c> (a response), the AI SDK's <c>{system, prompt, messages}</c>;
    /// anything else, JSON or not, as one text message.
    /// </summary>
    public static string? FromChatJson(string text, string role)
    {
        if (text.Length == 0)
        {
            return null;
        }

        var first = text.AsSpan().TrimStart();
        if (first.Length > 0 && first[0] is '[' or '{')
        {
            try
            {
                using var document = JsonDocument.Parse(text);
                var messages = new List<Message>();
                Collect(document.RootElement, role, messages);
                if (messages.Count > 0)
                {
                    return Write(w => messages.ForEach(m => WriteMessage(w, m.Role, m.Parts, m.FinishReason)));
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: plain text.
            }
        }

        return FromText(text, role);
    }

    /// <summary>
    /// Messages flattened into attributes under <paramref name="prefix"/> (<c>p.N.role</c>, <c>p.N.content</c>,
    /// <c>p.N.finish_reason</c>, <c>p.N.tool_calls.M.name</c> as OpenLLMetry writes them; <c>p.N.message.role</c>,
    /// <c>p.N.message.content</c>, <c>p.N.message.contents.M.message_content.text</c>,
    /// <c>p.N.message.tool_calls.M.tool_call.function.name</c> as OpenInference does), ordered by N.
    /// </summary>
    public static string? FromIndexed(IReadOnlyList<KeyValue> attributes, string prefix, string role)
    {
        var messages = new SortedDictionary<int, IndexedMessage>();
        foreach (var attribute in attributes)
        {
            if (!attribute.Key.StartsWith(prefix, StringComparison.Ordinal) || attribute.Value is not { } value)
            {
                continue;
            }

            var rest = attribute.Key.AsSpan(prefix.Length);
            var dot = rest.IndexOf('.');
            if (dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                continue;
            }

            var path = rest[(dot + 1)..];
            if (path.StartsWith("message."))
            {
                path = path["message.".Length..];
            }

            if (!messages.TryGetValue(n, out var message))
            {
                message = new IndexedMessage();
                messages.Add(n, message);
            }

            var text = value.ValueCase == AnyValue.ValueOneofCase.StringValue ? value.StringValue : AttributeJson.ToJson(value);
            if (path.SequenceEqual("role"))
            {
                message.Role = text;
            }
            else if (path.SequenceEqual("content"))
            {
                message.Content = text;
            }
            else if (path.SequenceEqual("finish_reason"))
            {
                message.FinishReason = text;
            }
            else if (path.StartsWith("contents.") && TrySplitIndex(path["contents.".Length..], out var m, out var field))
            {
                if (field.SequenceEqual("message_content.text"))
                {
                    message.Contents[m] = text;
                }
            }
            else if (path.StartsWith("tool_calls.") && TrySplitIndex(path["tool_calls.".Length..], out var t, out var callField))
            {
                if (callField.StartsWith("tool_call."))
                {
                    callField = callField["tool_call.".Length..];
                }

                if (callField.StartsWith("function."))
                {
                    callField = callField["function.".Length..];
                }

                if (!message.ToolCalls.TryGetValue(t, out var call))
                {
                    call = new string?[3];
                    message.ToolCalls.Add(t, call);
                }

                var slot = callField switch
                {
                    "id" => 0,
                    "name" => 1,
                    "arguments" => 2,
                    _ => -1,
                };
                if (slot >= 0)
                {
                    call[slot] = text;
                }
            }
        }

        if (messages.Count == 0)
        {
            return null;
        }

        return Write(w =>
        {
            foreach (var message in messages.Values)
            {
                var parts = new List<Part>();
                if (message.Content is { Length: > 0 } content)
                {
                    // OpenLLMetry writes a list of content blocks as a JSON string.
                    if (!(content.TrimStart().StartsWith('[') && TryParts(content, parts)))
                    {
                        parts.Add(new Part.Text(content));
                    }
                }

                parts.AddRange(message.Contents.Values.Select(c => new Part.Text(c)));
                parts.AddRange(message.ToolCalls.Values.Select(c => new Part.ToolCall(c[0], c[1], c[2])));
                WriteMessage(w, message.Role ?? role, parts, message.FinishReason);
            }
        });
    }

    /// <summary>
    /// pydantic-ai's (instrumentation version 1) <c>events</c>: GenAI events as a JSON array, each with its
    /// <c>event.name</c>. The input is the message events, the output the <c>gen_ai.choice</c> events.
    /// </summary>
    public static string? FromEventList(string text, GenAiField field)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var messages = new List<Message>();
            foreach (var e in document.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("event.name", out var name) || name.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                var eventName = name.GetString()!;
                var choice = eventName == "gen_ai.choice";
                if (choice != (field == GenAiField.OutputText) || !eventName.StartsWith("gen_ai.", StringComparison.Ordinal))
                {
                    continue;
                }

                var body = choice && e.TryGetProperty("message", out var message) ? message : e;
                var role = String(body, "role") ?? (choice ? "assistant" : RoleOfEvent(eventName));
                var finish = choice ? String(e, "finish_reason") : null;
                var parts = new List<Part>();
                if (body.TryGetProperty("content", out var content))
                {
                    AddContent(content, parts);
                }

                AddToolCalls(body, parts);
                messages.Add(new Message(role, parts, finish));
            }

            return messages.Count == 0 ? null : Write(w => messages.ForEach(m => WriteMessage(w, m.Role, m.Parts, m.FinishReason)));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Puts <c>gen_ai.system_instructions</c> (a JSON array of parts, or text) first in <paramref name="input"/>,
    /// as a system message.
    /// </summary>
    public static string WithSystemInstructions(string? input, string instructions)
    {
        string system;
        var trimmed = instructions.TrimStart();
        if (trimmed.StartsWith('['))
        {
            var parts = new List<Part>();
            system = TryParts(instructions, parts) ? Write(w => WriteMessage(w, "system", parts, null)) : FromText(instructions, "system");
        }
        else
        {
            system = FromText(instructions, "system");
        }

        if (input is null)
        {
            return system;
        }

        var body = input.AsSpan().Trim();
        if (body.Length < 2 || body[0] != '[')
        {
            return system;
        }

        var rest = body[1..].TrimStart();
        return rest.Length > 0 && rest[0] == ']'
            ? system
            : string.Concat(system.AsSpan(0, system.Length - 1), ",", rest);
    }

    private static void Collect(JsonElement element, string role, List<Message> messages)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Object)
                    {
                        AddMessage(item, role, messages);
                    }
                    else if (item.ValueKind == JsonValueKind.String)
                    {
                        messages.Add(new Message(role, [new Part.Text(item.GetString()!)], null));
                    }
                }

                break;
            case JsonValueKind.Object:
                if (element.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
                {
                    // An OpenAI chat completion response.
                    foreach (var choice in choices.EnumerateArray())
                    {
                        if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
                        {
                            AddMessage(message, "assistant", messages, String(choice, "finish_reason"));
                        }
                    }

                    break;
                }

                if (String(element, "system") is { } system)
                {
                    messages.Add(new Message("system", [new Part.Text(system)], null));
                }

                if (element.TryGetProperty("messages", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    Collect(list, role, messages);
                }
                else if (String(element, "prompt") is { } prompt)
                {
                    messages.Add(new Message(role, [new Part.Text(prompt)], null));
                }
                else if (element.TryGetProperty("role", out _) && (element.TryGetProperty("content", out _) || element.TryGetProperty("parts", out _)))
                {
                    AddMessage(element, role, messages, String(element, "stop_reason"));
                }

                break;
        }
    }

    private static void AddMessage(JsonElement message, string role, List<Message> messages, string? finishReason = null)
    {
        var parts = new List<Part>();
        if (message.TryGetProperty("parts", out var semconvParts) && semconvParts.ValueKind == JsonValueKind.Array)
        {
            parts.AddRange(semconvParts.EnumerateArray().Select(p => new Part.Raw(p.GetRawText())));
        }
        else if (message.TryGetProperty("content", out var content))
        {
            AddContent(content, parts);
        }

        AddToolCalls(message, parts);
        if (String(message, "role") is "tool" && String(message, "tool_call_id") is { } callId && parts is [Part.Text text])
        {
            parts[0] = new Part.ToolResponse(callId, text.Content);
        }

        messages.Add(new Message(String(message, "role") ?? role, parts, finishReason ?? String(message, "finish_reason")));
    }

    private static void AddContent(JsonElement content, List<Part> parts)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                parts.Add(new Part.Text(content.GetString()!));
                break;
            case JsonValueKind.Array:
                foreach (var item in content.EnumerateArray())
                {
                    AddPart(item, parts);
                }

                break;
            case JsonValueKind.Null or JsonValueKind.Undefined:
                break;
            default:
                parts.Add(new Part.Text(content.GetRawText()));
                break;
        }
    }

    private static void AddPart(JsonElement item, List<Part> parts)
    {
        if (item.ValueKind == JsonValueKind.String)
        {
            parts.Add(new Part.Text(item.GetString()!));
            return;
        }

        if (item.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        switch (String(item, "type"))
        {
            case "text" or "input_text" or "output_text" or null when (String(item, "text") ?? String(item, "content")) is { } text:
                parts.Add(new Part.Text(text));
                break;
            case "tool-call" or "tool_call" or "tool_use" or "function_call":
                parts.Add(new Part.ToolCall(
                    String(item, "toolCallId") ?? String(item, "id") ?? String(item, "call_id"),
                    String(item, "toolName") ?? String(item, "name"),
                    Json(item, "args") ?? Json(item, "input") ?? Json(item, "arguments")));
                break;
            case "tool-result" or "tool_result" or "function_call_output":
                parts.Add(new Part.ToolResponse(
                    String(item, "toolCallId") ?? String(item, "tool_use_id") ?? String(item, "call_id"),
                    Json(item, "result") ?? Json(item, "output") ?? Json(item, "content")));
                break;
            default:
                parts.Add(new Part.Raw(item.GetRawText()));
                break;
        }
    }

    private static void AddToolCalls(JsonElement message, List<Part> parts)
    {
        if (!message.TryGetProperty("tool_calls", out var calls) || calls.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var function = call.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? f : call;
            parts.Add(new Part.ToolCall(String(call, "id"), String(function, "name"), Json(function, "arguments")));
        }
    }

    private static bool TryParts(string json, List<Part> parts)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            foreach (var item in document.RootElement.EnumerateArray())
            {
                AddPart(item, parts);
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool TrySplitIndex(ReadOnlySpan<char> path, out int index, out ReadOnlySpan<char> rest)
    {
        var dot = path.IndexOf('.');
        rest = dot < 0 ? default : path[(dot + 1)..];
        return int.TryParse(dot < 0 ? path : path[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out index) && dot > 0;
    }

    private static string RoleOfEvent(string eventName) => eventName switch
    {
        "gen_ai.system.message" => "system",
        "gen_ai.assistant.message" => "assistant",
        "gen_ai.tool.message" => "tool",
        _ => "user",
    };

    private static string? String(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A property as it is, a string's text or any other value's JSON.</summary>
    private static string? Json(JsonElement element, string name)
        => !element.TryGetProperty(name, out var value) || value.ValueKind is JsonValueKind.Undefined
            ? null
            : value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText();

    private static string Write(Action<Utf8JsonWriter> messages)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartArray();
            messages(writer);
            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteMessage(Utf8JsonWriter writer, string role, IReadOnlyList<Part> parts, string? finishReason)
    {
        writer.WriteStartObject();
        writer.WriteString("role", role);
        writer.WriteStartArray("parts");
        foreach (var part in parts)
        {
            switch (part)
            {
                case Part.Text text:
                    writer.WriteStartObject();
                    writer.WriteString("type", "text");
                    writer.WriteString("content", text.Content);
                    writer.WriteEndObject();
                    break;
                case Part.ToolCall call:
                    writer.WriteStartObject();
                    writer.WriteString("type", "tool_call");
                    WriteOptional(writer, "id", call.Id);
                    WriteOptional(writer, "name", call.Name);
                    WriteOptional(writer, "arguments", call.Arguments);
                    writer.WriteEndObject();
                    break;
                case Part.ToolResponse response:
                    writer.WriteStartObject();
                    writer.WriteString("type", "tool_call_response");
                    WriteOptional(writer, "id", response.Id);
                    WriteOptional(writer, "response", response.Response);
                    writer.WriteEndObject();
                    break;
                case Part.Raw raw:
                    writer.WriteRawValue(raw.Json, skipInputValidation: true);
                    break;
            }
        }

        writer.WriteEndArray();
        if (finishReason is not null)
        {
            writer.WriteString("finish_reason", finishReason);
        }

        writer.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private sealed record Message(string Role, List<Part> Parts, string? FinishReason);

    private abstract record Part
    {
        public sealed record Text(string Content) : Part;

        public sealed record ToolCall(string? Id, string? Name, string? Arguments) : Part;

        public sealed record ToolResponse(string? Id, string? Response) : Part;

        /// <summary>A part already in the semconv shape, or of a type this does not know: kept as its JSON.</summary>
        public sealed record Raw(string Json) : Part;
    }

    private sealed class IndexedMessage
    {
        public string? Role { get; set; }
        public string? Content { get; set; }
        public string? FinishReason { get; set; }
        public SortedDictionary<int, string> Contents { get; } = [];
        public SortedDictionary<int, string?[]> ToolCalls { get; } = [];
    }
}
