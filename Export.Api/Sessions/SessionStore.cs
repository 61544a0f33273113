using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Trulayer.Export.Http;
using Trulayer.Export.Paging;
using Trulayer.Export.Spans;
using Trulayer.Export.Storage;
using Trulayer.Export.Traces;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp;

namespace Trulayer.Export.Sessions;

/// <summary>One session of the sessions list, from telemetry.sessions: times are its first trace start and its last activity (latest trace end).</summary>
internal sealed record SessionSummary(
    string SessionId,
    Guid ProjectId,
    string FirstTime,
    string FirstTimeUnixNano,
    string LastTime,
    string LastTimeUnixNano,
    long TraceCount,
    IReadOnlyList<string> Users,
    long InputTokens,
    long OutputTokens,
    decimal Cost,
    bool HasError);

internal sealed record SessionListResponse(IReadOnlyList<SessionSummary> Sessions);

/// <summary>One trace of a session, with the input and output of its root span, or else of its first LLM call.</summary>
internal sealed record SessionTrace(
    string TraceId,
    Guid ProjectId,
    string Name,
    string StartTime,
    string StartTimeUnixNano,
    string EndTimeUnixNano,
    long DurationNanos,
    long SpanCount,
    long InputTokens,
    long OutputTokens,
    decimal Cost,
    string Status,
    string? UserId,
    string? Input,
    string? Output);

/// <summary><c>GET /v1/sessions/{sessionId}</c>: the session's summary and its traces in time order.</summary>
internal sealed record SessionDetail(SessionSummary Session, IReadOnlyList<SessionTrace> Traces);

internal sealed record SessionListPage(IReadOnlyList<SessionSummary> Sessions, SessionKey? Next);

/// <summary>
/// The sessions list (newest activity first, keyset-paged over the sessions_by_last index, one branch per project merged
/// by PostgreSQL) and one session with its traces (the traces_by_session index).
/// </summary>
internal sealed class SessionStore(NpgsqlDataSource dataSource)
{
    /// <summary>The most traces <c>GET /v1/sessions/{sessionId}</c> returns (the first, in time order).</summary>
    public const int MaxTraces = 1000;

    private const string Columns =
        "project_id, session_id, first_unix_nano, last_unix_nano, trace_count, users, input_tokens, output_tokens, cost_micros, has_error";

    public async Task<SessionListPage> ListAsync(
        IReadOnlyList<Guid> projects, long? fromUnixNanos, long? toUnixNanos, string? userId, SessionKey? after, int limit, CancellationToken cancellationToken)
    {
        if (projects.Count == 0)
        {
            return new SessionListPage([], null);
        }

        var parameters = new SqlParameters();
        var conditions = new List<string> { "trace_count > 0" };
        if (fromUnixNanos is { } from)
        {
            conditions.Add($"last_unix_nano >= {parameters.Add(from, NpgsqlDbType.Bigint)}");
        }

        if (toUnixNanos is { } to)
        {
            conditions.Add($"last_unix_nano < {parameters.Add(to, NpgsqlDbType.Bigint)}");
        }

        string? user = userId is null ? null : parameters.Add(userId, NpgsqlDbType.Text);
        string? afterLast = null, afterSession = null;
        if (after is { } key)
        {
            afterLast = parameters.Add(key.LastUnixNano, NpgsqlDbType.Bigint);
            afterSession = parameters.Add(key.SessionId, NpgsqlDbType.Text);
        }

        var fetch = parameters.Add(limit + 1, NpgsqlDbType.Integer);
        var branches = projects.Select(project =>
        {
            var projectId = parameters.Add(project, NpgsqlDbType.Uuid);
            var where = new List<string>(conditions) { $"project_id = {projectId}" };
            if (after is { } key)
            {
                // Descending: a project that sorts before the cursor's comes after it at an equal key.
                var comparison = Micros.CompareUuid(project, key.ProjectId) < 0 ? "<=" : "<";
                where.Add($"(last_unix_nano, session_id) {comparison} ({afterLast}, {afterSession})");
            }

            if (user is not null)
            {
                // From the user's traces (traces_by_user) to their sessions, one primary-key lookup each: the work grows
                // with the user's traces, not with the project's sessions. Left to itself, the planner walked
                // sessions_by_last newest first and probed each session's traces for the user: a rare user's 50 sessions
                // took reading a tenth of a large project's (1.3 s on 11 M spans; this plan takes milliseconds). LIMIT 1
                // keeps the lateral subquery from being flattened into a join the planner would reorder.
                return $"""
                    (SELECT s.* FROM (SELECT DISTINCT t.session_id FROM telemetry.traces t
                                      WHERE t.project_id = {projectId} AND t.user_id = {user} AND t.session_id IS NOT NULL) u
                     CROSS JOIN LATERAL (SELECT {Columns} FROM telemetry.sessions
                                         WHERE session_id = u.session_id AND {string.Join(" AND ", where)} LIMIT 1) s
                     ORDER BY s.last_unix_nano DESC, s.session_id DESC LIMIT {fetch})
                    """;
            }

            return $"(SELECT {Columns} FROM telemetry.sessions WHERE {string.Join(" AND ", where)} ORDER BY last_unix_nano DESC, session_id DESC LIMIT {fetch})";
        });
        var sql = $"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY last_unix_nano DESC, session_id DESC, project_id DESC LIMIT {fetch}";

        await using var command = dataSource.CreateCommand(sql);
        parameters.CopyTo(command.Parameters);
        var sessions = new List<SessionSummary>(limit + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions.Add(ReadSummary(reader));
        }

        if (sessions.Count <= limit)
        {
            return new SessionListPage(sessions, null);
        }

        var last = sessions[limit - 1];
        return new SessionListPage(sessions[..limit], new SessionKey(long.Parse(last.LastTimeUnixNano, CultureInfo.InvariantCulture), last.SessionId, last.ProjectId));
    }

