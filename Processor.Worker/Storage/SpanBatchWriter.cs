using Npgsql;
using Microsoft.Extensions.Options;
using NpgsqlTypes;
using Trulayer.Processor.Pipeline;

namespace Trulayer.Processor.Storage;

/// <summary>What one write stored: rows (spans or log records); <see cref="Duplicates"/> counts rows of the batch that were stored already (or twice in it).</summary>
internal readonly record struct WriteResult(int Rows, int Duplicates, int Traces, bool UsedFallback);

/// <summary>
/// Writes a batch of decoded records in one transaction: spans by binary COPY, the resources and scopes
/// not stored yet, and the trace rows and usage rollups (<see cref="LlmRollup"/>), which count only spans
/// this transaction actually inserted.
/// Re-delivered spans are written once: the COPY goes straight into telemetry.spans and, only when it
/// hits a span that is already there, the transaction starts over through a staging table and
/// <c>INSERT ... ON CONFLICT DO NOTHING</c>, so the common case pays for one write, not two.
/// Synchronous: it runs on the pipeline's writer thread.
/// </summary>
internal sealed class SpanBatchWriter(NpgsqlDataSource dataSource, SpanStorage storage, DimensionCache cache, IOptions<ProcessorOptions> options)
{
    private readonly int _maxTextBytes = options.Value.MaxTextBytes;

    private const string StagingTable = "span_staging";

    // Whether the incoming name candidate outranks the stored one: a root beats a non-root, then the
    // earlier start, then the lower span id (the same order TraceRollup uses within a batch).
    private const string Better =
        "(EXCLUDED.name_is_root > t.name_is_root OR (EXCLUDED.name_is_root = t.name_is_root AND " +
        "(EXCLUDED.name_start_unix_nano, EXCLUDED.name_span_id) < (t.name_start_unix_nano, t.name_span_id)))";

    private static readonly string UpsertTracesSql = $$"""
        INSERT INTO telemetry.traces AS t (
            project_id, trace_id, name, name_is_root, name_start_unix_nano, name_span_id, start_time,
            start_unix_nano, end_unix_nano, span_count, error_count, services, models, input_tokens, output_tokens,
            cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros, first_received_at, last_received_at,
            session_id, session_is_root, session_start_unix_nano, session_span_id,
            user_id, user_is_root, user_start_unix_nano, user_span_id, cost_source)
        SELECT b.project_id, b.trace_id, b.name, b.name_is_root, b.name_start_unix_nano, b.name_span_id, b.start_time,
               b.start_unix_nano, b.end_unix_nano, b.span_count, b.error_count, coalesce(service.services, '{}'), coalesce(model.models, '{}'),
               b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cache_creation_tokens, b.reasoning_tokens,
               b.cost_micros, b.first_received_at, b.last_received_at,
               b.session_id, b.session_is_root, b.session_start_unix_nano, b.session_span_id,
               b.user_id, b.user_is_root, b.user_start_unix_nano, b.user_span_id, b.cost_source
        FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[],
                    $8::timestamptz[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
                    $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[],
                    $19::timestamptz[], $20::timestamptz[],
                    $25::text[], $26::boolean[], $27::bigint[], $28::bigint[],
                    $29::text[], $30::boolean[], $31::bigint[], $32::bigint[], $33::text[])
            AS b(idx, project_id, trace_id, name, name_is_root, name_start_unix_nano, name_span_id,
                 start_time, start_unix_nano, end_unix_nano, span_count, error_count, input_tokens,
                 output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros,
                 first_received_at, last_received_at,
                 session_id, session_is_root, session_start_unix_nano, session_span_id,
                 user_id, user_is_root, user_start_unix_nano, user_span_id, cost_source)
        LEFT JOIN (SELECT idx, array_agg(DISTINCT name ORDER BY name) AS services
                   FROM unnest($21::int[], $22::text[]) AS s(idx, name) GROUP BY idx) service USING (idx)
        LEFT JOIN (SELECT idx, array_agg(DISTINCT name ORDER BY name) AS models
                   FROM unnest($23::int[], $24::text[]) AS m(idx, name) GROUP BY idx) model USING (idx)
        ORDER BY b.project_id, b.trace_id
        ON CONFLICT (project_id, trace_id) DO UPDATE SET
            name = CASE WHEN {{Better}}
                        THEN EXCLUDED.name ELSE t.name END,
            name_start_unix_nano = CASE WHEN {{Better}}
                        THEN EXCLUDED.name_start_unix_nano ELSE t.name_start_unix_nano END,
            name_span_id = CASE WHEN {{Better}}
                        THEN EXCLUDED.name_span_id ELSE t.name_span_id END,
            name_is_root = t.name_is_root OR EXCLUDED.name_is_root,
            {{Ranked("session")}},
            {{Ranked("user")}},
            start_time = least(t.start_time, EXCLUDED.start_time),
            start_unix_nano = least(t.start_unix_nano, EXCLUDED.start_unix_nano),
            end_unix_nano = greatest(t.end_unix_nano, EXCLUDED.end_unix_nano),
            span_count = t.span_count + EXCLUDED.span_count,
            error_count = t.error_count + EXCLUDED.error_count,
            services = CASE WHEN EXCLUDED.services <@ t.services THEN t.services
                            ELSE ARRAY(SELECT DISTINCT s FROM unnest(t.services || EXCLUDED.services) AS s ORDER BY s) END,
            models = CASE WHEN EXCLUDED.models <@ t.models THEN t.models
                          ELSE ARRAY(SELECT DISTINCT m FROM unnest(t.models || EXCLUDED.models) AS m ORDER BY m) END,
            input_tokens = least(t.input_tokens::numeric + EXCLUDED.input_tokens, 9223372036854775807)::bigint,
            output_tokens = least(t.output_tokens::numeric + EXCLUDED.output_tokens, 9223372036854775807)::bigint,
            cache_read_tokens = least(t.cache_read_tokens::numeric + EXCLUDED.cache_read_tokens, 9223372036854775807)::bigint,
            cache_creation_tokens = least(t.cache_creation_tokens::numeric + EXCLUDED.cache_creation_tokens, 9223372036854775807)::bigint,
            reasoning_tokens = least(t.reasoning_tokens::numeric + EXCLUDED.reasoning_tokens, 9223372036854775807)::bigint,
            cost_micros = least(t.cost_micros::numeric + EXCLUDED.cost_micros, 9223372036854775807)::bigint,
            cost_source = CASE WHEN 'computed' IN (t.cost_source, EXCLUDED.cost_source) THEN 'computed'
                               WHEN 'reported' IN (t.cost_source, EXCLUDED.cost_source) THEN 'reported' ELSE 'none' END,
            first_received_at = least(t.first_received_at, EXCLUDED.first_received_at),
            last_received_at = greatest(t.last_received_at, EXCLUDED.last_received_at)
        """;

