using Npgsql;
using NpgsqlTypes;

namespace Trulayer.Processor.Storage;

/// <summary>
/// Keeps telemetry.sessions right in the transaction that writes the traces rows: what a batch's
/// <see cref="TraceRollup"/>s add to their sessions, and, when a trace changes session (a late root names
/// another), its totals moved from the session it leaves to the one it joins. Three statements, placed before
/// the traces upsert so they read each trace as it was:
/// <list type="number">
/// <item>a transaction lock per trace, taken in key order: two processors never work out the same trace's move at
/// once (a rebalance can hand one trace's records to two), and the next statement's snapshot sees the last commit;</item>
/// <item>the sessions the batch's traces belong to now, locked in key order, so what the third statement reads of
/// their traces stays true until it writes;</item>
/// <item>the deltas, applied in (project, session) order (counts, tokens and cost add up, so concurrent writers
/// never lose one); a session that loses a trace, or a user, takes its times and users again from the traces it keeps.</item>
/// </list>
/// A trace's session and user are chosen by the rank the traces upsert uses (<see cref="RankedValue"/>), so the
/// deltas agree with what that upsert then stores.
/// </summary>
internal static class SessionRollup
{
    private const string LockTracesSql = """
        SELECT pg_advisory_xact_lock(k)
        FROM (SELECT DISTINCT hashtextextended('telemetry.traces ' || p::text || ' ' || t::text, 0) AS k
              FROM unnest($1::uuid[], $2::uuid[]) AS x(p, t)) keys
        ORDER BY k
        """;

    private const string LockSessionsSql = """
        SELECT 1 FROM telemetry.sessions s
        WHERE (s.project_id, s.session_id) IN (
            SELECT t.project_id, t.session_id FROM telemetry.traces t
            WHERE (t.project_id, t.trace_id) IN (SELECT p, t FROM unnest($1::uuid[], $2::uuid[]) AS x(p, t)) AND t.session_id IS NOT NULL)
        ORDER BY s.project_id, s.session_id
        FOR UPDATE
        """;

