using Npgsql;

namespace Trulayer.Workload.Load;

/// <summary>
/// The books of a load run after the pipeline drained: what ingest acknowledged against what PostgreSQL
/// holds for the run's own trace ids.
/// </summary>
/// <param name="AcknowledgedRequests">Requests ingest answered 200 / OK.</param>
/// <param name="AcknowledgedSpans">Their spans, less any rejected in partial_success: what must be stored.</param>
/// <param name="StoredSpans">Distinct spans stored for acknowledged requests.</param>
/// <param name="Lost">Acknowledged spans that are not stored.</param>
/// <param name="Duplicated">Rows beyond the first of the same span (trace id, span id).</param>
/// <param name="StoredUnacknowledged">
/// Spans stored for requests ingest never acknowledged (a 503 or a timeout after Kafka took part of them):
/// allowed by at-least-once delivery, and stored once because the client retried with the same ids.
/// </param>
/// <param name="UnknownRows">Rows with the run's trace-id prefix that no request of the run could have made.</param>
public sealed record DeliveryCount(
    long AcknowledgedRequests,
    long AcknowledgedSpans,
    long StoredSpans,
    long Lost,
    long Duplicated,
    long StoredUnacknowledged,
    long UnknownRows)
{
    /// <summary>Nothing acknowledged is missing, nothing is stored twice, nothing foreign crept in.</summary>
    public bool IsExact => Lost == 0 && Duplicated == 0 && UnknownRows == 0;

    /// <summary>
    /// Counts in telemetry.spans the spans of <paramref name="ids"/>'s run (one index range scan on
    /// (project_id, trace_id)) and compares them with the <paramref name="ledger"/>.
    /// </summary>
    public static Task<DeliveryCount> CountAsync(
        string connectionString, Guid projectId, RunIds ids, RequestTemplate template, SpanLedger ledger, CancellationToken cancellationToken = default)
        => CountAsync("telemetry.spans", connectionString, projectId, ids, template, ledger, cancellationToken);

    /// <summary>
    /// Counts in telemetry.logs the log records of <paramref name="ids"/>'s run made from a logs
    /// <paramref name="template"/> (<see cref="LoadSignal.Logs"/>), as <see cref="CountAsync(string, Guid, RunIds, RequestTemplate, SpanLedger, CancellationToken)"/>
    /// counts spans: "spans" are then log records, a record is told from another by its span id (each
    /// record of the standard logs names a span of its own), and only the records that name a trace count,
    /// because only their ids say which request sent them. The records that name none are the same bytes
    /// in every request, so stored once for the whole run, and are left out of the books.
    /// </summary>
    public static Task<DeliveryCount> CountLogsAsync(
        string connectionString, Guid projectId, RunIds ids, RequestTemplate template, SpanLedger ledger, CancellationToken cancellationToken = default)
        => CountAsync("telemetry.logs", connectionString, projectId, ids, template, ledger, cancellationToken);

    private static async Task<DeliveryCount> CountAsync(
        string table, string connectionString, Guid projectId, RunIds ids, RequestTemplate template, SpanLedger ledger, CancellationToken cancellationToken)
    {
        var (low, high) = ids.TraceIdRange;
        var stored = new Dictionary<long, long>();
        long duplicated = 0, unknown = 0;
        // One connection, not pooled: a pooled one may be left over from before a database restart.
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                $"""
                SELECT trace_id, count(*), count(DISTINCT span_id)
                FROM {table}
                WHERE project_id = $1 AND trace_id BETWEEN $2 AND $3
                GROUP BY trace_id
                """, connection)
            {
                CommandTimeout = 600,
            };
            command.Parameters.Add(new NpgsqlParameter { Value = projectId });
            command.Parameters.Add(new NpgsqlParameter { Value = low });
            command.Parameters.Add(new NpgsqlParameter { Value = high });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var traceId = new byte[16];
            while (await reader.ReadAsync(cancellationToken))
            {
                var rows = reader.GetInt64(1);
                var distinct = reader.GetInt64(2);
                reader.GetGuid(0).TryWriteBytes(traceId, bigEndian: true, out _);
                if (!ids.TryReadTraceId(traceId, out var request, out var trace) || trace >= template.TraceCount || !ledger.TryGet(request, out _))
                {
                    unknown += rows;
                    continue;
                }

                duplicated += rows - distinct;
                stored[request] = stored.GetValueOrDefault(request) + distinct;
            }
        }

        // Items of a request that name no trace (none of a spans request) cannot be found again.
        var untraced = template.SpanCount - Enumerable.Range(0, template.TraceCount).Sum(template.SpansInTrace);
        long acknowledgedRequests = 0, acknowledgedSpans = 0, storedSpans = 0, lost = 0, storedUnacknowledged = 0;
        foreach (var (request, entry) in ledger.Entries)
        {
            var found = stored.GetValueOrDefault(request);
            if (entry.State != RequestState.Acknowledged)
            {
                storedUnacknowledged += found;
                continue;
            }

            var expected = entry.Spans - untraced - entry.RejectedSpans;
            acknowledgedRequests++;
            acknowledgedSpans += expected;
            storedSpans += Math.Min(found, expected);
            lost += Math.Max(0, expected - found);
        }

        return new DeliveryCount(acknowledgedRequests, acknowledgedSpans, storedSpans, lost, duplicated, storedUnacknowledged, unknown);
    }
}
