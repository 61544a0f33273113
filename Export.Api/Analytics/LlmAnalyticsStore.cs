using Npgsql;
using NpgsqlTypes;
using Trulayer.Export.Http;
using Trulayer.Export.Paging;
using Trulayer.Export.Storage;
using Trulayer.Otlp.Analytics;

namespace Trulayer.Export.Analytics;

/// <summary>The sums of one bucket of one group (or of the window, <see cref="LlmAnalyticsResponse.Totals"/>), and its merged latency sketch.</summary>
internal sealed class UsageSums
{
    public long Calls { get; private set; }
    public long Errors { get; private set; }
    public long InputTokens { get; private set; }
    public long OutputTokens { get; private set; }
    public long CacheReadTokens { get; private set; }
    public long CacheCreationTokens { get; private set; }
    public long ReasoningTokens { get; private set; }
    public long CostMicros { get; private set; }
    public SortedDictionary<int, long> Latency { get; } = [];

    public void Add(NpgsqlDataReader reader, int first)
    {
        Calls = Saturating(Calls, reader.GetDecimal(first));
        Errors = Saturating(Errors, reader.GetDecimal(first + 1));
        InputTokens = Saturating(InputTokens, reader.GetDecimal(first + 2));
        OutputTokens = Saturating(OutputTokens, reader.GetDecimal(first + 3));
        CacheReadTokens = Saturating(CacheReadTokens, reader.GetDecimal(first + 4));
        CacheCreationTokens = Saturating(CacheCreationTokens, reader.GetDecimal(first + 5));
        ReasoningTokens = Saturating(ReasoningTokens, reader.GetDecimal(first + 6));
        CostMicros = Saturating(CostMicros, reader.GetDecimal(first + 7));
        LatencySketch.MergeInto(Latency, reader.GetFieldValue<long[]>(first + 8));
    }

    public void Add(UsageSums other)
    {
        Calls = Saturating(Calls, other.Calls);
        Errors = Saturating(Errors, other.Errors);
        InputTokens = Saturating(InputTokens, other.InputTokens);
        OutputTokens = Saturating(OutputTokens, other.OutputTokens);
        CacheReadTokens = Saturating(CacheReadTokens, other.CacheReadTokens);
        CacheCreationTokens = Saturating(CacheCreationTokens, other.CacheCreationTokens);
        ReasoningTokens = Saturating(ReasoningTokens, other.ReasoningTokens);
        CostMicros = Saturating(CostMicros, other.CostMicros);
        foreach (var (bin, count) in other.Latency)
        {
            Latency[bin] = Latency.GetValueOrDefault(bin) + count;
        }
    }

    /// <summary>The latency quantile in whole nanoseconds; null without calls.</summary>
    public long? LatencyNanos(double q) => LatencySketch.Quantile(Latency, Latency.Values.Sum(), q) is { } nanos ? (long)Math.Round(nanos) : null;

    private static long Saturating(long total, decimal value) => (long)Math.Min(total + value, long.MaxValue);
}

/// <summary>One bucket of one group as read: its start and group value ('' where the spans had none).</summary>
internal sealed record UsageBucket(long StartUnixNanos, string Group, UsageSums Sums);

/// <summary>
/// Reads the usage rollups the processor writes (migration 0007): the hourly table where it can answer
/// (<see cref="LlmAnalyticsQuery.ReadsHours"/>), else the per-minute one; PostgreSQL sums each bucket and
/// concatenates its latency sketches, which are merged here.
/// </summary>
internal sealed class LlmAnalyticsStore(NpgsqlDataSource dataSource)
{
    private const string Sums =
        "sum(calls), sum(errors), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_creation_tokens), " +
        "sum(reasoning_tokens), sum(cost_micros), telemetry.latency_sketch_concat(latency)";

    public async Task<IReadOnlyList<UsageBucket>> ReadAsync(LlmAnalyticsQuery query, CancellationToken cancellationToken)
    {
        if (query.Projects.Count == 0 || query.FromUnixNanos >= query.ToUnixNanos)
        {
            return [];
        }

        var parameters = new SqlParameters();
        var width = parameters.Add(TimeSpan.FromTicks(query.Interval.Nanos / 100), NpgsqlDbType.Interval);
        var conditions = new List<string>
        {
            $"project_id = ANY({parameters.Add(query.Projects.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Uuid)})",
            $"bucket >= {parameters.Add(Time(query.FromUnixNanos), NpgsqlDbType.TimestampTz)}",
            $"bucket < {parameters.Add(Time(query.ToUnixNanos), NpgsqlDbType.TimestampTz)}",
        };
        if (query.Model is { } model)
        {
            conditions.Add($"model = {parameters.Add(model, NpgsqlDbType.Text)}");
        }

        if (query.Service is { } service)
        {
            conditions.Add($"service = {parameters.Add(service, NpgsqlDbType.Text)}");
        }

        if (query.UserId is { } user)
        {
            conditions.Add($"user_id = {parameters.Add(user, NpgsqlDbType.Text)}");
        }

        var group = query.GroupBy switch
        {
            AnalyticsGroup.Model => "model",
            AnalyticsGroup.Provider => "provider",
            AnalyticsGroup.Service => "service",
            AnalyticsGroup.Project => "project_id::text",
            AnalyticsGroup.Type => "span_type",
            AnalyticsGroup.User => "user_id",
            _ => "''",
        };
        var table = query.ReadsHours ? "telemetry.llm_usage_hour" : "telemetry.llm_usage_minute";
        var sql = $"""
            SELECT date_bin({width}, bucket, timestamptz '1970-01-01 00:00:00+00') AS start, {group} AS grp, {Sums}
            FROM {table} WHERE {string.Join(" AND ", conditions)}
            GROUP BY 1, 2 ORDER BY 1, 2
            """;

        await using var command = dataSource.CreateCommand(sql);
        parameters.CopyTo(command.Parameters);
        var buckets = new List<UsageBucket>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var sums = new UsageSums();
            sums.Add(reader, 2);
            buckets.Add(new UsageBucket(Micros.FromDateTime(reader.GetDateTime(0)) * 1000, reader.GetString(1), sums));
        }

        return buckets;
    }

    private static DateTime Time(long unixNanos) => Micros.ToDateTime(Micros.FromUnixNanos(unixNanos));
}
