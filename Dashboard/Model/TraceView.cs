using System.Globalization;
using System.Text.Json;

namespace Trulayer.Dashboard.Model;

/// <summary>An attribute as OTLP/JSON carries it, its value rendered as text (arrays and maps as JSON).</summary>
public sealed record AttributeView(string Key, string Value);

public sealed record ScopeView(string Name, string? Version, IReadOnlyList<AttributeView> Attributes);

public sealed record EventView(string Name, long TimeUnixNano, IReadOnlyList<AttributeView> Attributes);

public sealed record LinkView(string TraceId, string SpanId, IReadOnlyList<AttributeView> Attributes);

public sealed record LogView(long TimeUnixNano, string Severity, string Body, string? EventName, string? SpanId, IReadOnlyList<AttributeView> Attributes);

/// <summary>One span of a trace, with its resource and scope, as the trace view shows it.</summary>
public sealed record SpanView(
    string SpanId, string? ParentSpanId, string Name, string Kind, long StartUnixNano, long EndUnixNano,
    int StatusCode, string? StatusMessage, IReadOnlyList<AttributeView> Attributes, IReadOnlyList<EventView> Events,
    IReadOnlyList<LinkView> Links, IReadOnlyList<AttributeView> Resource, ScopeView Scope)
{
    public long DurationNanos => Math.Max(0, EndUnixNano - StartUnixNano);

    public bool IsError => StatusCode == 2;

    public string Service => Resource.FirstOrDefault(a => a.Key == "service.name")?.Value ?? "unknown service";

    public string? Attribute(string key) => Attributes.FirstOrDefault(a => a.Key == key)?.Value;
}

/// <summary>A span in the waterfall: its depth in the tree and its place on the trace's time axis.</summary>
public sealed record WaterfallRow(SpanView Span, int Depth, double OffsetPercent, double WidthPercent);

/// <summary>Every span of one trace, ordered as a tree (parents before children, siblings by start time).</summary>
public sealed class TraceView
{
    public TraceView(string traceId, IReadOnlyList<SpanView> spans)
    {
        TraceId = traceId;
        Spans = spans;
        Start = spans.Count == 0 ? 0 : spans.Min(s => s.StartUnixNano);
        End = spans.Count == 0 ? 0 : spans.Max(s => s.EndUnixNano);
        Rows = BuildRows();
    }

    public string TraceId { get; }

    public IReadOnlyList<SpanView> Spans { get; }

    public IReadOnlyList<WaterfallRow> Rows { get; }

    public long Start { get; }

    public long End { get; }

    public long DurationNanos => Math.Max(0, End - Start);

    public SpanView? Root => Rows.Count == 0 ? null : Rows[0].Span;

    public SpanView? Find(string? spanId)
        => spanId is null ? null : Spans.FirstOrDefault(s => string.Equals(s.SpanId, spanId, StringComparison.OrdinalIgnoreCase));

    private List<WaterfallRow> BuildRows()
    {
        var ids = Spans.Select(s => s.SpanId).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var children = Spans
            .Where(s => s.ParentSpanId is not null && ids.Contains(s.ParentSpanId))
            .GroupBy(s => s.ParentSpanId!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.StartUnixNano).ToList(), StringComparer.OrdinalIgnoreCase);
        // A span whose parent is not (yet) in the trace is shown as a root: late or lost parents are normal.
        var roots = Spans.Where(s => s.ParentSpanId is null || !ids.Contains(s.ParentSpanId)).OrderBy(s => s.StartUnixNano);
        var rows = new List<WaterfallRow>(Spans.Count);
        var total = (double)Math.Max(1, DurationNanos);
        var stack = new Stack<(SpanView Span, int Depth)>(roots.Reverse().Select(s => (s, 0)));
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (stack.Count > 0)
        {
            var (span, depth) = stack.Pop();
            if (!seen.Add(span.SpanId))
            {
                continue;
            }

            var offset = (span.StartUnixNano - Start) / total * 100;
            var width = Math.Max(0.3, span.DurationNanos / total * 100);
            rows.Add(new WaterfallRow(span, depth, offset, Math.Min(width, 100 - offset)));
            if (children.TryGetValue(span.SpanId, out var kids))
            {
                for (var i = kids.Count - 1; i >= 0; i--)
                {
                    stack.Push((kids[i], depth + 1));
                }
            }
        }

        return rows;
    }
}

/// <summary>Reads OTLP/JSON TracesData and LogsData (lowerCamelCase, ids in hex, int64 as strings) into the views.</summary>
public static class OtlpTraceReader
{
    private static readonly string[] Kinds = ["unspecified", "internal", "server", "client", "producer", "consumer"];

