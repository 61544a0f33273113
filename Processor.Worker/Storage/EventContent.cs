using Npgsql;
using NpgsqlTypes;
using OpenTelemetry.Proto.Logs.V1;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Processor.Storage;

/// <summary>
/// Fills a span's input and output from its GenAI log events (<see cref="GenAiEventContent"/>), whichever of
/// the span and its events is stored first: the span writer looks for the events of the model calls it
/// inserts without content, the log writer refills the spans of the events it stores. A span whose
/// attributes gave it content keeps that content; one filled from events (<c>content_from_events</c>) is
/// refilled from all its events whenever another arrives, so the result does not depend on how the events
/// were batched. Runs inside the caller's transaction.
/// </summary>
/// <remarks>
/// The two writers run concurrently (two consume loops, and several processors), so each takes a
/// transaction-scoped advisory lock per span, in one sorted statement, before it reads the other side: of
/// two transactions storing a span and its events, the second to take the lock sees the first's commit.
/// </remarks>
internal static class EventContent
{
    /// <summary>
    /// A transaction lock per span, taken in key order; the key is derived in SQL from the span's ids under a
    /// prefix of its own, as <see cref="SessionRollup"/> derives the keys of the traces it locks.
    /// </summary>
    private const string LockSpansSql = """
        SELECT pg_advisory_xact_lock(k)
        FROM (SELECT DISTINCT hashtextextended('telemetry.spans ' || p::text || ' ' || t::text || ' ' || s::text, 0) AS k
              FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS x(p, t, s)) keys
        ORDER BY k
        """;

    private static readonly string EventNames = string.Join(", ", GenAiEventContent.ContentEvents.Order(StringComparer.Ordinal).Select(n => $"'{n}'"));

    private static readonly string EventsSql = $"""
        SELECT l.project_id, l.trace_id, l.span_id, l.otlp
        FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS k(project_id, trace_id, span_id)
        JOIN telemetry.logs l ON l.project_id = k.project_id AND l.trace_id = k.trace_id AND l.span_id = k.span_id
        WHERE l.event_name IN ({EventNames})
        ORDER BY l.project_id, l.trace_id, l.span_id, l.time_unix_nano, l.received_at, l.batch_position, l.record_id
        """;

    /// <summary>The same, only for spans that are stored and take content from events (the log writer's case: most events' spans are not, or have their own content).</summary>
    private static readonly string EligibleEventsSql = EventsSql.Replace(
        "WHERE l.event_name",
        """
        WHERE EXISTS (SELECT 1 FROM telemetry.spans s WHERE s.trace_id = k.trace_id AND s.project_id = k.project_id AND s.span_id = k.span_id
                      AND (s.content_from_events OR (s.input_text IS NULL AND s.output_text IS NULL)))
          AND l.event_name
        """,
        StringComparison.Ordinal);

    private const string UpdateSql = """
        UPDATE telemetry.spans s
        SET input_text = u.input_text, output_text = u.output_text, input_form = NULL, output_form = NULL,
            input_at = NULL, output_at = NULL, content_from_events = true
        FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[]) AS u(project_id, trace_id, span_id, input_text, output_text)
        WHERE s.project_id = u.project_id AND s.trace_id = u.trace_id AND s.span_id = u.span_id
          AND (s.content_from_events OR (s.input_text IS NULL AND s.output_text IS NULL))
        """;

    private readonly record struct SpanRef(Guid ProjectId, Guid TraceId, long SpanId);

    /// <summary>After the span writer's insert: the model calls it stored without content take their events' content.</summary>
    public static int FillNewSpans(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<SpanRow> inserted, int maxTextBytes)
        => Fill(
            connection,
            transaction,
            inserted.Where(s => s.SpanType == SpanType.Llm && s.GenAi.InputText is null && s.GenAi.OutputText is null)
                .Select(s => new SpanRef(s.ProjectId, s.TraceId, s.SpanId)),
            EventsSql,
            maxTextBytes);

    /// <summary>After the log writer's insert: the spans of the GenAI events it stored are (re)filled from all their events.</summary>
    public static int FillFromEvents(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<LogRow> stored, int maxTextBytes)
        => Fill(
            connection,
            transaction,
            stored.Where(l => l.TraceId is not null && l.SpanId is not null && GenAiEventContent.IsContentEvent(l.EventName))
                .Select(l => new SpanRef(l.ProjectId, l.TraceId!.Value, l.SpanId!.Value)),
            EligibleEventsSql,
            maxTextBytes);

    private static int Fill(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<SpanRef> candidates, string eventsSql, int maxTextBytes)
    {
        var spans = candidates.Distinct().ToList();
        if (spans.Count == 0)
        {
            return 0;
        }

        NpgsqlParameter[] Keys() =>
        [
            SpanBatchWriter.Array(spans.Select(s => s.ProjectId), NpgsqlDbType.Uuid),
            SpanBatchWriter.Array(spans.Select(s => s.TraceId), NpgsqlDbType.Uuid),
            SpanBatchWriter.Array(spans.Select(s => s.SpanId), NpgsqlDbType.Bigint),
        ];

        using (var locks = new NpgsqlCommand(LockSpansSql, connection, transaction))
        {
            locks.Parameters.AddRange(Keys());
            locks.ExecuteNonQuery();
        }

        var events = new Dictionary<SpanRef, List<LogRecord>>();
        using (var select = new NpgsqlCommand(eventsSql, connection, transaction))
        {
            select.Parameters.AddRange(Keys());
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                var span = new SpanRef(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt64(2));
                if (!events.TryGetValue(span, out var list))
                {
                    events[span] = list = [];
                }

                list.Add(LogRecord.Parser.ParseFrom(reader.GetFieldValue<byte[]>(3)));
            }
        }

        var filled = new List<(SpanRef Span, string? Input, string? Output)>(events.Count);
        foreach (var (span, records) in events)
        {
            var (input, output) = GenAiEventContent.From(records, maxTextBytes);
            if (input is not null || output is not null)
            {
                filled.Add((span, input, output));
            }
        }

        if (filled.Count == 0)
        {
            return 0;
        }

        using var update = new NpgsqlCommand(UpdateSql, connection, transaction);
        update.Parameters.Add(SpanBatchWriter.Array(filled.Select(f => f.Span.ProjectId), NpgsqlDbType.Uuid));
        update.Parameters.Add(SpanBatchWriter.Array(filled.Select(f => f.Span.TraceId), NpgsqlDbType.Uuid));
        update.Parameters.Add(SpanBatchWriter.Array(filled.Select(f => f.Span.SpanId), NpgsqlDbType.Bigint));
        update.Parameters.Add(SpanBatchWriter.Array(filled.Select(f => f.Input), NpgsqlDbType.Text));
        update.Parameters.Add(SpanBatchWriter.Array(filled.Select(f => f.Output), NpgsqlDbType.Text));
        return update.ExecuteNonQuery();
    }
}
