using Npgsql;
using NpgsqlTypes;
using Trulayer.Export.Http;
using Trulayer.Export.Logs;
using Trulayer.Export.Paging;
using Trulayer.Otlp;

namespace Trulayer.Export.Storage;

/// <summary>A log export page ready to stream, and where the next page starts (null when nothing remains).</summary>
internal sealed record LogExportPage(SpanPage Records, LogKey? Next, string Snapshot);

/// <summary>
/// Reads log records back out of telemetry.logs: export pages and a trace's records through the same
/// <see cref="SpanPage"/> machinery as spans (one read-only REPEATABLE READ transaction per page, the
/// groups and the page's end known before the body streams), and the dashboard's list.
/// </summary>
internal sealed class LogStore(NpgsqlDataSource dataSource)
{
    private const string ListColumns =
        "project_id, time, record_id, time_unix_nano, observed_unix_nano, severity_number, severity_text, severity_range, " +
        "body_text, event_name, trace_id, span_id, service_name";

    /// <summary>One export page; the first (no <paramref name="after"/>) takes the transaction's snapshot as the export's watermark.</summary>
    public async Task<LogExportPage> OpenExportPageAsync(
        IReadOnlyList<Guid> projects, long fromUnixNanos, long toUnixNanos, LogKey? after, string? snapshot, int limit, CancellationToken cancellationToken)
    {
        if (projects.Count == 0 || toUnixNanos <= fromUnixNanos)
        {
            return new LogExportPage(SpanPage.Empty, null, snapshot ?? "");
        }

        var (connection, transaction) = await SpanStore.BeginAsync(dataSource, cancellationToken);
        try
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            if (snapshot is null)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_current_snapshot()::text"));
            }

            // The snapshot is read first, in this transaction; later pages pass it in.
            var pageRows = new LogExportSelection(projects, fromUnixNanos, toUnixNanos, after, snapshot, limit);
            var probe = new LogExportSelection(projects, fromUnixNanos, toUnixNanos, after, snapshot, limit + 1);
            var end = new SqlParameters();
            var offset = end.Add(limit - 1, NpgsqlDbType.Integer);
            var endCommand = new NpgsqlBatchCommand(
                $"SELECT time, record_id, project_id FROM ({probe.Sql(end, "1 AS one")}) page ORDER BY {LogSelection.LogOrder} OFFSET {offset} LIMIT 2");
            end.CopyTo(endCommand.Parameters);
            batch.BatchCommands.Add(endCommand);
            batch.BatchCommands.Add(SpanStore.GroupsCommand(pageRows));

            LogKey? last = null;
            var more = false;
            List<SpanGroup> groups;
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                if (snapshot is null)
                {
                    await reader.ReadAsync(cancellationToken);
                    snapshot = reader.GetString(0);
                    await reader.NextResultAsync(cancellationToken);
                }

                if (await reader.ReadAsync(cancellationToken))
                {
                    last = new LogKey(Micros.FromDateTime(reader.GetDateTime(0)), reader.GetGuid(1), reader.GetGuid(2));
                    more = await reader.ReadAsync(cancellationToken);
                }