    public static TraceView Read(string traceId, JsonElement tracesData)
    {
        var spans = new List<SpanView>();
        foreach (var resourceSpans in Array(tracesData, "resourceSpans"))
        {
            var resource = Attributes(Object(resourceSpans, "resource"));
            foreach (var scopeSpans in Array(resourceSpans, "scopeSpans"))
            {
                var scope = ReadScope(Object(scopeSpans, "scope"));
                foreach (var span in Array(scopeSpans, "spans"))
                {
                    var status = Object(span, "status");
                    var kind = (int)Int64(span, "kind");
                    spans.Add(new SpanView(
                        String(span, "spanId") ?? "",
                        String(span, "parentSpanId") is { Length: > 0 } parent ? parent : null,
                        String(span, "name") ?? "",
                        kind >= 0 && kind < Kinds.Length ? Kinds[kind] : kind.ToString(CultureInfo.InvariantCulture),
                        Int64(span, "startTimeUnixNano"),
                        Int64(span, "endTimeUnixNano"),
                        (int)Int64(status, "code"),
                        String(status, "message") is { Length: > 0 } message ? message : null,
                        Attributes(span),
                        [.. Array(span, "events").Select(e => new EventView(String(e, "name") ?? "", Int64(e, "timeUnixNano"), Attributes(e)))],
                        [.. Array(span, "links").Select(l => new LinkView(String(l, "traceId") ?? "", String(l, "spanId") ?? "", Attributes(l)))],
                        resource,
                        scope));
                }
            }
        }

        return new TraceView(traceId, spans);
    }

    public static IReadOnlyList<LogView> ReadLogs(JsonElement logsData)
    {
        var logs = new List<LogView>();
        foreach (var resourceLogs in Array(logsData, "resourceLogs"))
        {
            foreach (var scopeLogs in Array(resourceLogs, "scopeLogs"))
            {
                foreach (var record in Array(scopeLogs, "logRecords"))
                {
                    var time = Int64(record, "timeUnixNano");
                    logs.Add(new LogView(
                        time != 0 ? time : Int64(record, "observedTimeUnixNano"),
                        String(record, "severityText") is { Length: > 0 } text ? text : SeverityName((int)Int64(record, "severityNumber")),
                        record.TryGetProperty("body", out var body) ? Value(body) : "",
                        String(record, "eventName") is { Length: > 0 } eventName ? eventName : null,
                        String(record, "spanId") is { Length: > 0 } spanId ? spanId : null,
                        Attributes(record)));
                }
            }
        }

        return [.. logs.OrderBy(l => l.TimeUnixNano)];
    }

    private static string SeverityName(int number) => number switch
    {
        0 => "unspecified",
        <= 4 => "trace",
        <= 8 => "debug",
        <= 12 => "info",
        <= 16 => "warn",
        <= 20 => "error",
        _ => "fatal",
    };

    private static ScopeView ReadScope(JsonElement scope)
        => new(String(scope, "name") ?? "", String(scope, "version") is { Length: > 0 } v ? v : null, Attributes(scope));

    private static List<AttributeView> Attributes(JsonElement owner)
        => [.. Array(owner, "attributes").Select(a => new AttributeView(String(a, "key") ?? "", a.TryGetProperty("value", out var v) ? Value(v) : ""))];

    /// <summary>An AnyValue as text: strings as they are, numbers and booleans as written, arrays and maps as JSON.</summary>
    public static string Value(JsonElement anyValue)
    {
        if (anyValue.ValueKind != JsonValueKind.Object)
        {
            return anyValue.ValueKind == JsonValueKind.String ? anyValue.GetString()! : anyValue.GetRawText();
        }

        foreach (var property in anyValue.EnumerateObject())
        {
            switch (property.Name)
            {
                case "stringValue":
                    return property.Value.GetString() ?? "";
                case "intValue" or "doubleValue":
                    return property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
                case "boolValue":
                    return property.Value.GetRawText();
                case "bytesValue":
                    return property.Value.GetString() ?? "";
                case "arrayValue":
                    return "[" + string.Join(", ", Array(property.Value, "values").Select(v => Quote(v))) + "]";
                case "kvlistValue":
                    return "{" + string.Join(", ", Array(property.Value, "values").Select(kv => $"\"{String(kv, "key")}\": {(kv.TryGetProperty("value", out var inner) ? Quote(inner) : "null")}")) + "}";
            }
        }

        return "";
    }

    private static string Quote(JsonElement anyValue)
        => anyValue.ValueKind == JsonValueKind.Object && anyValue.TryGetProperty("stringValue", out var s)
            ? JsonSerializer.Serialize(s.GetString())
            : Value(anyValue);

    private static IEnumerable<JsonElement> Array(JsonElement owner, string name)
        => owner.ValueKind == JsonValueKind.Object && owner.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : [];

    private static JsonElement Object(JsonElement owner, string name)
        => owner.ValueKind == JsonValueKind.Object && owner.TryGetProperty(name, out var value) ? value : default;

    private static string? String(JsonElement owner, string name)
        => owner.ValueKind == JsonValueKind.Object && owner.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long Int64(JsonElement owner, string name)
    {
        if (owner.ValueKind != JsonValueKind.Object || !owner.TryGetProperty(name, out var value))
        {
            return 0;
        }

        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt64(out var number) => number,
            JsonValueKind.String when long.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => 0,
        };
    }
}
