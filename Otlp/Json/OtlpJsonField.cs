namespace Trulayer.Otlp.Json;

/// <summary>Every OTLP trace JSON key the codec knows, across all messages.</summary>
internal enum OtlpJsonField
{
    Unknown,
    ResourceSpans,
    Resource,
    ScopeSpans,
    SchemaUrl,
    Attributes,
    DroppedAttributesCount,
    EntityRefs,
    Type,
    IdKeys,
    DescriptionKeys,
    Scope,
    Spans,
    Name,
    Version,
    TraceId,
    SpanId,
    TraceState,
    ParentSpanId,
    Flags,
    Kind,
    StartTimeUnixNano,
    EndTimeUnixNano,
    Events,
    DroppedEventsCount,
    Links,
    DroppedLinksCount,
    Status,
    TimeUnixNano,
    Message,
    Code,
    Key,
    Value,
    StringValue,
    BoolValue,
    IntValue,
    DoubleValue,
    ArrayValue,
    KvlistValue,
    BytesValue,
    Values,
}

internal static class OtlpJsonFields
{
    private const int MaxNameLength = 32;

    /// <summary>The lowerCamelCase name OTLP/JSON uses, for error paths.</summary>
    public static string Name(OtlpJsonField field) => field switch
    {
        OtlpJsonField.ResourceSpans => "resourceSpans",
        OtlpJsonField.Resource => "resource",
        OtlpJsonField.ScopeSpans => "scopeSpans",
        OtlpJsonField.SchemaUrl => "schemaUrl",
        OtlpJsonField.Attributes => "attributes",
        OtlpJsonField.DroppedAttributesCount => "droppedAttributesCount",
        OtlpJsonField.EntityRefs => "entityRefs",
        OtlpJsonField.Type => "type",
        OtlpJsonField.IdKeys => "idKeys",
        OtlpJsonField.DescriptionKeys => "descriptionKeys",
        OtlpJsonField.Scope => "scope",
        OtlpJsonField.Spans => "spans",
        OtlpJsonField.Name => "name",
        OtlpJsonField.Version => "version",
        OtlpJsonField.TraceId => "traceId",
        OtlpJsonField.SpanId => "spanId",
        OtlpJsonField.TraceState => "traceState",
        OtlpJsonField.ParentSpanId => "parentSpanId",
        OtlpJsonField.Flags => "flags",
        OtlpJsonField.Kind => "kind",
        OtlpJsonField.StartTimeUnixNano => "startTimeUnixNano",
        OtlpJsonField.EndTimeUnixNano => "endTimeUnixNano",
        OtlpJsonField.Events => "events",
        OtlpJsonField.DroppedEventsCount => "droppedEventsCount",
        OtlpJsonField.Links => "links",
        OtlpJsonField.DroppedLinksCount => "droppedLinksCount",
        OtlpJsonField.Status => "status",
        OtlpJsonField.TimeUnixNano => "timeUnixNano",
        OtlpJsonField.Message => "message",
        OtlpJsonField.Code => "code",
        OtlpJsonField.Key => "key",
        OtlpJsonField.Value => "value",
        OtlpJsonField.StringValue => "stringValue",
        OtlpJsonField.BoolValue => "boolValue",
        OtlpJsonField.IntValue => "intValue",
        OtlpJsonField.DoubleValue => "doubleValue",
        OtlpJsonField.ArrayValue => "arrayValue",
        OtlpJsonField.KvlistValue => "kvlistValue",
        OtlpJsonField.BytesValue => "bytesValue",
        OtlpJsonField.Values => "values",
        _ => "?",
    };

