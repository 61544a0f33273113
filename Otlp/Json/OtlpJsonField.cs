using System.Text;

namespace Trulayer.Otlp.Json;

/// <summary>
/// Every OTLP JSON key the codec knows, across all messages. A member's name is its key in
/// UpperCamelCase: <c>TraceId</c> is <c>"traceId"</c> (and <c>"trace_id"</c>), so a new key is one
/// new member here and a field in <see cref="OtlpJsonMessages"/>.
/// </summary>
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
    ResourceLogs,
    ScopeLogs,
    LogRecords,
    ObservedTimeUnixNano,
    SeverityNumber,
    SeverityText,
    Body,
    EventName,
}

internal static class OtlpJsonFields
{
    private const int MaxNameLength = 32;

    // By field: the lowerCamelCase key as OTLP/JSON spells it, and the same folded (lowercase, no underscores).
    private static readonly string[] Names = [.. Enum.GetValues<OtlpJsonField>().Select(f => f == OtlpJsonField.Unknown ? "?" : char.ToLowerInvariant(f.ToString()[0]) + f.ToString()[1..])];
    private static readonly byte[][] Utf8Names = [.. Names.Select(Encoding.ASCII.GetBytes)];
    private static readonly byte[][] FoldedNames = [.. Names.Select(n => Encoding.ASCII.GetBytes(n.ToLowerInvariant()))];

    // The fields by the length of their key, for the common case: a key exactly as the OTLP spec spells it.
    private static readonly OtlpJsonField[][] ByLength =
    [
        .. Enumerable.Range(0, MaxNameLength + 1).Select(length =>
            Enum.GetValues<OtlpJsonField>().Where(f => f != OtlpJsonField.Unknown && Utf8Names[(int)f].Length == length).ToArray()),
    ];

    /// <summary>The lowerCamelCase name OTLP/JSON uses, for error paths.</summary>
    public static string Name(OtlpJsonField field) => Names[(int)field];

    /// <summary>A key of a response message, folded like <see cref="Match"/> (lowercase, no underscores).</summary>
    public static string MatchResponse(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>
    /// Matches a JSON key (UTF-8, unescaped) to a field. lowerCamelCase and snake_case both match,
    /// because a key that is not spelled exactly is compared with case and underscores ignored
    /// ("traceId", "trace_id", "TraceId").
    /// </summary>
    public static OtlpJsonField Match(ReadOnlySpan<byte> utf8Name)
    {
        if (utf8Name.Length <= MaxNameLength)
        {
            foreach (var field in ByLength[utf8Name.Length])
            {
                if (utf8Name.SequenceEqual(Utf8Names[(int)field]))
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

        Span<byte> folded = stackalloc byte[MaxNameLength];
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

            folded[length++] = (byte)(b is >= (byte)'A' and <= (byte)'Z' ? b | 0x20 : b);
        }

        for (var field = 1; field < FoldedNames.Length; field++)
        {
            if (folded[..length].SequenceEqual(FoldedNames[field]))
            {
                return (OtlpJsonField)field;
            }
        }

        return OtlpJsonField.Unknown;
    }
}
