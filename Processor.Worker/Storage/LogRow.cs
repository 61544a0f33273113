namespace Trulayer.Processor.Storage;

/// <summary>One row of telemetry.logs, mapped from one OTLP LogRecord.</summary>
internal sealed class LogRow
{
    public required Guid ProjectId { get; init; }

    /// <summary>The identity (<see cref="Pipeline.LogRecordDecoder.RecordId"/>): equal for the same record of the same resource and scope.</summary>
    public required Guid RecordId { get; init; }

    /// <summary>The partition time in unix nanoseconds: the record's time, else its observed time, else when ingest received it.</summary>
    public required long PartitionUnixNano { get; init; }

    public required long TimeUnixNano { get; init; }
    public required long ObservedUnixNano { get; init; }
    public required short SeverityNumber { get; init; }
    public required string? SeverityText { get; init; }
    public required short? SeverityRange { get; init; }
    public required string? BodyText { get; init; }
    public required string? EventName { get; init; }
    public required Guid? TraceId { get; init; }
    public required long? SpanId { get; init; }
    public required string? ServiceName { get; init; }
    public required int[] AttributeHashes { get; init; }
    public required Guid ResourceId { get; init; }
    public required Guid ScopeId { get; init; }

    /// <summary>The LogRecord message as it arrived (a slice of the Kafka record).</summary>
    public required ReadOnlyMemory<byte> Otlp { get; init; }

    public required DateTime ReceivedAt { get; init; }

    /// <summary>
    /// The record's place among its trace's records in the request that carried it (the order the Kafka record keeps):
    /// what orders records of one time, such as a conversation's GenAI message events stamped in one millisecond.
    /// </summary>
    public required int BatchPosition { get; init; }

    /// <summary>The partition column, to the microsecond as PostgreSQL keeps it.</summary>
    public DateTime Time => UnixNanos.ToDateTime(PartitionUnixNano);

    public LogKey Key => new(ProjectId, PartitionUnixNano / 1000, RecordId);
}

/// <summary>The unique key of telemetry.logs (time in microseconds, as stored).</summary>
internal readonly record struct LogKey(Guid ProjectId, long TimeMicros, Guid RecordId);

/// <summary>
/// OpenTelemetry's severity ranges (the logs data model: SeverityNumber 1-4 TRACE, 5-8 DEBUG, 9-12 INFO,
/// 13-16 WARN, 17-20 ERROR, 21-24 FATAL), stored as 1 to 6 so a minimum is a comparison.
/// </summary>
internal static class SeverityRange
{
    /// <summary>The range of <paramref name="number"/>; when it is unset (0), of a severity text that names one; else null.</summary>
    public static short? Of(int number, string? text)
    {
        if (number is >= 1 and <= 24)
        {
            return (short)(((number - 1) / 4) + 1);
        }

        if (number != 0 || text is null)
        {
            return null;
        }

        return text.Trim().ToLowerInvariant() switch
        {
            "trace" => 1,
            "debug" => 2,
            "info" or "information" or "notice" => 3,
            "warn" or "warning" => 4,
            "error" or "err" => 5,
            "fatal" or "critical" or "crit" or "emergency" or "alert" => 6,
            _ => null,
        };
    }
}
