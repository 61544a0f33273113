using System.Globalization;
using System.Text.Json;

namespace Trulayer.Dashboard.Model;

/// <summary>One chat message: a role and its parts (text, or a tool call / tool result shown as JSON).</summary>
public sealed record ChatMessage(string Role, IReadOnlyList<ChatPart> Parts);

public sealed record ChatPart(string Kind, string Text);

public sealed record TokenCount(string Kind, long Count);

/// <summary>
/// The LLM call panel of a span: provider, models, tokens, cost and the conversation, read from the
/// span's gen_ai.* attributes and events and from its log records. It shows what the span says; the
/// mapped, priced values are the query routes' (/v1/traces/{traceId}/spans), which this panel reads
/// once they exist.
/// </summary>
public sealed record GenAiView(
    string? Provider, string? Operation, string? RequestModel, string? ResponseModel, IReadOnlyList<TokenCount> Tokens,
    string? Cost, string? CostSource, IReadOnlyList<ChatMessage> Input, IReadOnlyList<ChatMessage> Output)
{
    private static readonly (string Kind, string[] Keys)[] TokenKeys =
    [
        ("input", ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"]),
        ("output", ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"]),
        ("cache read", ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"]),
        ("cache creation", ["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"]),
        ("reasoning", ["gen_ai.usage.reasoning.output_tokens"]),
    ];

    private static readonly Dictionary<string, string> EventRoles = new()
    {
        ["gen_ai.system.message"] = "system",
        ["gen_ai.user.message"] = "user",
        ["gen_ai.assistant.message"] = "assistant",
        ["gen_ai.tool.message"] = "tool",
    };

    /// <summary>The panel for <paramref name="span"/>, or null when it is not an LLM call.</summary>
    public static GenAiView? For(SpanView span, IEnumerable<LogView> logs)
    {
        var attributes = span.Attributes.ToDictionary(a => a.Key, a => a.Value);
        var spanLogs = logs.Where(l => string.Equals(l.SpanId, span.SpanId, StringComparison.OrdinalIgnoreCase)).ToList();
        if (!attributes.Keys.Any(k => k.StartsWith("gen_ai.", StringComparison.Ordinal) || k.StartsWith("llm.", StringComparison.Ordinal))
            && !spanLogs.Any(l => l.EventName?.StartsWith("gen_ai.", StringComparison.Ordinal) == true))
        {
            return null;
        }

        string? First(params string[] keys) => keys.Select(k => attributes.GetValueOrDefault(k)).FirstOrDefault(v => !string.IsNullOrEmpty(v));

        var tokens = new List<TokenCount>();
        foreach (var (kind, keys) in TokenKeys)
        {
            if (First(keys) is { } text && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var count))
            {
                tokens.Add(new TokenCount(kind, count));
            }
        }

        var cost = First("gen_ai.usage.cost");
        var input = Messages(First("gen_ai.input.messages"), First("gen_ai.prompt", "gen_ai.content.prompt", "llm.input_messages"), "user");
        var output = Messages(First("gen_ai.output.messages"), First("gen_ai.completion", "gen_ai.content.completion", "llm.output_messages"), "assistant");
        if (First("gen_ai.system_instructions") is { } instructions && input.Count > 0)
        {
            input.Insert(0, new ChatMessage("system", [new ChatPart("text", instructions)]));
        }

        input.AddRange(Indexed(attributes, "gen_ai.prompt."));
        output.AddRange(Indexed(attributes, "gen_ai.completion."));
        // Content sent as events (on the span, or as log records) rather than attributes.
        var events = span.Events.Select(e => (e.Name, Body: e.Attributes.FirstOrDefault(a => a.Key is "content" or "gen_ai.event.content" or "message")?.Value))
            .Concat(spanLogs.Select(l => (Name: l.EventName ?? "", Body: (string?)l.Body)));
        foreach (var (name, body) in events)
        {
            if (body is null)
            {
                continue;
            }

            if (EventRoles.TryGetValue(name, out var role))
            {
                input.Add(MessageOf(body, role));
            }
            else if (name == "gen_ai.choice")
            {
                output.Add(MessageOf(body, "assistant"));
            }
        }

        return new GenAiView(
            First("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
            First("gen_ai.operation.name"),
            First("gen_ai.request.model", "llm.model_name"),
            First("gen_ai.response.model"),
            tokens,
            cost,
            cost is null ? null : "reported by the span (gen_ai.usage.cost)",
            input,
            output);
    }

    /// <summary>A message list as the query routes give it (semconv messages JSON, else plain text) as chat messages.</summary>
    public static IReadOnlyList<ChatMessage> Conversation(string? text, string defaultRole) => Messages(null, text, defaultRole);

    private static List<ChatMessage> Messages(string? structured, string? plain, string defaultRole)
    {
        if (structured is not null && ParseMessages(structured, defaultRole) is { Count: > 0 } parsed)
        {
            return parsed;
        }

        if (plain is null)
        {
            return [];
        }

        return ParseMessages(plain, defaultRole) is { Count: > 0 } fromJson ? fromJson : [new ChatMessage(defaultRole, [new ChatPart("text", plain)])];
    }

    /// <summary>OpenLLMetry's flattened gen_ai.prompt.0.role / gen_ai.prompt.0.content.</summary>
    private static IEnumerable<ChatMessage> Indexed(Dictionary<string, string> attributes, string prefix)
    {
        for (var i = 0; attributes.TryGetValue($"{prefix}{i}.content", out var content) || attributes.ContainsKey($"{prefix}{i}.role"); i++)
        {
            yield return new ChatMessage(attributes.GetValueOrDefault($"{prefix}{i}.role") ?? "", [new ChatPart("text", content ?? "")]);
        }
    }

    private static ChatMessage MessageOf(string body, string role)
        => ParseMessages(body, role) is [var only] ? only : new ChatMessage(role, [new ChatPart("text", body)]);

    /// <summary>
    /// A JSON message list in either shape: semconv's [{"role", "parts": [{"type": "text", "content"}]}] or the
    /// older [{"role", "content"}] (also a single object); null when the text is not JSON.
    /// </summary>
    private static List<ChatMessage>? ParseMessages(string text, string defaultRole)
    {
        var trimmed = text.TrimStart();
        if (trimmed.Length == 0 || (trimmed[0] != '[' && trimmed[0] != '{'))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            IEnumerable<JsonElement> items = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray() : [root];
            var messages = new List<ChatMessage>();
            foreach (var item in items)
            {
                if (item.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                var message = item.TryGetProperty("message", out var inner) && inner.ValueKind == JsonValueKind.Object ? inner : item;
                var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : defaultRole;
                messages.Add(new ChatMessage(role, Parts(message)));
            }

            return messages;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static List<ChatPart> Parts(JsonElement message)
    {
        var parts = new List<ChatPart>();
        if (message.TryGetProperty("parts", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in list.EnumerateArray())
            {
                var type = part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "text";
                parts.Add(type == "text" && part.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String
                    ? new ChatPart("text", c.GetString()!)
                    : new ChatPart(type, Indented(part)));
            }
        }

        if (message.TryGetProperty("content", out var content))
        {
            parts.Add(content.ValueKind == JsonValueKind.String ? new ChatPart("text", content.GetString()!) : new ChatPart("content", Indented(content)));
        }

        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            parts.AddRange(calls.EnumerateArray().Select(call => new ChatPart("tool_call", Indented(call))));
        }

        return parts;
    }

    private static string Indented(JsonElement element) => JsonSerializer.Serialize(element, IndentedJson);

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };
}

/// <summary>How the dashboard writes durations, times and numbers.</summary>
public static class Format
{
    public static string Duration(long nanos) => nanos switch
    {
        < 1_000 => $"{nanos} ns",
        < 1_000_000 => (nanos / 1_000d).ToString("0.#", CultureInfo.InvariantCulture) + " µs",
        < 1_000_000_000 => (nanos / 1_000_000d).ToString("0.#", CultureInfo.InvariantCulture) + " ms",
        < 60_000_000_000 => (nanos / 1_000_000_000d).ToString("0.##", CultureInfo.InvariantCulture) + " s",
        _ => TimeSpan.FromTicks(nanos / 100).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture),
    };

    public static string Time(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.fff 'UTC'", CultureInfo.InvariantCulture);

    public static string Time(long unixNanos) => Time(DateTimeOffset.FromUnixTimeMilliseconds(unixNanos / 1_000_000));

    public static string Count(long? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "–";

    public static string Cost(decimal? value) => value is { } cost ? "$" + cost.ToString("0.######", CultureInfo.InvariantCulture) : "–";
}