                await reader.NextResultAsync(cancellationToken);
                groups = await SpanStore.ReadGroupsAsync(reader, cancellationToken);
            }

            var page = SpanPage.Open(connection, transaction, SpanStore.RowsCommand(pageRows, groups.Count), groups);
            return new LogExportPage(page, more ? last : null, snapshot);
        }
        catch
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every log record of a trace in the given projects (an empty page when there are none: records may come before their spans).</summary>
    public async Task<SpanPage> OpenTraceAsync(IReadOnlyList<Guid> projects, Guid traceId, CancellationToken cancellationToken)
    {
        if (projects.Count == 0)
        {
            return SpanPage.Empty;
        }

        var (connection, transaction) = await SpanStore.BeginAsync(dataSource, cancellationToken);
        try
        {
            var selection = new LogTraceSelection(projects, traceId);
            List<SpanGroup> groups;
            await using (var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { SpanStore.GroupsCommand(selection) } })
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                groups = await SpanStore.ReadGroupsAsync(reader, cancellationToken);
            }

            return SpanPage.Open(connection, transaction, SpanStore.RowsCommand(selection, groups.Count), groups);
        }
        catch
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The dashboard's list: newest first (time, record id, project descending), keyset-paged, one branch
    /// per project over the logs_key index read backwards, merged by PostgreSQL.
    /// </summary>
    public async Task<LogListPage> ListAsync(
        IReadOnlyList<Guid> projects, long fromUnixNanos, long toUnixNanos, LogListFilter filter, LogKey? after, int limit, CancellationToken cancellationToken)
    {
        if (projects.Count == 0 || toUnixNanos <= fromUnixNanos)
        {
            return new LogListPage([], null);
        }

        var parameters = new SqlParameters();
        var conditions = new List<string> { LogSelection.Window(parameters, fromUnixNanos, toUnixNanos) };
        if (filter.Service is { } service)
        {
            conditions.Add($"service_name = {parameters.Add(service, NpgsqlDbType.Text)}");
        }

        if (filter.MinimumSeverity is { } severity)
        {
            conditions.Add($"severity_range >= {parameters.Add(severity, NpgsqlDbType.Smallint)}");
        }

        if (filter.TraceId is { } traceId)
        {
            conditions.Add($"trace_id = {parameters.Add(traceId, NpgsqlDbType.Uuid)}");
        }

        if (filter.Text is { } text)
        {
            var pattern = "%" + LikePattern.Escape(text) + "%";
            conditions.Add($"body_text ILIKE {parameters.Add(pattern, NpgsqlDbType.Text)}");
        }

        string? afterTime = null, afterRecord = null;
        if (after is { } key)
        {
            afterTime = parameters.Add(key.Time, NpgsqlDbType.TimestampTz);
            afterRecord = parameters.Add(key.RecordId, NpgsqlDbType.Uuid);
        }

        var fetch = parameters.Add(limit + 1, NpgsqlDbType.Integer);
        var shared = string.Join(" AND ", conditions);
        var branches = projects.Select(project =>
        {
            var position = "";
            if (after is { } key)
            {
                // Descending: a project that sorts before the cursor's comes after it at an equal key.
                var comparison = Micros.CompareUuid(project, key.ProjectId) < 0 ? "<=" : "<";
                position = $" AND (time, record_id) {comparison} ({afterTime}, {afterRecord})";
            }

            return $"(SELECT {ListColumns} FROM telemetry.logs WHERE project_id = {parameters.Add(project, NpgsqlDbType.Uuid)} AND {shared}{position} " +
                   $"ORDER BY time DESC, record_id DESC LIMIT {fetch})";
        });
        var sql = $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY time DESC, record_id DESC, project_id DESC LIMIT {fetch}";

        await using var command = dataSource.CreateCommand(sql);
        parameters.CopyTo(command.Parameters);
        var entries = new List<LogEntry>(limit);
        LogKey? last = null;
        var more = false;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (entries.Count == limit)
            {
                more = true;
                break;
            }

            var projectId = reader.GetGuid(0);
            var time = reader.GetDateTime(1);
            var recordId = reader.GetGuid(2);
            var timeNanos = reader.GetInt64(3);
            var observedNanos = reader.GetInt64(4);
            long? spanId = reader.IsDBNull(11) ? null : reader.GetInt64(11);
            entries.Add(new LogEntry(
                projectId,
                recordId.ToString("N"),
                Rfc3339.Format(timeNanos != 0 ? timeNanos : observedNanos != 0 ? observedNanos : Micros.FromDateTime(time) * 1000),
                timeNanos.ToString(System.Globalization.CultureInfo.InvariantCulture),
                observedNanos.ToString(System.Globalization.CultureInfo.InvariantCulture),
                reader.GetInt16(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : LogSeverity.Names[reader.GetInt16(7) - 1],
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetGuid(10).ToString("N"),
                spanId is { } s ? ((ulong)s).ToString("x16", System.Globalization.CultureInfo.InvariantCulture) : null,
                reader.IsDBNull(12) ? null : reader.GetString(12)));
            last = new LogKey(Micros.FromDateTime(time), recordId, projectId);
        }

        return new LogListPage(entries, more ? last : null);
    }
}
