using NpgsqlTypes;
using Trulayer.Export.Paging;

namespace Trulayer.Export.Storage;

/// <summary>
/// Which log records a response carries, as SQL over telemetry.logs: the key columns (project_id, time,
/// record_id) plus the columns asked for, in log order. A log record is stored whole (nothing is cut
/// out of it), so it reads like a span without cut content.
/// </summary>
internal abstract class LogSelection : SpanSelection
{
    public const string LogOrder = "time, record_id, project_id";

    /// <summary>A record's partition time in unix nanoseconds, exactly (the time column holds it to the microsecond).</summary>
    public const string PartitionNanos =
        "coalesce(nullif(time_unix_nano, 0), nullif(observed_unix_nano, 0), (extract(epoch FROM time) * 1000000)::bigint * 1000)";

    public override string Order => LogOrder;

    public override string SizeColumn => "octet_length(otlp)";

    public override string SelectColumns =>
        "otlp, NULL::integer AS input_at, NULL::text AS input_text, NULL::integer AS output_at, NULL::text AS output_text";

    /// <summary>The window [from, to) in SQL: the time range bounds the partitions and index range, the nanoseconds make it exact.</summary>
    public static string Window(SqlParameters parameters, long fromUnixNanos, long toUnixNanos)
        => $"time >= {parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(Math.Max(fromUnixNanos, 0))), NpgsqlDbType.TimestampTz)} " +
           $"AND time <= {parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(Math.Max(toUnixNanos, 0))), NpgsqlDbType.TimestampTz)} " +
           $"AND {PartitionNanos} >= {parameters.Add(fromUnixNanos, NpgsqlDbType.Bigint)} AND {PartitionNanos} < {parameters.Add(toUnixNanos, NpgsqlDbType.Bigint)}";
}

/// <summary>An export page of log records: as <see cref="ExportSelection"/> is for spans, over (time, record_id).</summary>
internal sealed class LogExportSelection(IReadOnlyList<Guid> projects, long fromUnixNanos, long toUnixNanos, LogKey? after, string? snapshot, int limit) : LogSelection
{
    public override string Sql(SqlParameters parameters, string columns)
    {
        var window = Window(parameters, fromUnixNanos, toUnixNanos);
        var fetch = parameters.Add(limit, NpgsqlDbType.Integer);
        string? afterTime = null, afterRecord = null;
        if (after is { } key)
        {
            afterTime = parameters.Add(key.Time, NpgsqlDbType.TimestampTz);
            afterRecord = parameters.Add(key.RecordId, NpgsqlDbType.Uuid);
        }

        var visible = snapshot is null ? "" : $" AND pg_visible_in_snapshot(ingest_xid, {parameters.Add(snapshot, NpgsqlDbType.Text)}::pg_snapshot)";
        var branches = projects.Select(project =>
        {
            var position = "";
            if (after is { } key)
            {
                // Records of a project that sorts after the cursor's come after it even at an equal key.
                var comparison = Micros.CompareUuid(project, key.ProjectId) > 0 ? ">=" : ">";
                position = $" AND (time, record_id) {comparison} ({afterTime}, {afterRecord})";
            }

            return $"""
                (SELECT project_id, time, record_id, {columns} FROM telemetry.logs
                 WHERE project_id = {parameters.Add(project, NpgsqlDbType.Uuid)} AND {window}{position}{visible}
                 ORDER BY time, record_id LIMIT {fetch})
                """;
        });
        return $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY {LogOrder} LIMIT {fetch}";
    }
}

/// <summary>One trace's log records in the projects given (the logs_by_span index).</summary>
internal sealed class LogTraceSelection(IReadOnlyList<Guid> projects, Guid traceId) : LogSelection
{
    public override string Sql(SqlParameters parameters, string columns)
    {
        var trace = parameters.Add(traceId, NpgsqlDbType.Uuid);
        var branches = projects.Select(project => $"""
            (SELECT project_id, time, record_id, {columns} FROM telemetry.logs
             WHERE project_id = {parameters.Add(project, NpgsqlDbType.Uuid)} AND trace_id = {trace})
            """);
        return $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY {LogOrder}";
    }
}