    private static readonly string ApplySql = $$"""
        WITH b AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::boolean[], $5::bigint[], $6::bigint[],
                                 $7::text[], $8::boolean[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
                                 $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[],
                                 $19::bigint[], $20::bigint[])
                AS b(project_id, trace_id, session_id, session_is_root, session_start_unix_nano, session_span_id,
                     user_id, user_is_root, user_start_unix_nano, user_span_id, start_unix_nano, end_unix_nano,
                     span_count, error_count, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                     reasoning_tokens, cost_micros)),
        -- Each batch trace as stored (absent: new) and as the traces upsert will leave it.
        n AS (
            SELECT b.project_id, b.trace_id, t.trace_id IS NOT NULL AS stored, t.session_id AS old_session, t.user_id AS old_user,
                   CASE WHEN {{Wins("session")}} THEN b.session_id ELSE t.session_id END AS session_id,
                   CASE WHEN {{Wins("user")}} THEN b.user_id ELSE t.user_id END AS user_id,
                   least(t.start_unix_nano, b.start_unix_nano) AS start_unix_nano,
                   greatest(t.end_unix_nano, b.end_unix_nano, t.start_unix_nano, b.start_unix_nano) AS last_unix_nano,
                   coalesce(t.span_count, 0) AS old_spans, coalesce(t.error_count, 0) AS old_errors,
                   coalesce(t.input_tokens, 0) AS old_input, coalesce(t.output_tokens, 0) AS old_output,
                   coalesce(t.cache_read_tokens, 0) AS old_cache_read, coalesce(t.cache_creation_tokens, 0) AS old_cache_creation,
                   coalesce(t.reasoning_tokens, 0) AS old_reasoning, coalesce(t.cost_micros, 0) AS old_cost,
                   b.span_count, b.error_count, b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cache_creation_tokens,
                   b.reasoning_tokens, b.cost_micros
            FROM b LEFT JOIN telemetry.traces t ON t.project_id = b.project_id AND t.trace_id = b.trace_id),
        -- What each trace adds to its session (the batch's part when it stays, all of it when it joins), and
        -- takes from the session it leaves. recompute: the session loses a trace or a user.
        c AS (
            SELECT project_id, session_id, stays, (stays AND old_user IS NOT NULL AND old_user IS DISTINCT FROM user_id) AS recompute,
                   CASE WHEN stays THEN 0 ELSE 1 END AS traces,
                   span_count + CASE WHEN stays THEN 0 ELSE old_spans END AS spans,
                   error_count + CASE WHEN stays THEN 0 ELSE old_errors END AS errors,
                   input_tokens::numeric + CASE WHEN stays THEN 0 ELSE old_input END AS input_tokens,
                   output_tokens::numeric + CASE WHEN stays THEN 0 ELSE old_output END AS output_tokens,
                   cache_read_tokens::numeric + CASE WHEN stays THEN 0 ELSE old_cache_read END AS cache_read_tokens,
                   cache_creation_tokens::numeric + CASE WHEN stays THEN 0 ELSE old_cache_creation END AS cache_creation_tokens,
                   reasoning_tokens::numeric + CASE WHEN stays THEN 0 ELSE old_reasoning END AS reasoning_tokens,
                   cost_micros::numeric + CASE WHEN stays THEN 0 ELSE old_cost END AS cost_micros,
                   start_unix_nano AS first_unix_nano, last_unix_nano, user_id
            FROM (SELECT *, stored AND old_session IS NOT DISTINCT FROM session_id AS stays FROM n) n
            WHERE session_id IS NOT NULL
            UNION ALL
            SELECT project_id, old_session, true, true, -1, -old_spans, -old_errors, -old_input, -old_output, -old_cache_read,
                   -old_cache_creation, -old_reasoning, -old_cost, NULL, NULL, NULL
            FROM n
            WHERE old_session IS NOT NULL AND old_session IS DISTINCT FROM session_id),
        d AS (
            SELECT project_id, session_id, bool_or(recompute) AS recompute, sum(traces) AS traces, sum(spans) AS spans, sum(errors) AS errors,
                   sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
                   sum(cache_creation_tokens) AS cache_creation_tokens, sum(reasoning_tokens) AS reasoning_tokens, sum(cost_micros) AS cost_micros,
                   min(first_unix_nano) AS first_unix_nano, max(last_unix_nano) AS last_unix_nano,
                   coalesce(array_agg(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), '{}') AS users
            FROM c GROUP BY project_id, session_id),
        -- A session that loses a trace or a user: its times and users from the traces it keeps outside the batch.
        r AS (
            SELECT d.project_id, d.session_id, min(t.start_unix_nano) AS first_unix_nano,
                   max(greatest(t.end_unix_nano, t.start_unix_nano)) AS last_unix_nano,
                   coalesce(array_agg(DISTINCT t.user_id ORDER BY t.user_id) FILTER (WHERE t.user_id IS NOT NULL), '{}') AS users
            FROM d JOIN telemetry.traces t ON t.project_id = d.project_id AND t.session_id = d.session_id
            WHERE d.recompute AND NOT EXISTS (SELECT 1 FROM b WHERE b.project_id = t.project_id AND b.trace_id = t.trace_id)
            GROUP BY d.project_id, d.session_id),
        -- Those sessions exist and statement 2 holds their rows: updated whole here.
        moved AS (
            UPDATE telemetry.sessions s SET
                first_unix_nano = coalesce(least(r.first_unix_nano, d.first_unix_nano), s.first_unix_nano),
                last_unix_nano = coalesce(greatest(r.last_unix_nano, d.last_unix_nano), s.last_unix_nano),
                users = ARRAY(SELECT DISTINCT u FROM unnest(coalesce(r.users, '{}') || d.users) AS u ORDER BY u),
                trace_count = s.trace_count + d.traces,
                span_count = s.span_count + d.spans,
                error_count = s.error_count + d.errors,
                input_tokens = {{Add("input_tokens", "d")}},
                output_tokens = {{Add("output_tokens", "d")}},
                cache_read_tokens = {{Add("cache_read_tokens", "d")}},
                cache_creation_tokens = {{Add("cache_creation_tokens", "d")}},
                reasoning_tokens = {{Add("reasoning_tokens", "d")}},
                cost_micros = {{Add("cost_micros", "d")}}
            FROM d LEFT JOIN r ON r.project_id = d.project_id AND r.session_id = d.session_id
            WHERE d.recompute AND s.project_id = d.project_id AND s.session_id = d.session_id)
        -- The others only gain: inserted, or merged in (project, session) order.
        INSERT INTO telemetry.sessions AS s (project_id, session_id, first_unix_nano, last_unix_nano, trace_count, span_count, error_count, users,
                                             input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros)
        SELECT project_id, session_id, first_unix_nano, last_unix_nano, traces, spans, errors, users,
               {{Clamp("input_tokens")}}, {{Clamp("output_tokens")}}, {{Clamp("cache_read_tokens")}},
               {{Clamp("cache_creation_tokens")}}, {{Clamp("reasoning_tokens")}}, {{Clamp("cost_micros")}}
        FROM d
        WHERE NOT d.recompute
        ORDER BY project_id, session_id
        ON CONFLICT (project_id, session_id) DO UPDATE SET
            first_unix_nano = least(s.first_unix_nano, EXCLUDED.first_unix_nano),
            last_unix_nano = greatest(s.last_unix_nano, EXCLUDED.last_unix_nano),
            users = CASE WHEN EXCLUDED.users <@ s.users THEN s.users
                         ELSE ARRAY(SELECT DISTINCT u FROM unnest(s.users || EXCLUDED.users) AS u ORDER BY u) END,
            trace_count = s.trace_count + EXCLUDED.trace_count,
            span_count = s.span_count + EXCLUDED.span_count,
            error_count = s.error_count + EXCLUDED.error_count,
            input_tokens = {{Add("input_tokens", "EXCLUDED")}},
            output_tokens = {{Add("output_tokens", "EXCLUDED")}},
            cache_read_tokens = {{Add("cache_read_tokens", "EXCLUDED")}},
            cache_creation_tokens = {{Add("cache_creation_tokens", "EXCLUDED")}},
            reasoning_tokens = {{Add("reasoning_tokens", "EXCLUDED")}},
            cost_micros = {{Add("cost_micros", "EXCLUDED")}}
        """;

