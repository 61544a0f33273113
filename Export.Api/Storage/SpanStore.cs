using System.Data;
using Npgsql;
using NpgsqlTypes;
using Trulayer.Export.Paging;

namespace Trulayer.Export.Storage;

/// <summary>An export page ready to stream, and where the next page starts (null when nothing remains).</summary>
internal sealed record ExportPage(SpanPage Spans, ExportPosition? Next);

/// <summary>
/// Reads spans back out of telemetry.spans for export and for the trace view. A page is read in one
/// read-only REPEATABLE READ transaction, so its statements agree: first where the page ends (a key-only
/// query, so the next cursor is known before any byte goes out) and what its resource/scope groups are,
/// then, while the response streams, the spans themselves.
/// </summary>
internal sealed class SpanStore(NpgsqlDataSource dataSource)
{
    private const string SortMemory = "32MB";

    // The bytes one span takes as a field of ScopeSpans: tag (1 byte), varint length, the span.
    private const string SpanFieldBytes =
        "1 + CASE WHEN otlp_length < 128 THEN 1 WHEN otlp_length < 16384 THEN 2 WHEN otlp_length < 2097152 THEN 3 " +
        "WHEN otlp_length < 268435456 THEN 4 ELSE 5 END + otlp_length";

    /// <summary>
    /// Opens one export page. The first page (no <paramref name="position"/>) takes the transaction's
    /// snapshot as the export's watermark; later pages read only what that snapshot saw.
    /// </summary>
    public async Task<ExportPage> OpenExportPageAsync(IReadOnlyList<Guid> projects, long fromUnixNanos, long toUnixNanos, ExportPosition? position, int limit, CancellationToken cancellationToken)
    {
        if (projects.Count == 0 || toUnixNanos <= fromUnixNanos)
        {
            return new ExportPage(SpanPage.Empty, null);
        }

        var snapshot = position?.Snapshot;
        var pageRows = new ExportSelection(projects, fromUnixNanos, toUnixNanos, position?.After, snapshot, limit);
        // One span past the page tells whether more remain.
        var probe = new ExportSelection(projects, fromUnixNanos, toUnixNanos, position?.After, snapshot, limit + 1);

        var (connection, transaction) = await BeginAsync(cancellationToken);
        try
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            if (snapshot is null)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_current_snapshot()::text"));
            }

            // The last span of the page and the one after it, if any.
            var end = new SqlParameters();
            var offset = end.Add(limit - 1, NpgsqlDbType.Integer);
            var endCommand = new NpgsqlBatchCommand(
                $"SELECT start_time, trace_id, span_id, project_id FROM ({probe.Sql(end, "1 AS one")}) page ORDER BY {SpanSelection.KeyOrder} OFFSET {offset} LIMIT 2");
            end.CopyTo(endCommand.Parameters);
            batch.BatchCommands.Add(endCommand);
            batch.BatchCommands.Add(GroupsCommand(pageRows));

