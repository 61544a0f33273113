using System.Buffers;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Http;
using Trulayer.Export.Paging;
using Trulayer.Export.Storage;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp.Json;

namespace Trulayer.Export.Spans;

/// <summary>A trace's spans as the dashboard shows them, with the resources and scopes they point to (OTLP/JSON, by id).</summary>
internal sealed record TraceSpansResponse(
    IReadOnlyList<SpanView> Spans, IReadOnlyDictionary<string, JsonElement> Resources, IReadOnlyDictionary<string, JsonElement> Scopes);

internal sealed record SpanListResponse(IReadOnlyList<SpanView> Spans);

/// <summary>What the span search is narrowed to; null parts do not narrow it. Durations in nanoseconds.</summary>
internal sealed record SpanSearch(
    long? From,
    long? To,
    Guid? TraceId,
    string? Type,
    string? Model,
    string? Provider,
    string? Service,
    short? Status,
    string? SessionId,
    string? UserId,
    long? MinDurationNanos,
    long? MaxDurationNanos,
    string? Text,
    IReadOnlyList<ExactFilter> Attributes,
    IReadOnlyList<ExactFilter> Resources);

/// <summary>One page of the span search and where the next starts (null when nothing remains).</summary>
internal sealed record SpanSearchPage(IReadOnlyList<SpanView> Spans, SpanKey? Next);

/// <summary>
/// The dashboard's span reads: every span of one trace with its OTLP parts (<see cref="ReadTraceAsync"/>), and the
/// span search, newest first (start time, trace id, span id, project descending), keyset-paged, one branch per project
/// over the spans_key index read backwards, merged by PostgreSQL.
/// </summary>
internal sealed class SpanSearchStore(NpgsqlDataSource dataSource)
{
    private const string StoredColumns =
        "resource_id, scope_id, otlp, input_at, convert_to(input_text, 'UTF8') AS input_bytes, output_at, convert_to(output_text, 'UTF8') AS output_bytes";

    /// <summary>Every span of the trace in the given projects, in start order; null when none of them holds it.</summary>
    public async Task<TraceSpansResponse?> ReadTraceAsync(IReadOnlyList<Guid> projects, Guid traceId, CancellationToken cancellationToken)
    {
        if (projects.Count == 0)
        {
            return null;
        }

        var (connection, transaction) = await SpanStore.BeginAsync(dataSource, cancellationToken);
        await using (connection)
        await using (transaction)
        {
            var bounds = await SpanStore.ReadTraceBoundsAsync(connection, transaction, projects, traceId, cancellationToken);
            if (bounds.Count == 0)
            {
                return null;
            }

            var selection = new TraceSelection(traceId, bounds);
            var resources = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            var scopes = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            await using (var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { SpanStore.GroupsCommand(selection) } })
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                foreach (var group in await SpanStore.ReadGroupsAsync(reader, cancellationToken))
                {
                    resources.TryAdd(group.ResourceId.ToString("N"), Json(w => OtlpJsonWriter.WriteResource(w, Resource.Parser.ParseFrom(group.Resource))));
                    scopes.TryAdd(group.ScopeId.ToString("N"), Json(w => OtlpJsonWriter.WriteScope(w, InstrumentationScope.Parser.ParseFrom(group.Scope))));
                }
            }

