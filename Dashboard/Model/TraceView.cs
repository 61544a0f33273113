using System.Globalization;
using System.Text.Json;
using Trulayer.Dashboard.Api;

namespace Trulayer.Dashboard.Model;

/// <summary>An attribute as OTLP/JSON carries it, its value rendered as text (arrays and maps as JSON).</summary>
public sealed record AttributeView(string Key, string Value);

public sealed record ScopeView(string Name, string? Version, IReadOnlyList<AttributeView> Attributes);

public sealed record EventView(string Name, long TimeUnixNano, IReadOnlyList<AttributeView> Attributes);

public sealed record LinkView(string TraceId, string SpanId, IReadOnlyList<AttributeView> Attributes);

public sealed record LogView(long TimeUnixNano, string Severity, string Body, string? EventName, string? SpanId, IReadOnlyList<AttributeView> Attributes);

/// <summary>
/// One span of a trace as the trace page shows it, from GET /v1/traces/{traceId}/spans. The body is parsed once
/// into a document and each span reads from its element: what the waterfall needs (ids, name, times, status,
/// service) at once, the rest (<see cref="Fields"/>: type, GenAI fields, tokens, cost and its source, input and
/// output; its OTLP attributes, events, links, resource, scope) only when the span is opened. Reading every
/// field of two thousand spans into objects took seconds in the WebAssembly interpreter.
/// </summary>
public sealed class SpanView
{
    private readonly JsonElement _span;
    private readonly JsonElement? _resource;
    private readonly JsonElement? _scope;
    private TraceSpan? _fields;
    private IReadOnlyList<AttributeView>? _attributes;
    private IReadOnlyList<EventView>? _events;
    private IReadOnlyList<LinkView>? _links;
    private IReadOnlyList<AttributeView>? _resourceAttributes;
    private ScopeView? _scopeView;

    public SpanView(JsonElement span, JsonElement? resource, JsonElement? scope)
    {
        _span = span;
        _resource = resource;
        _scope = scope;
        SpanId = OtlpJson.String(span, "spanId") ?? "";
        ParentSpanId = OtlpJson.String(span, "parentSpanId") is { Length: > 0 } parent ? parent : null;
        Name = OtlpJson.String(span, "name") ?? "";
        StartUnixNano = OtlpJson.Int64(span, "startTimeUnixNano");
        EndUnixNano = OtlpJson.Int64(span, "endTimeUnixNano");
        Status = OtlpJson.String(span, "status") ?? "unset";
        Service = OtlpJson.String(span, "service") ?? "unknown service";
    }

    /// <summary>What the route says of the span: type, GenAI fields, tokens, cost and its source, input and output.</summary>
    public TraceSpan Fields => _fields ??= _span.Deserialize(DashboardJson.Default.TraceSpan)!;

    public string SpanId { get; }

    public string? ParentSpanId { get; }

    public string Name { get; }

    public string Kind => Fields.Kind;

    public long StartUnixNano { get; }

    public long EndUnixNano { get; }

    public long DurationNanos => Math.Max(0, EndUnixNano - StartUnixNano);

    /// <summary>ok, error or unset, as the route writes it.</summary>
    public string Status { get; }

    public bool IsError => Status == "error";

    public string? StatusMessage => Fields.StatusMessage;

    public string Service { get; }

    public IReadOnlyList<AttributeView> Attributes => _attributes ??= OtlpJson.Attributes(OtlpJson.Property(_span, "attributes"));

    public IReadOnlyList<EventView> Events => _events ??=
        [.. OtlpJson.Array(OtlpJson.Property(_span, "events")).Select(e => new EventView(OtlpJson.String(e, "name") ?? "", OtlpJson.Int64(e, "timeUnixNano"), OtlpJson.Attributes(e)))];

    public IReadOnlyList<LinkView> Links => _links ??=
        [.. OtlpJson.Array(OtlpJson.Property(_span, "links")).Select(l => new LinkView(OtlpJson.String(l, "traceId") ?? "", OtlpJson.String(l, "spanId") ?? "", OtlpJson.Attributes(l)))];

    public IReadOnlyList<AttributeView> Resource => _resourceAttributes ??= OtlpJson.Attributes(_resource);

    public ScopeView Scope => _scopeView ??= new ScopeView(
        OtlpJson.String(_scope, "name") ?? "", OtlpJson.String(_scope, "version") is { Length: > 0 } v ? v : null, OtlpJson.Attributes(_scope));

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
        ErrorCount = spans.Count(s => s.IsError);
    }

    /// <summary>
    /// The trace as GET /v1/traces/{traceId}/spans gave it (<c>{"spans": [...], "resources": {id: ...}, "scopes":
    /// {id: ...}}</c>), each span with its resource and scope. The spans keep elements of <paramref name="body"/>.
    /// </summary>
    public static TraceView From(string traceId, JsonDocument body)
    {
        var root = body.RootElement;
        var resources = OtlpJson.Property(root, "resources");
        var scopes = OtlpJson.Property(root, "scopes");
        var spans = new List<SpanView>();
        foreach (var span in OtlpJson.Array(OtlpJson.Property(root, "spans")))
        {
            var resource = OtlpJson.String(span, "resourceId") is { } r ? OtlpJson.Property(resources, r) : null;
            var scope = OtlpJson.String(span, "scopeId") is { } s ? OtlpJson.Property(scopes, s) : null;
            spans.Add(new SpanView(span, resource, scope));
        }

        return new TraceView(traceId, spans);
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

    /// <summary>How many spans failed.</summary>
    public int ErrorCount { get; private set; }

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

/// <summary>Reads OTLP/JSON (lowerCamelCase, ids in hex, int64 as strings): a span's parts, and LogsData into log views.</summary>
public static class OtlpJson
{
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

    /// <summary>The attributes of an OTLP/JSON object (a resource, scope, event, link), or of a span's attribute array itself.</summary>
    public static List<AttributeView> Attributes(JsonElement? owner)
    {
        var list = owner is { ValueKind: JsonValueKind.Array } array ? array.EnumerateArray() : Array(owner, "attributes");
        return [.. list.Select(a => new AttributeView(String(a, "key") ?? "", a.TryGetProperty("value", out var v) ? Value(v) : ""))];
    }

    /// <summary>The property <paramref name="name"/> of an object, or null when it has none (or is not an object).</summary>
    public static JsonElement? Property(JsonElement? owner, string name)
        => owner is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>The elements of a JSON array (a span's events or links), none when it is absent.</summary>
    public static IEnumerable<JsonElement> Array(JsonElement? array)
        => array is { ValueKind: JsonValueKind.Array } items ? items.EnumerateArray() : [];

    public static long ParseInt64(string? text)
        => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;

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

    private static IEnumerable<JsonElement> Array(JsonElement? owner, string name)
        => owner is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : [];

    public static string? String(JsonElement? owner, string name)
        => owner is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static long Int64(JsonElement? owner, string name)
    {
        if (owner is not { ValueKind: JsonValueKind.Object } o || !o.TryGetProperty(name, out var value))
        {
            return 0;
        }

        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt64(out var number) => number,
            JsonValueKind.String => ParseInt64(value.GetString()),
            _ => 0,
        };
    }
}
