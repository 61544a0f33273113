using System.Globalization;
using System.Text.Json;

namespace Trulayer.Dashboard.Model;

/// <summary>One chat message: a role and its parts (text, or a tool call / tool result shown as JSON).</summary>
public sealed record ChatMessage(string Role, IReadOnlyList<ChatPart> Parts);

public sealed record ChatPart(string Kind, string Text);

public sealed record TokenCount(string Kind, long? Count);

/// <summary>
/// The LLM call panel of a span, from what GET /v1/traces/{traceId}/spans says of it: provider, operation,
/// models, every token kind (null: the span reports none), the cost and where it came from, the time to first
/// token when the span carries one, and the input
/// and output the processor normalized (from the span's attributes, or from its GenAI events) as chat messages.
/// </summary>
public sealed record GenAiView(
    string? Provider, string? Operation, string? RequestModel, string? ResponseModel, IReadOnlyList<TokenCount> Tokens,
    decimal? Cost, string CostSource, IReadOnlyList<ChatMessage> Input, IReadOnlyList<ChatMessage> Output, bool TextTruncated,
    long? TimeToFirstTokenNanos)
{
    /// <summary>The panel for <paramref name="span"/>, or null when it is not a model call.</summary>
    public static GenAiView? For(SpanView span)
    {
        var fields = span.Fields;
        var tokens = new TokenCount[]
        {
            new("input", fields.InputTokens), new("output", fields.OutputTokens), new("cache read", fields.CacheReadTokens),
            new("cache creation", fields.CacheCreationTokens), new("reasoning", fields.ReasoningTokens),
        };
        var isModelCall = fields.Type is "LLM" or "EMBEDDING" || fields.Provider is not null || fields.RequestModel is not null
            || fields.ResponseModel is not null || tokens.Any(t => t.Count is not null);
        if (!isModelCall)
        {
            return null;
        }

        return new GenAiView(
            fields.Provider,
            span.Attribute("gen_ai.operation.name"),
            fields.RequestModel,
            fields.ResponseModel,
            tokens,
            fields.Cost,
            CostSourceText(fields.CostSource),
            Conversation(fields.Input, "user"),
            Conversation(fields.Output, "assistant"),
            fields.TextTruncated,
            fields.TimeToFirstTokenNanos);
    }

    /// <summary>Where the cost came from, in words (the route's costSource: reported, computed, none; null before migration 0005).</summary>
    private static string CostSourceText(string? source) => source switch
    {
        "reported" => "reported by the span",
        "computed" => "computed from the model's price and the tokens",
        "none" => "none: the span reports no cost and no price matches its model",
        _ => "not recorded (stored before costs had a source)",
    };

    /// <summary>A message list as the query routes give it (semconv messages JSON, else plain text) as chat messages.</summary>
    public static IReadOnlyList<ChatMessage> Conversation(string? text, string defaultRole)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        return ParseMessages(text, defaultRole) is { Count: > 0 } parsed ? parsed : [new ChatMessage(defaultRole, [new ChatPart("text", text)])];
    }

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