    /// <summary>
    /// The SET clauses of a value chosen like the name (<see cref="RankedValue"/>), among spans that have one:
    /// the incoming candidate wins when the stored trace has none, or when it outranks the stored one.
    /// </summary>
    private static string Ranked(string column)
    {
        var wins = $"(EXCLUDED.{column}_id IS NOT NULL AND (t.{column}_id IS NULL OR EXCLUDED.{column}_is_root > t.{column}_is_root OR " +
                   $"(EXCLUDED.{column}_is_root = t.{column}_is_root AND (EXCLUDED.{column}_start_unix_nano, EXCLUDED.{column}_span_id) < (t.{column}_start_unix_nano, t.{column}_span_id))))";
        return string.Join(",\n            ", new[] { "id", "is_root", "start_unix_nano", "span_id" }
            .Select(part => $"{column}_{part} = CASE WHEN {wins} THEN EXCLUDED.{column}_{part} ELSE t.{column}_{part} END"));
    }

    /// <summary>Writes the records in one transaction; throws what PostgreSQL throws, having written nothing.</summary>
    public WriteResult Write(IReadOnlyList<DecodedRecord> records)
    {
        var rows = Distinct(records);
        storage.EnsurePartitions(rows.Select(r => UnixNanos.Day(r.StartUnixNano)).ToHashSet());
        var dimensions = DimensionRows.Of(records.SelectMany(r => r.Resources), records.SelectMany(r => r.Scopes));

        using var connection = dataSource.OpenConnection();
        var transaction = connection.BeginTransaction();
        try
        {
            IReadOnlyList<SpanRow> inserted = rows;
            var usedFallback = false;
            try
            {
                SpanCopy.Copy(connection, "telemetry.spans", rows);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                transaction.Rollback();
                transaction.Dispose();
                transaction = connection.BeginTransaction();
                inserted = InsertNew(connection, transaction, rows);
                usedFallback = true;
            }

            var traces = TraceRollup.Of(inserted);
            using (var batch = new NpgsqlBatch(connection, transaction))
            {
                dimensions.AddTo(batch);
                if (traces.Count > 0)
                {
                    SessionRollup.AddTo(batch, traces);
                    batch.BatchCommands.Add(TracesCommand(traces));
                }

                LlmRollup.AddTo(batch, inserted);

                if (batch.BatchCommands.Count > 0)
                {
                    batch.ExecuteNonQuery();
                }
            }

            // Model calls stored without content take it from their GenAI log events, if those came first.
            EventContent.FillNewSpans(connection, transaction, inserted, _maxTextBytes);
            transaction.Commit();
            dimensions.MarkStored(cache);

            return new WriteResult(inserted.Count, records.Sum(r => r.Spans.Count) - inserted.Count, traces.Count, usedFallback);
        }
        finally
        {
            transaction.Dispose();
        }
    }

