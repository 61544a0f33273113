using Trulayer.Otlp.GenAi;

namespace Trulayer.Processor.Storage;

/// <summary>One row of telemetry.spans, mapped from one OTLP span.</summary>
internal sealed class SpanRow
{
    public required Guid ProjectId { get; init; }
    public required Guid TraceId { get; init; }
    public required long SpanId { get; init; }
    public required long? ParentSpanId { get; init; }
    public required long StartUnixNano { get; init; }
    public required long EndUnixNano { get; init; }
    public required string Name { get; init; }
    public required short Kind { get; init; }
    public required short StatusCode { get; init; }
    public required string? StatusMessage { get; init; }
    public required string? ServiceName { get; init; }
    public required SpanType SpanType { get; init; }
    /// <summary>
    /// The promoted GenAI columns. <see cref="GenAiFields.InputText"/> is the normalized form, or, where
    /// <see cref="InputForm"/> is set, the value of that attribute as it arrived (cut out of <see cref="Otlp"/>):
    /// <see cref="GenAiContent.Normalize(GenAiField, string?, string)"/> gives the normalized form. Likewise the output.
    /// </summary>
    public required GenAiFields GenAi { get; init; }

    /// <summary>The attribute <see cref="GenAiFields.InputText"/> holds the value of, when that value is not the normalized form; else null.</summary>
    public string? InputForm { get; init; }

    /// <summary>The same for <see cref="GenAiFields.OutputText"/>.</summary>
    public string? OutputForm { get; init; }

    /// <summary>The span's cost in micro-USD: <see cref="GenAiFields.CostMicros"/> as reported, else computed from its tokens; null when neither.</summary>
    public long? CostMicros { get; init; }

    public CostSource CostSource { get; init; }

    /// <summary>The <see cref="AttributeHash"/> of each attribute (prompt and completion content left out).</summary>
    public required int[] AttributeHashes { get; init; }

    public required Guid ResourceId { get; init; }
    public required Guid ScopeId { get; init; }

    /// <summary>
    /// The Span message as it arrived (a slice of the Kafka record), or, when <see cref="InputAt"/> or
    /// <see cref="OutputAt"/> is set, the same with that content attribute's value cut out (<see cref="ContentSplice"/>).
    /// </summary>
    public required ReadOnlyMemory<byte> Otlp { get; init; }

    /// <summary>The size of the Span as it arrived when <see cref="Otlp"/> has content cut out; otherwise null.</summary>
    public int? SpanSize { get; init; }

    /// <summary>Where in <see cref="Otlp"/> the placeholder of the attribute that holds <see cref="GenAiFields.InputText"/> sits; null when it is not cut out.</summary>
    public int? InputAt { get; init; }

    /// <summary>The same for <see cref="GenAiFields.OutputText"/>.</summary>
    public int? OutputAt { get; init; }

    public required DateTime ReceivedAt { get; init; }

    /// <summary>The partition column: the start time to the microsecond, as PostgreSQL keeps it.</summary>
    public DateTime StartTime => UnixNanos.ToDateTime(StartUnixNano);

    public bool IsRoot => ParentSpanId is null;

    public bool IsError => StatusCode == 2;

    public SpanKey Key => new(ProjectId, TraceId, SpanId, StartUnixNano / 1000);
}

/// <summary>Where a span's cost came from: stored as none, reported, computed.</summary>
internal enum CostSource
{
    None,
    Reported,
    Computed,
}

internal static class CostSources
{
    public static string ToColumn(this CostSource source) => source switch
    {
        CostSource.Reported => "reported",
        CostSource.Computed => "computed",
        _ => "none",
    };
}

/// <summary>The unique key of telemetry.spans (start time in microseconds, as stored).</summary>
internal readonly record struct SpanKey(Guid ProjectId, Guid TraceId, long SpanId, long StartMicros);

/// <summary>A row of telemetry.resources.</summary>
internal sealed record ResourceRow(Guid ProjectId, Guid ResourceId, string? ServiceName, string SchemaUrl, string AttributesJson, byte[] Otlp);

/// <summary>A row of telemetry.scopes.</summary>
internal sealed record ScopeRow(Guid ProjectId, Guid ScopeId, string Name, string Version, string SchemaUrl, string AttributesJson, byte[] Otlp);

internal static class UnixNanos
{
    /// <summary>Nanoseconds since the epoch as a UTC DateTime, to the microsecond (PostgreSQL's precision).</summary>
    public static DateTime ToDateTime(long unixNanos) => DateTime.UnixEpoch.AddTicks(unixNanos / 1000 * 10);

    public static DateOnly Day(long unixNanos) => DateOnly.FromDateTime(ToDateTime(unixNanos));
}
