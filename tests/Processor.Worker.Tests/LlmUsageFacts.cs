using Npgsql;
using Trulayer.Otlp.Analytics;

namespace Trulayer.Processor.Tests;

/// <summary>The usage rollups of a project checked against an aggregate over its stored spans (migrations 0007, 0011 and 0014).</summary>
internal static class LlmUsageFacts
{
    /// <summary>The calls a sketch holds: the sum of its counts, bigint[] (per minute) or bytea (per hour, 8 bytes an entry); 0 when empty.</summary>
    private static string MinuteSketched(string sketch) => $"(SELECT coalesce(sum(x & 1099511627775), 0) FROM unnest({sketch}) x)";

    private static string HourSketched(string sketch) =>
        $"(SELECT coalesce(sum(('x' || encode(substr({sketch}, i, 8), 'hex'))::bit(64)::bigint & 1099511627775), 0) FROM generate_series(1, length({sketch}), 8) i)";

    private static string Sketched(Func<string, string> calls) => $"{calls("latency")} AS sketched, {calls("time_to_first_token")} AS ttft_sketched";

    private const string Sums = """
        count(*) AS calls, count(*) FILTER (WHERE status_code = 2) AS errors,
        coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
        coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens, coalesce(sum(cache_creation_tokens), 0) AS cache_creation_tokens,
        coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens, coalesce(sum(cost_micros), 0) AS cost_micros,
        count(time_to_first_token_nanos) AS ttft_calls
        """;

    private const string Compared =
        "(s.calls, s.errors, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.reasoning_tokens, s.cost_micros, s.calls, s.ttft_calls) IS DISTINCT FROM " +
        "(r.calls, r.errors, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_creation_tokens, r.reasoning_tokens, r.cost_micros, r.sketched, r.ttft_sketched)";

    /// <summary>
    /// Rollup rows (minute, hour, hour by model) that differ from the same aggregate over the project's stored model calls,
    /// or exist on one side only; a latency sketch whose counts do not add up to its calls, or a time to first token
    /// sketch whose counts do not add up to the calls that carried one, counts as differing.
    /// </summary>
    public static async Task<long> MismatchesAsync(NpgsqlDataSource db, Guid project)
    {
        var minute = $"""
            SELECT count(*) FROM (
                SELECT date_trunc('minute', start_time, 'UTC') AS bucket, coalesce(response_model, request_model, '') AS model,
                       coalesce(llm_system, '') AS provider, coalesce(service_name, '') AS service, span_type, coalesce(user_id, '') AS user_id, {Sums}
                FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING') GROUP BY 1, 2, 3, 4, 5, 6) s
            FULL JOIN (SELECT *, {Sketched(MinuteSketched)}
                       FROM telemetry.llm_usage_minute WHERE project_id = '{project}') r
                USING (bucket, model, provider, service, span_type, user_id)
            WHERE {Compared}
            """;
        var hour = $"""
            SELECT count(*) FROM (
                SELECT date_trunc('hour', start_time, 'UTC') AS bucket, coalesce(response_model, request_model, '') AS model,
                       coalesce(llm_system, '') AS provider, coalesce(service_name, '') AS service, span_type, {Sums}
                FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING') GROUP BY 1, 2, 3, 4, 5) s
            FULL JOIN (SELECT *, {Sketched(HourSketched)}
                       FROM telemetry.llm_usage_hour WHERE project_id = '{project}') r
                USING (bucket, model, provider, service, span_type)
            WHERE {Compared}
            """;
        var hourByModel = $"""
            SELECT count(*) FROM (
                SELECT date_trunc('hour', start_time, 'UTC') AS bucket, coalesce(response_model, request_model, '') AS model,
                       coalesce(llm_system, '') AS provider, span_type, {Sums}
                FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING') GROUP BY 1, 2, 3, 4) s
            FULL JOIN (SELECT *, {Sketched(HourSketched)}
                       FROM telemetry.llm_usage_hour_model WHERE project_id = '{project}') r
                USING (bucket, model, provider, span_type)
            WHERE {Compared}
            """;
        return await ProcessorHost.CountAsync(db, minute) + await ProcessorHost.CountAsync(db, hour) + await ProcessorHost.CountAsync(db, hourByModel);
    }

    /// <summary>
    /// Hour-by-model rows whose latency sketch is not, bin for bin and in ascending order, the sketch of
    /// the durations of the project's stored model calls of that hour and model (or that exist on one side only);
    /// and likewise their time to first token sketches, of the calls that carry one.
    /// </summary>
    public static async Task<long> SketchMismatchesAsync(NpgsqlDataSource db, Guid project)
        => await SketchMismatchesAsync(db, project, "latency", "end_unix_nano - start_unix_nano")
           + await SketchMismatchesAsync(db, project, "time_to_first_token", "time_to_first_token_nanos");

    private static async Task<long> SketchMismatchesAsync(NpgsqlDataSource db, Guid project, string sketch, string nanos)
    {
        var expected = new Dictionary<string, SortedDictionary<int, long>>();
        await using (var spans = db.CreateCommand(
            $"SELECT date_trunc('hour', start_time, 'UTC'), coalesce(response_model, request_model, ''), coalesce(llm_system, ''), span_type, {nanos} " +
            $"FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING')"))
        await using (var reader = await spans.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var key = $"{reader.GetDateTime(0):O} {reader.GetString(1)} {reader.GetString(2)} {reader.GetString(3)}";
                var bins = expected.TryGetValue(key, out var found) ? found : expected[key] = [];
                if (!reader.IsDBNull(4))
                {
                    var bin = LatencySketch.Bin(Math.Max(0, reader.GetInt64(4)));
                    bins[bin] = bins.GetValueOrDefault(bin) + 1;
                }
            }
        }

        long mismatches = 0;
        await using (var rollup = db.CreateCommand($"SELECT bucket, model, provider, span_type, {sketch} FROM telemetry.llm_usage_hour_model WHERE project_id = '{project}'"))
        await using (var reader = await rollup.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var key = $"{reader.GetDateTime(0):O} {reader.GetString(1)} {reader.GetString(2)} {reader.GetString(3)}";
                var stored = reader.GetFieldValue<byte[]>(4).Chunk(LatencySketch.EntryBytes)
                    .Select(entry => System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(entry)).ToList();
                var exact = expected.Remove(key, out var bins) ? bins.Select(b => LatencySketch.Pack(b.Key, b.Value)).ToList() : [];
                mismatches += stored.SequenceEqual(exact) ? 0 : 1;
            }
        }

        return mismatches + expected.Count;
    }

    /// <summary>The calls the minute rollup holds for the project.</summary>
    public static Task<long> CallsAsync(NpgsqlDataSource db, Guid project)
        => ProcessorHost.CountAsync(db, $"SELECT coalesce(sum(calls), 0) FROM telemetry.llm_usage_minute WHERE project_id = '{project}'");
}
