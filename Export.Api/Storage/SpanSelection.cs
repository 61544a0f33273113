using System.Globalization;
using NpgsqlTypes;
using Trulayer.Export.Paging;

namespace Trulayer.Export.Storage;

/// <summary>
/// Which spans a response carries, as SQL: a SELECT of the key columns (project_id, start_time,
/// trace_id, span_id) plus the columns asked for, in export order. One branch per project, merged:
/// each branch walks the spans_export index (project_id, start_time, trace_id, span_id) in order, so
/// PostgreSQL merges the projects' spans without sorting them.
/// </summary>
internal abstract class SpanSelection
{
    public const string KeyOrder = "start_time, trace_id, span_id, project_id";

    /// <summary>The order of the rows (over the key columns <see cref="Sql"/> selects).</summary>
    public virtual string Order => KeyOrder;

    /// <summary>The size of a row's item as it arrived, in SQL (<see cref="StoredSpan.SizeColumn"/> for spans).</summary>
    public virtual string SizeColumn => StoredSpan.SizeColumn;

    /// <summary>What to select of a row for <see cref="StoredSpan"/> to read (<see cref="StoredSpan.SelectColumns"/> for spans).</summary>
    public virtual string SelectColumns => StoredSpan.SelectColumns;

    /// <summary>The SELECT; <paramref name="columns"/> are added to the key columns of every branch.</summary>
    public abstract string Sql(SqlParameters parameters, string columns);
}

/// <summary>
/// An export page: the spans of the projects that start in [from, to), after a position, visible in a
/// snapshot (later pages), the first <see cref="Limit"/> in export order.
/// </summary>
internal sealed class ExportSelection(IReadOnlyList<Guid> projects, long fromUnixNanos, long toUnixNanos, SpanKey? after, string? snapshot, int limit) : SpanSelection
{
    public int Limit { get; } = limit;

    public override string Sql(SqlParameters parameters, string columns)
    {
        // start_time (microseconds) bounds the index range; start_unix_nano makes the window exact.
        var fromTime = parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(fromUnixNanos)), NpgsqlDbType.TimestampTz);
        var toTime = parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(toUnixNanos)), NpgsqlDbType.TimestampTz);
        var fromNanos = parameters.Add(fromUnixNanos, NpgsqlDbType.Bigint);
        var toNanos = parameters.Add(toUnixNanos, NpgsqlDbType.Bigint);
        var limit = parameters.Add(Limit, NpgsqlDbType.Integer);
        string? afterTime = null, afterTrace = null, afterSpan = null;
        if (after is { } key)
        {
            afterTime = parameters.Add(key.StartTime, NpgsqlDbType.TimestampTz);
            afterTrace = parameters.Add(key.TraceId, NpgsqlDbType.Uuid);
            afterSpan = parameters.Add(key.SpanId, NpgsqlDbType.Bigint);
        }

        var visible = snapshot is null ? "" : $" AND pg_visible_in_snapshot(ingest_xid, {parameters.Add(snapshot, NpgsqlDbType.Text)}::pg_snapshot)";
        var branches = projects.Select(project =>
        {
            var position = "";
            if (after is { } key)
            {
                // Spans of a project that sorts after the cursor's come after it even at an equal key.
                var comparison = Micros.CompareUuid(project, key.ProjectId) > 0 ? ">=" : ">";
                position = $" AND (start_time, trace_id, span_id) {comparison} ({afterTime}, {afterTrace}, {afterSpan})";
            }

            return $"""
                (SELECT project_id, start_time, trace_id, span_id, {columns} FROM telemetry.spans
                 WHERE project_id = {parameters.Add(project, NpgsqlDbType.Uuid)}
                   AND start_time >= {fromTime} AND start_time <= {toTime}
                   AND start_unix_nano >= {fromNanos} AND start_unix_nano < {toNanos}{position}{visible}
                 ORDER BY start_time, trace_id, span_id LIMIT {limit})
                """;
        });
        return $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY {KeyOrder} LIMIT {limit}";
    }
}

/// <summary>One trace's spans in the projects that hold it, within the start times its traces row records.</summary>
internal sealed class TraceSelection(Guid traceId, IReadOnlyList<TraceBounds> bounds) : SpanSelection
{
    public override string Sql(SqlParameters parameters, string columns)
    {
        var trace = parameters.Add(traceId, NpgsqlDbType.Uuid);
        var branches = bounds.Select(b => $"""
            (SELECT project_id, start_time, trace_id, span_id, {columns} FROM telemetry.spans
             WHERE project_id = {parameters.Add(b.ProjectId, NpgsqlDbType.Uuid)} AND trace_id = {trace}
               AND start_time >= {parameters.Add(b.FirstStart, NpgsqlDbType.TimestampTz)}
               AND start_time <= {parameters.Add(b.LastStart, NpgsqlDbType.TimestampTz)})
            """);
        return $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY {KeyOrder}";
    }
}

/// <summary>Where a trace's spans can be in one project: between its first start and its last end (no span starts after that).</summary>
internal sealed record TraceBounds(Guid ProjectId, DateTime FirstStart, DateTime LastStart)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{ProjectId} {FirstStart:O}..{LastStart:O}");
}