            SpanKey? last = null;
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
                    last = new SpanKey(Micros.FromDateTime(reader.GetDateTime(0)), reader.GetGuid(1), reader.GetInt64(2), reader.GetGuid(3));
                    more = await reader.ReadAsync(cancellationToken);
                }

                await reader.NextResultAsync(cancellationToken);
                groups = await ReadGroupsAsync(reader, cancellationToken);
            }

            var page = SpanPage.Open(connection, transaction, RowsCommand(pageRows, groups.Count), groups);
            return new ExportPage(page, more && last is { } key ? new ExportPosition(key, snapshot) : null);
        }
        catch
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens every span of a trace in the given projects; null when none of them holds it.</summary>
    public async Task<SpanPage?> OpenTraceAsync(IReadOnlyList<Guid> projects, Guid traceId, CancellationToken cancellationToken)
    {
        if (projects.Count == 0)
        {
            return null;
        }

        var (connection, transaction) = await BeginAsync(cancellationToken);
        try
        {
            var bounds = await ReadTraceBoundsAsync(connection, transaction, projects, traceId, cancellationToken);
            List<SpanGroup> groups = [];
            if (bounds.Count > 0)
            {
                var selection = new TraceSelection(traceId, bounds);
                await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { GroupsCommand(selection) } };
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                groups = await ReadGroupsAsync(reader, cancellationToken);
            }

            if (groups.Count == 0)
            {
                await transaction.DisposeAsync();
                await connection.DisposeAsync();
                return null;
            }

            return SpanPage.Open(connection, transaction, RowsCommand(new TraceSelection(traceId, bounds), groups.Count), groups);
        }
        catch
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Where the trace's spans are in each of the projects that hold it (its telemetry.traces rows), by project.</summary>
    internal static async Task<List<TraceBounds>> ReadTraceBoundsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<Guid> projects, Guid traceId, CancellationToken cancellationToken)
    {
        var bounds = new List<TraceBounds>();
        await using var command = new NpgsqlCommand(
            "SELECT project_id, start_time, greatest(end_unix_nano, start_unix_nano) FROM telemetry.traces " +
            "WHERE project_id = ANY($1) AND trace_id = $2 ORDER BY project_id", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. projects], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = traceId, NpgsqlDbType = NpgsqlDbType.Uuid });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            bounds.Add(new TraceBounds(reader.GetGuid(0), reader.GetDateTime(1), Micros.ToDateTime(Micros.FromUnixNanos(reader.GetInt64(2)))));
        }

        return bounds;
    }

    private Task<(NpgsqlConnection, NpgsqlTransaction)> BeginAsync(CancellationToken cancellationToken) => BeginAsync(dataSource, cancellationToken);

    /// <summary>The read-only REPEATABLE READ transaction a page is read in (<see cref="LogStore"/>'s too).</summary>
    internal static async Task<(NpgsqlConnection, NpgsqlTransaction)> BeginAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
            // The rows of a page with several resource/scope groups are sorted into them; a GenAI page's rows
            // take more than the default 4 MB of sort memory, and spilling them to disk cost about a fifth.
            await using (var settings = new NpgsqlCommand($"SET TRANSACTION READ ONLY; SET LOCAL work_mem = '{SortMemory}'", connection, transaction))
            {
                await settings.ExecuteNonQueryAsync(cancellationToken);
            }

            return (connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The page's (project, resource, scope) groups in the order the rows come, with their stored resource and scope.</summary>
    internal static NpgsqlBatchCommand GroupsCommand(SpanSelection selection)
    {
        var parameters = new SqlParameters();
        var command = new NpgsqlBatchCommand($"""
            SELECT g.project_id, g.resource_id, g.scope_id, g.spans, g.span_bytes, r.otlp, r.schema_url, s.otlp, s.schema_url
            FROM (SELECT project_id, resource_id, scope_id, count(*) AS spans, sum({SpanFieldBytes}) AS span_bytes
                  FROM ({selection.Sql(parameters, $"resource_id, scope_id, {selection.SizeColumn} AS otlp_length")}) page
                  GROUP BY project_id, resource_id, scope_id) g
            LEFT JOIN telemetry.resources r ON r.project_id = g.project_id AND r.resource_id = g.resource_id
            LEFT JOIN telemetry.scopes s ON s.project_id = g.project_id AND s.scope_id = g.scope_id
            ORDER BY g.project_id, g.resource_id, g.scope_id
            """);
        parameters.CopyTo(command.Parameters);
        return command;
    }

    /// <summary>
    /// The spans as <see cref="StoredSpan"/> reads them, grouped by project, resource and scope (PostgreSQL
    /// sorts the page's rows, which hold the stored values' TOAST pointers, not the values); a page of one
    /// group keeps export order as read.
    /// </summary>
    internal static NpgsqlCommand RowsCommand(SpanSelection selection, int groups)
    {
        var parameters = new SqlParameters();
        var order = groups == 1 ? selection.Order : "project_id, resource_id, scope_id, " + selection.Order;
        var command = new NpgsqlCommand(
            $"SELECT project_id, resource_id, scope_id, {StoredSpan.Columns} FROM ({selection.Sql(parameters, "resource_id, scope_id, " + selection.SelectColumns)}) page ORDER BY {order}");
        parameters.CopyTo(command.Parameters);
        return command;
    }

    internal static async Task<List<SpanGroup>> ReadGroupsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var groups = new List<SpanGroup>();
        while (await reader.ReadAsync(cancellationToken))
        {
            groups.Add(new SpanGroup(
                reader.GetGuid(0),
                reader.GetGuid(1),
                reader.GetGuid(2),
                reader.GetInt64(3),
                reader.GetInt64(4),
                reader.IsDBNull(5) ? [] : reader.GetFieldValue<byte[]>(5),
                reader.IsDBNull(6) ? "" : reader.GetString(6),
                reader.IsDBNull(7) ? [] : reader.GetFieldValue<byte[]>(7),
                reader.IsDBNull(8) ? "" : reader.GetString(8)));
        }

        return groups;
    }
}