            var parameters = new SqlParameters();
            await using var command = new NpgsqlCommand(selection.Sql(parameters, $"{SpanViews.Columns}, {StoredColumns}"), connection, transaction);
            parameters.CopyTo(command.Parameters);
            var spans = new List<SpanView>();
            using var stored = new StoredSpan();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var view = SpanViews.Read(reader, preview: false);
                    var otlp = Json(w => OtlpJsonWriter.WriteSpan(w, Span.Parser.ParseFrom(stored.Read(reader, SpanViews.NextOrdinal + 2))));
                    spans.Add(view with
                    {
                        ResourceId = reader.GetGuid(SpanViews.NextOrdinal).ToString("N"),
                        ScopeId = reader.GetGuid(SpanViews.NextOrdinal + 1).ToString("N"),
                        Attributes = Part(otlp, "attributes"),
                        Events = Part(otlp, "events"),
                        Links = Part(otlp, "links"),
                    });
                }
            }

            return spans.Count == 0 ? null : new TraceSpansResponse(spans, resources, scopes);
        }
    }

    /// <summary>
    /// One page of the span search. <c>attr.</c> filters select candidates by their hashes (the spans_attr_hashes
    /// index) and each is confirmed against the span; when some are not, the page reads on until it is full.
    /// </summary>
    public async Task<SpanSearchPage> SearchAsync(IReadOnlyList<Guid> projects, SpanSearch search, SpanKey? after, int limit, CancellationToken cancellationToken)
    {
        if (projects.Count == 0 || (search.From is { } from && search.To is { } to && to <= from))
        {
            return new SpanSearchPage([], null);
        }

        var confirm = search.Attributes.Count > 0;
        var spans = new List<(SpanView View, SpanKey Key)>(limit + 1);
        var position = after;
        while (true)
        {
            var (sql, parameters) = SearchSql(projects, search, position, limit + 1, confirm);
            await using var command = dataSource.CreateCommand(sql);
            parameters.CopyTo(command.Parameters);
            var read = 0;
            using var stored = confirm ? new StoredSpan() : null;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    read++;
                    var key = new SpanKey(Micros.FromDateTime(reader.GetDateTime(1)), reader.GetGuid(2), reader.GetInt64(3), reader.GetGuid(0));
                    position = key;
                    if (stored is not null && !Matches(Span.Parser.ParseFrom(stored.Read(reader, SpanViews.NextOrdinal)), search.Attributes))
                    {
                        continue;
                    }

                    spans.Add((SpanViews.Read(reader, preview: true), key));
                    if (spans.Count > limit)
                    {
                        break;
                    }
                }
            }

            if (spans.Count > limit || read <= limit)
            {
                break;
            }
        }

        var more = spans.Count > limit;
        var page = spans.Take(limit).ToList();
        return new SpanSearchPage([.. page.Select(s => s.View)], more ? page[^1].Key : null);
    }

    private static (string Sql, SqlParameters Parameters) SearchSql(IReadOnlyList<Guid> projects, SpanSearch search, SpanKey? after, int fetch, bool confirm)
    {
        var parameters = new SqlParameters();
        var conditions = new List<string>();
        if (search.From is { } from)
        {
            conditions.Add($"start_time >= {parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(Math.Max(from, 0))), NpgsqlDbType.TimestampTz)}");
            conditions.Add($"start_unix_nano >= {parameters.Add(from, NpgsqlDbType.Bigint)}");
        }

        if (search.To is { } to)
        {
            conditions.Add($"start_time <= {parameters.Add(Micros.ToDateTime(Micros.FromUnixNanos(Math.Max(to, 0))), NpgsqlDbType.TimestampTz)}");
            conditions.Add($"start_unix_nano < {parameters.Add(to, NpgsqlDbType.Bigint)}");
        }

        void Equal(string column, string? value)
        {
            if (value is not null)
            {
                conditions.Add($"{column} = {parameters.Add(value, NpgsqlDbType.Text)}");
            }
        }

        if (search.TraceId is { } traceId)
        {
            conditions.Add($"trace_id = {parameters.Add(traceId, NpgsqlDbType.Uuid)}");
        }

        Equal("span_type", search.Type);
        Equal("llm_system", search.Provider);
        Equal("service_name", search.Service);
        Equal("session_id", search.SessionId);
        Equal("user_id", search.UserId);
        if (search.Model is { } model)
        {
            var value = parameters.Add(model, NpgsqlDbType.Text);
            conditions.Add($"(request_model = {value} OR response_model = {value})");
        }

        if (search.Status is { } status)
        {
            conditions.Add($"status_code = {parameters.Add(status, NpgsqlDbType.Smallint)}");
        }

        if (search.MinDurationNanos is { } min)
        {
            conditions.Add($"end_unix_nano - start_unix_nano >= {parameters.Add(min, NpgsqlDbType.Bigint)}");
        }

        if (search.MaxDurationNanos is { } max)
        {
            conditions.Add($"end_unix_nano - start_unix_nano <= {parameters.Add(max, NpgsqlDbType.Bigint)}");
        }

        if (search.Text is { } text)
        {
            // The first condition is the indexed expression (spans_search_text_trgm, migration 0012): the part of
            // the text q searches. The second keeps only spans whose own input or output holds the text.
            var pattern = parameters.Add("%" + LikePattern.Escape(text) + "%", NpgsqlDbType.Text);
            conditions.Add($"telemetry.span_search_text(input_text, output_text) ILIKE {pattern}");
            conditions.Add($"(input_text ILIKE {pattern} OR output_text ILIKE {pattern})");
        }

        if (search.Attributes.Count > 0)
        {
            var hashes = search.Attributes.Select(a => AttributeHash.HashText(a.Key + "=" + a.Value)).Distinct().ToArray();
            conditions.Add($"attr_hashes @> {parameters.Add(hashes, NpgsqlDbType.Array | NpgsqlDbType.Integer)}");
        }

        string? afterTime = null, afterTrace = null, afterSpan = null;
        if (after is { } key)
        {
            afterTime = parameters.Add(key.StartTime, NpgsqlDbType.TimestampTz);
            afterTrace = parameters.Add(key.TraceId, NpgsqlDbType.Uuid);
            afterSpan = parameters.Add(key.SpanId, NpgsqlDbType.Bigint);
        }

        var limit = parameters.Add(fetch, NpgsqlDbType.Integer);
        var columns = confirm
            ? $"{SpanViews.PreviewColumns}, otlp, input_at, convert_to(input_text, 'UTF8') AS input_bytes, output_at, convert_to(output_text, 'UTF8') AS output_bytes"
            : SpanViews.PreviewColumns;
        var branches = projects.Select(project =>
        {
            var projectId = parameters.Add(project, NpgsqlDbType.Uuid);
            var where = new List<string>(conditions) { $"project_id = {projectId}" };
            if (search.Resources.Count > 0)
            {
                where.Add(ResourceMatch.Condition(parameters, projectId, search.Resources));
            }

            if (after is { } key)
            {
                // Descending: a project that sorts before the cursor's comes after it at an equal key.
                var comparison = Micros.CompareUuid(project, key.ProjectId) < 0 ? "<=" : "<";
                where.Add($"(start_time, trace_id, span_id) {comparison} ({afterTime}, {afterTrace}, {afterSpan})");
            }

            return $"(SELECT project_id, start_time, trace_id, span_id, {columns} FROM telemetry.spans WHERE {string.Join(" AND ", where)} " +
                   $"ORDER BY start_time DESC, trace_id DESC, span_id DESC LIMIT {limit})";
        });
        return ($"SELECT * FROM ({string.Join("\nUNION ALL\n", branches)}) branches ORDER BY start_time DESC, trace_id DESC, span_id DESC, project_id DESC LIMIT {limit}", parameters);
    }

    /// <summary>Whether the span has every attribute value asked for (a hash match is only a candidate).</summary>
    private static bool Matches(Span span, IReadOnlyList<ExactFilter> filters)
        => filters.All(f => span.Attributes.Any(a => a.Key == f.Key && AttributeHash.ValueText(a.Value) == f.Value));

    private static readonly JsonElement None = JsonDocument.Parse("[]").RootElement.Clone();

    /// <summary>One repeated field of an OTLP/JSON span (which leaves empty ones out): an empty array when absent.</summary>
    private static JsonElement Part(JsonElement span, string name) => span.TryGetProperty(name, out var part) ? part : None;

    /// <summary>What <paramref name="write"/> writes, as a JSON value.</summary>
    internal static JsonElement Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }
}