    /// <summary>A key of a response message, folded like <see cref="Match"/> (lowercase, no underscores).</summary>
    public static string MatchResponse(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    // The lowerCamelCase keys by length, for the common case: a key exactly as the OTLP spec spells it.
    private static readonly (byte[] Name, OtlpJsonField Field)[][] CamelCaseByLength = BuildCamelCaseTable();

    private static (byte[] Name, OtlpJsonField Field)[][] BuildCamelCaseTable()
    {
        var fields = Enum.GetValues<OtlpJsonField>().Where(f => f != OtlpJsonField.Unknown).ToArray();
        var table = new (byte[], OtlpJsonField)[MaxNameLength + 1][];
        for (var length = 0; length <= MaxNameLength; length++)
        {
            table[length] = fields
                .Select(f => (Name: System.Text.Encoding.ASCII.GetBytes(Name(f)), Field: f))
                .Where(f => f.Name.Length == length)
                .ToArray();
        }

        return table;
    }

    /// <summary>
    /// Matches a JSON key (UTF-8, unescaped) to a field. lowerCamelCase and snake_case both match,
    /// because a key that is not spelled exactly is compared with case and underscores ignored
    /// ("traceId", "trace_id", "TraceId").
    /// </summary>
    public static OtlpJsonField Match(ReadOnlySpan<byte> utf8Name)
    {
        if (utf8Name.Length <= MaxNameLength)
        {
            foreach (var (name, field) in CamelCaseByLength[utf8Name.Length])
            {
                if (utf8Name.SequenceEqual(name))
                {
                    return field;
                }
            }
        }

        return MatchFolded(utf8Name);
    }

    private static OtlpJsonField MatchFolded(ReadOnlySpan<byte> utf8Name)
    {
        if (utf8Name.Length > MaxNameLength * 2)
        {
            return OtlpJsonField.Unknown;
        }

        Span<char> folded = stackalloc char[MaxNameLength];
        var length = 0;
        foreach (var b in utf8Name)
        {
            if (b == (byte)'_')
            {
                continue;
            }

            if (b >= 0x80 || length == MaxNameLength)
            {
                return OtlpJsonField.Unknown;
            }

            folded[length++] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b | 0x20 : b);
        }

        return folded[..length] switch
        {
            "resourcespans" => OtlpJsonField.ResourceSpans,
            "resource" => OtlpJsonField.Resource,
            "scopespans" => OtlpJsonField.ScopeSpans,
            "schemaurl" => OtlpJsonField.SchemaUrl,
            "attributes" => OtlpJsonField.Attributes,
            "droppedattributescount" => OtlpJsonField.DroppedAttributesCount,
            "entityrefs" => OtlpJsonField.EntityRefs,
            "type" => OtlpJsonField.Type,
            "idkeys" => OtlpJsonField.IdKeys,
            "descriptionkeys" => OtlpJsonField.DescriptionKeys,
            "scope" => OtlpJsonField.Scope,
            "spans" => OtlpJsonField.Spans,
            "name" => OtlpJsonField.Name,
            "version" => OtlpJsonField.Version,
            "traceid" => OtlpJsonField.TraceId,
            "spanid" => OtlpJsonField.SpanId,
            "tracestate" => OtlpJsonField.TraceState,
            "parentspanid" => OtlpJsonField.ParentSpanId,
            "flags" => OtlpJsonField.Flags,
            "kind" => OtlpJsonField.Kind,
            "starttimeunixnano" => OtlpJsonField.StartTimeUnixNano,
            "endtimeunixnano" => OtlpJsonField.EndTimeUnixNano,
            "events" => OtlpJsonField.Events,
            "droppedeventscount" => OtlpJsonField.DroppedEventsCount,
            "links" => OtlpJsonField.Links,
            "droppedlinkscount" => OtlpJsonField.DroppedLinksCount,
            "status" => OtlpJsonField.Status,
            "timeunixnano" => OtlpJsonField.TimeUnixNano,
            "message" => OtlpJsonField.Message,
            "code" => OtlpJsonField.Code,
            "key" => OtlpJsonField.Key,
            "value" => OtlpJsonField.Value,
            "stringvalue" => OtlpJsonField.StringValue,
            "boolvalue" => OtlpJsonField.BoolValue,
            "intvalue" => OtlpJsonField.IntValue,
            "doublevalue" => OtlpJsonField.DoubleValue,
            "arrayvalue" => OtlpJsonField.ArrayValue,
            "kvlistvalue" => OtlpJsonField.KvlistValue,
            "bytesvalue" => OtlpJsonField.BytesValue,
            "values" => OtlpJsonField.Values,
            _ => OtlpJsonField.Unknown,
        };
    }
}