    /// <summary>The batch's rows, each key once (a record delivered twice in one batch counts once).</summary>
    private static List<SpanRow> Distinct(IReadOnlyList<DecodedRecord> records)
    {
        var count = records.Sum(r => r.Spans.Count);
        var rows = new List<SpanRow>(count);
        var keys = new HashSet<SpanKey>(count);
        foreach (var record in records)
        {
            foreach (var row in record.Spans)
            {
                if (keys.Add(row.Key))
                {
                    rows.Add(row);
                }
            }
        }

        return rows;
    }

    /// <summary>The fallback: stage every row, insert those not stored yet, and return them.</summary>
    private static List<SpanRow> InsertNew(NpgsqlConnection connection, NpgsqlTransaction transaction, List<SpanRow> rows)
    {
        using (var create = new NpgsqlCommand(
                   $"CREATE TEMP TABLE IF NOT EXISTS {StagingTable} (LIKE telemetry.spans INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", connection, transaction))
        {
            create.ExecuteNonQuery();
        }

        SpanCopy.Copy(connection, StagingTable, rows);
        var stored = new HashSet<SpanKey>();
        using (var insert = new NpgsqlCommand(
                   $"INSERT INTO telemetry.spans ({SpanCopy.Columns}) SELECT {SpanCopy.Columns} FROM {StagingTable} ON CONFLICT DO NOTHING RETURNING project_id, trace_id, span_id, start_time",
                   connection, transaction))
        using (var reader = insert.ExecuteReader())
        {
            while (reader.Read())
            {
                var startMicros = (reader.GetFieldValue<DateTime>(3) - DateTime.UnixEpoch).Ticks / 10;
                stored.Add(new SpanKey(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt64(2), startMicros));
            }
        }

        return rows.Where(r => stored.Contains(r.Key)).ToList();
    }

    private static NpgsqlBatchCommand TracesCommand(List<TraceRollup> traces)
    {
        var services = traces.SelectMany((t, i) => t.Services.Select(s => (Index: i, Name: s))).ToList();
        var models = traces.SelectMany((t, i) => t.Models.Select(m => (Index: i, Name: m))).ToList();
        return new NpgsqlBatchCommand(UpsertTracesSql)
        {
            Parameters =
            {
                Array(Enumerable.Range(0, traces.Count), NpgsqlDbType.Integer),
                Array(traces.Select(t => t.ProjectId), NpgsqlDbType.Uuid),
                Array(traces.Select(t => t.TraceId), NpgsqlDbType.Uuid),
                Array(traces.Select(t => t.Name), NpgsqlDbType.Text),
                Array(traces.Select(t => t.NameIsRoot), NpgsqlDbType.Boolean),
                Array(traces.Select(t => t.NameStartUnixNano), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.NameSpanId), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.StartTime), NpgsqlDbType.TimestampTz),
                Array(traces.Select(t => t.StartUnixNano), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.EndUnixNano), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.SpanCount), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.ErrorCount), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.InputTokens), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.OutputTokens), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.CacheReadTokens), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.CacheCreationTokens), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.ReasoningTokens), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.CostMicros), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.FirstReceivedAt), NpgsqlDbType.TimestampTz),
                Array(traces.Select(t => t.LastReceivedAt), NpgsqlDbType.TimestampTz),
                Array(services.Select(s => s.Index), NpgsqlDbType.Integer),
                Array(services.Select(s => s.Name), NpgsqlDbType.Text),
                Array(models.Select(m => m.Index), NpgsqlDbType.Integer),
                Array(models.Select(m => m.Name), NpgsqlDbType.Text),
                Array(traces.Select(t => t.Session.Value), NpgsqlDbType.Text),
                Array(traces.Select(t => t.Session.IsRoot), NpgsqlDbType.Boolean),
                Array(traces.Select(t => t.Session.StartUnixNano), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.Session.SpanId), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.User.Value), NpgsqlDbType.Text),
                Array(traces.Select(t => t.User.IsRoot), NpgsqlDbType.Boolean),
                Array(traces.Select(t => t.User.StartUnixNano), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.User.SpanId), NpgsqlDbType.Bigint),
                Array(traces.Select(t => t.CostSource.ToColumn()), NpgsqlDbType.Text),
            },
        };
    }

    internal static NpgsqlParameter Array<T>(IEnumerable<T> values, NpgsqlDbType elementType)
        => new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | elementType };
}
