using Npgsql;
using NpgsqlTypes;
using Trulayer.Export.Http;
using Trulayer.Export.Paging;
using Trulayer.Export.Storage;
using Trulayer.Otlp;

namespace Trulayer.Export.Traces;

/// <summary>One row of the dashboard's trace list, from telemetry.traces.</summary>
internal sealed record TraceSummary(
    string TraceId,
    Guid ProjectId,
    string Name,
    string StartTime,
    string StartTimeUnixNano,
    string EndTimeUnixNano,
    long DurationNanos,
    long SpanCount,
    IReadOnlyList<string> Services,
    IReadOnlyList<string> Models,
    long InputTokens,
    long OutputTokens,
    decimal Cost,
    bool HasError);

internal sealed record TraceListResponse(IReadOnlyList<TraceSummary> Traces);

/// <summary>What the trace list is narrowed to; null (empty) parts do not narrow it.</summary>
internal sealed record TraceListFilter(
    string? Service, string? Model, bool? HasError, string? NamePrefix, string? SessionId, string? UserId, IReadOnlyList<ExactFilter> Resources);

/// <summary>One page of the trace list and where the next starts (null when nothing remains).</summary>
internal sealed record TraceListPage(IReadOnlyList<TraceSummary> Traces, TraceKey? Next);

/// <summary>
/// The trace list: the caller's traces newest first (start time descending, then trace id, then project),
/// keyset-paged over the traces_by_start index, one branch per project merged by PostgreSQL.
/// </summary>
internal sealed class TraceListStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The latest start time a span of the traces row can have (its latest end, to the microsecond, with a millisecond to
    /// spare for rounding), in SQL: with the trace's start it bounds the day partitions a lookup of its spans reads.
    /// </summary>
    internal const string TraceSpanEnd = "to_timestamp(greatest(traces.end_unix_nano, traces.start_unix_nano) / 1e9) + interval '1 millisecond'";

    private const string Columns =
        "project_id, trace_id, name, start_time, start_unix_nano, end_unix_nano, span_count, services, models, input_tokens, output_tokens, cost_micros, has_error";

    public async Task<TraceListPage> ReadAsync(IReadOnlyList<Guid> projects, long? fromUnixNanos, long? toUnixNanos, TraceListFilter filter, TraceKey? after, int limit, CancellationToken cancellationToken)
    {
        if (projects.Count == 0)
        {
            return new TraceListPage([], null);
        }

        var parameters = new SqlParameters();
        var conditions = new List<string>();
        if (fromUnixNanos is { } from)
        {
            conditions.Add($"start_time >= {parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(Math.Max(from, 0))), NpgsqlDbType.TimestampTz)}");
            conditions.Add($"start_unix_nano >= {parameters.Add(from, NpgsqlDbType.Bigint)}");
        }

        if (toUnixNanos is { } to)
        {
            conditions.Add($"start_time <= {parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(Math.Max(to, 0))), NpgsqlDbType.TimestampTz)}");
            conditions.Add($"start_unix_nano < {parameters.Add(to, NpgsqlDbType.Bigint)}");
        }

        if (filter.Service is { } service)
        {
            conditions.Add($"{parameters.Add(service, NpgsqlDbType.Text)} = ANY(services)");
        }

        if (filter.Model is { } model)
        {
            conditions.Add($"{parameters.Add(model, NpgsqlDbType.Text)} = ANY(models)");
        }

        if (filter.HasError is { } hasError)
        {
            conditions.Add(hasError ? "has_error" : "NOT has_error");
        }

        if (filter.NamePrefix is { } prefix)
        {
            conditions.Add($"starts_with(lower(name), lower({parameters.Add(prefix, NpgsqlDbType.Text)}))");
        }

        if (filter.SessionId is { } session)
        {
            conditions.Add($"session_id = {parameters.Add(session, NpgsqlDbType.Text)}");
        }

        if (filter.UserId is { } user)
        {
            conditions.Add($"user_id = {parameters.Add(user, NpgsqlDbType.Text)}");
        }

        string? afterTime = null, afterTrace = null;
        if (after is { } key)
        {
            afterTime = parameters.Add(key.StartTime, NpgsqlDbType.TimestampTz);
            afterTrace = parameters.Add(key.TraceId, NpgsqlDbType.Uuid);
            conditions.Add($"start_time <= {afterTime}");
        }

        var fetch = parameters.Add(limit + 1, NpgsqlDbType.Integer);
        var shared = conditions.Count == 0 ? "" : " AND " + string.Join(" AND ", conditions);
        var branches = projects.Select(project =>
        {
            var position = "";
            if (after is { } key)
            {
                // Newest first, then trace id and project ascending: at the cursor's start time, the rest of it.
                var comparison = Micros.CompareUuid(project, key.ProjectId) > 0 ? ">=" : ">";
                position = $" AND (start_time < {afterTime} OR trace_id {comparison} {afterTrace})";
            }

            var projectId = parameters.Add(project, NpgsqlDbType.Uuid);
            if (filter.Resources.Count > 0)
            {
                // A trace with a span of a matching resource: the resource ids first (a project has few), then the
                // trace's spans by trace id, within the trace's start times.
                position += $" AND EXISTS (SELECT 1 FROM telemetry.spans s WHERE s.project_id = traces.project_id AND s.trace_id = traces.trace_id " +
                            $"AND s.start_time >= traces.start_time AND s.start_time <= {TraceSpanEnd} AND {ResourceMatch.Condition(parameters, projectId, filter.Resources, "s.resource_id")})";
            }

            return $"(SELECT {Columns} FROM telemetry.traces WHERE project_id = {projectId}{shared}{position} " +
                   $"ORDER BY start_time DESC, trace_id LIMIT {fetch})";
        });
        var sql = $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY start_time DESC, trace_id, project_id LIMIT {fetch}";

        await using var command = dataSource.CreateCommand(sql);
        parameters.CopyTo(command.Parameters);
        var traces = new List<TraceSummary>(limit + 1);
        TraceKey? last = null;
        var more = false;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (traces.Count == limit)
            {
                more = true;
                break;
            }

            var projectId = reader.GetGuid(0);
            var traceId = reader.GetGuid(1);
            var startTime = reader.GetDateTime(3);
            var start = reader.GetInt64(4);
            var end = reader.GetInt64(5);
            traces.Add(new TraceSummary(
                traceId.ToString("N"),
                projectId,
                reader.GetString(2),
                Rfc3339.Format(start),
                start.ToString(System.Globalization.CultureInfo.InvariantCulture),
                end.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Math.Max(0, end - start),
                reader.GetInt64(6),
                reader.GetFieldValue<string[]>(7),
                reader.GetFieldValue<string[]>(8),
                reader.GetInt64(9),
                reader.GetInt64(10),
                reader.GetInt64(11) / 1_000_000m,
                reader.GetBoolean(12)));
            last = new TraceKey(Micros.FromDateTime(startTime), traceId, projectId);
        }

        return new TraceListPage(traces, more ? last : null);
    }
}