    /// <summary>Adds the statements that bring the traces' sessions up to date; they go before the traces upsert in the same transaction.</summary>
    public static void AddTo(NpgsqlBatch batch, IReadOnlyList<TraceRollup> traces)
    {
        if (traces.Count == 0)
        {
            return;
        }

        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockTracesSql) { Parameters = { Keys(traces, 0), Keys(traces, 1) } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LockSessionsSql) { Parameters = { Keys(traces, 0), Keys(traces, 1) } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(ApplySql)
        {
            Parameters =
            {
                Keys(traces, 0),
                Keys(traces, 1),
                SpanBatchWriter.Array(traces.Select(t => t.Session.Value), NpgsqlDbType.Text),
                SpanBatchWriter.Array(traces.Select(t => t.Session.IsRoot), NpgsqlDbType.Boolean),
                SpanBatchWriter.Array(traces.Select(t => t.Session.StartUnixNano), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.Session.SpanId), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.User.Value), NpgsqlDbType.Text),
                SpanBatchWriter.Array(traces.Select(t => t.User.IsRoot), NpgsqlDbType.Boolean),
                SpanBatchWriter.Array(traces.Select(t => t.User.StartUnixNano), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.User.SpanId), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.StartUnixNano), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.EndUnixNano), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.SpanCount), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.ErrorCount), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.InputTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.OutputTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.CacheReadTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.CacheCreationTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.ReasoningTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(traces.Select(t => t.CostMicros), NpgsqlDbType.Bigint),
            },
        });
    }

    private static NpgsqlParameter Keys(IReadOnlyList<TraceRollup> traces, int part)
        => SpanBatchWriter.Array(traces.Select(t => part == 0 ? t.ProjectId : t.TraceId), NpgsqlDbType.Uuid);

    /// <summary>Whether the batch's candidate for the trace's session (user) outranks the stored one, as the traces upsert decides.</summary>
    private static string Wins(string column)
        => $"(b.{column}_id IS NOT NULL AND (t.{column}_id IS NULL OR b.{column}_is_root > t.{column}_is_root OR " +
           $"(b.{column}_is_root = t.{column}_is_root AND (b.{column}_start_unix_nano, b.{column}_span_id) < (t.{column}_start_unix_nano, t.{column}_span_id))))";

    private static string Clamp(string value) => $"least({value}, 9223372036854775807)::bigint";

    /// <summary>A total plus a delta, kept within 0 and the largest bigint (absurd client-sent counts must not make a session unstorable).</summary>
    private static string Add(string column, string delta) => $"least(greatest(s.{column}::numeric + {delta}.{column}, 0), 9223372036854775807)::bigint";
}
