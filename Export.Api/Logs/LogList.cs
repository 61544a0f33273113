namespace Trulayer.Export.Logs;

/// <summary>One row of the dashboard's log list, from telemetry.logs (the whole record: <c>GET /v1/traces/{traceId}/logs</c> or the export).</summary>
internal sealed record LogEntry(
    Guid ProjectId,
    string RecordId,
    string Time,
    string TimeUnixNano,
    string ObservedTimeUnixNano,
    int SeverityNumber,
    string? SeverityText,
    string? Severity,
    string? Body,
    string? EventName,
    string? TraceId,
    string? SpanId,
    string? Service);

internal sealed record LogListResponse(IReadOnlyList<LogEntry> Logs);

/// <summary>What the log list is narrowed to; null parts do not narrow it. <see cref="MinimumSeverity"/> is a severity range, 1 (trace) to 6 (fatal).</summary>
internal sealed record LogListFilter(string? Service, short? MinimumSeverity, Guid? TraceId, string? Text);

/// <summary>One page of the log list and where the next starts (null when nothing remains).</summary>
internal sealed record LogListPage(IReadOnlyList<LogEntry> Logs, Paging.LogKey? Next);

/// <summary>OpenTelemetry's severity ranges as the processor stores them (severity_range 1 to 6).</summary>
internal static class LogSeverity
{
    public static readonly IReadOnlyList<string> Names = ["trace", "debug", "info", "warn", "error", "fatal"];

    /// <summary>The range a name stands for (case-insensitive); null for another word.</summary>
    public static short? Parse(string name)
    {
        for (var i = 0; i < Names.Count; i++)
        {
            if (Names[i].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return (short)(i + 1);
            }
        }

        return null;
    }
}