    /// <summary>The session in the given projects (summed when several hold one of that id) and its first <see cref="MaxTraces"/> traces; null when none holds it.</summary>
    public async Task<SessionDetail?> ReadAsync(IReadOnlyList<Guid> projects, string sessionId, CancellationToken cancellationToken)
    {
        if (projects.Count == 0)
        {
            return null;
        }

        var (connection, transaction) = await SpanStore.BeginAsync(dataSource, cancellationToken);
        await using (connection)
        await using (transaction)
        {
            var summaries = new List<SessionSummary>();
            await using (var command = new NpgsqlCommand(
                             $"SELECT {Columns} FROM telemetry.sessions WHERE project_id = ANY($1) AND session_id = $2 AND trace_count > 0 ORDER BY project_id",
                             connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. projects], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sessionId, NpgsqlDbType = NpgsqlDbType.Text });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    summaries.Add(ReadSummary(reader));
                }
            }

            if (summaries.Count == 0)
            {
                return null;
            }

            var traces = new List<SessionTrace>();
            // The conversation turn of each trace: its root span's content, else its first LLM call's.
            await using (var command = new NpgsqlCommand($"""
                SELECT traces.project_id, traces.trace_id, traces.name, traces.start_unix_nano, traces.end_unix_nano, traces.span_count,
                       traces.input_tokens, traces.output_tokens, traces.cost_micros, traces.has_error, traces.user_id, c.input_text, c.input_form, c.output_text, c.output_form
                FROM telemetry.traces
                LEFT JOIN LATERAL (
                    SELECT s.input_text, s.input_form, s.output_text, s.output_form
                    FROM telemetry.spans s
                    WHERE s.project_id = traces.project_id AND s.trace_id = traces.trace_id
                      AND s.start_time >= traces.start_time
                      AND s.start_time <= {TraceListStore.TraceSpanEnd}
                      AND (s.parent_span_id IS NULL OR s.span_type = 'LLM') AND (s.input_text IS NOT NULL OR s.output_text IS NOT NULL)
                    ORDER BY s.parent_span_id IS NULL DESC, s.start_unix_nano, s.span_id
                    LIMIT 1) c ON true
                WHERE traces.project_id = ANY($1) AND traces.session_id = $2
                ORDER BY traces.start_time, traces.trace_id, traces.project_id
                LIMIT {MaxTraces}
                """, connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. summaries.Select(s => s.ProjectId)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sessionId, NpgsqlDbType = NpgsqlDbType.Text });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    string? Text(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
                    var start = reader.GetInt64(3);
                    var end = reader.GetInt64(4);
                    traces.Add(new SessionTrace(
                        reader.GetGuid(1).ToString("N"),
                        reader.GetGuid(0),
                        reader.GetString(2),
                        Rfc3339.Format(start),
                        start.ToString(CultureInfo.InvariantCulture),
                        end.ToString(CultureInfo.InvariantCulture),
                        Math.Max(0, end - start),
                        reader.GetInt64(5),
                        reader.GetInt64(6),
                        reader.GetInt64(7),
                        reader.GetInt64(8) / 1_000_000m,
                        reader.GetBoolean(9) ? "error" : "ok",
                        Text(10),
                        SpanViews.Content(GenAiField.InputText, Text(11), Text(12)),
                        SpanViews.Content(GenAiField.OutputText, Text(13), Text(14))));
                }
            }

            return new SessionDetail(Combine(summaries), traces);
        }
    }

    private static SessionSummary ReadSummary(NpgsqlDataReader reader)
    {
        var first = reader.GetInt64(2);
        var last = reader.GetInt64(3);
        return new SessionSummary(
            reader.GetString(1),
            reader.GetGuid(0),
            Rfc3339.Format(first),
            first.ToString(CultureInfo.InvariantCulture),
            Rfc3339.Format(last),
            last.ToString(CultureInfo.InvariantCulture),
            reader.GetInt64(4),
            reader.GetFieldValue<string[]>(5),
            reader.GetInt64(6),
            reader.GetInt64(7),
            reader.GetInt64(8) / 1_000_000m,
            reader.GetBoolean(9));
    }

    /// <summary>One summary of a session id that several of the caller's projects hold (the first project's id).</summary>
    private static SessionSummary Combine(List<SessionSummary> summaries)
    {
        if (summaries.Count == 1)
        {
            return summaries[0];
        }

        var first = summaries.MinBy(s => long.Parse(s.FirstTimeUnixNano, CultureInfo.InvariantCulture))!;
        var last = summaries.MaxBy(s => long.Parse(s.LastTimeUnixNano, CultureInfo.InvariantCulture))!;
        return summaries[0] with
        {
            FirstTime = first.FirstTime,
            FirstTimeUnixNano = first.FirstTimeUnixNano,
            LastTime = last.LastTime,
            LastTimeUnixNano = last.LastTimeUnixNano,
            TraceCount = summaries.Sum(s => s.TraceCount),
            Users = [.. summaries.SelectMany(s => s.Users).Distinct().Order(StringComparer.Ordinal)],
            InputTokens = summaries.Sum(s => s.InputTokens),
            OutputTokens = summaries.Sum(s => s.OutputTokens),
            Cost = summaries.Sum(s => s.Cost),
            HasError = summaries.Any(s => s.HasError),
        };
    }
}
