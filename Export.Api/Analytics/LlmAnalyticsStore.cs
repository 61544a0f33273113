using Npgsql;
using NpgsqlTypes;
using Trulayer.Export.Http;
using Trulayer.Export.Paging;
using Trulayer.Export.Storage;
using Trulayer.Otlp.Analytics;

namespace Trulayer.Export.Analytics;

/// <summary>
/// The sums of one bucket of one group (or of the window, <see cref="LlmAnalyticsResponse.Totals"/>), its merged latency
/// sketch, and its merged sketch of the time to first token of the calls that carried one.
/// </summary>
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
    public LatencyHistogram Latency { get; } = new();
    public LatencyHistogram TimeToFirstToken { get; } = new();

    /// <summary>
    /// Adds one rollup row: its eight counters from column <paramref name="first"/> on, then its latency sketch and its
    /// time to first token sketch (bigint[] per minute, bytea per hour).
    /// </summary>
    public void Add(NpgsqlDataReader reader, int first)
    {
        Calls = Saturating(Calls, reader.GetInt64(first));
        Errors = Saturating(Errors, reader.GetInt64(first + 1));
        InputTokens = Saturating(InputTokens, reader.GetInt64(first + 2));
        OutputTokens = Saturating(OutputTokens, reader.GetInt64(first + 3));
        CacheReadTokens = Saturating(CacheReadTokens, reader.GetInt64(first + 4));
        CacheCreationTokens = Saturating(CacheCreationTokens, reader.GetInt64(first + 5));
        ReasoningTokens = Saturating(ReasoningTokens, reader.GetInt64(first + 6));
        CostMicros = Saturating(CostMicros, reader.GetInt64(first + 7));
        AddSketch(Latency, reader, first + 8);
        AddSketch(TimeToFirstToken, reader, first + 9);
    }

    private static void AddSketch(LatencyHistogram histogram, NpgsqlDataReader reader, int ordinal)
    {
        if (reader.GetFieldType(ordinal) == typeof(byte[]))
        {
            histogram.AddPacked(reader.GetFieldValue<byte[]>(ordinal));
        }
        else
        {
            histogram.AddPacked(reader.GetFieldValue<long[]>(ordinal));
        }
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
        Latency.Add(other.Latency);
        TimeToFirstToken.Add(other.TimeToFirstToken);
    }

    /// <summary>The latency quantile in whole nanoseconds; null without calls.</summary>
    public long? LatencyNanos(double q) => Nanos(Latency, q);

    /// <summary>The time to first token quantile in whole nanoseconds; null when no call carried one.</summary>
    public long? TimeToFirstTokenNanos(double q) => Nanos(TimeToFirstToken, q);

    private static long? Nanos(LatencyHistogram histogram, double q) => histogram.Quantile(q) is { } nanos ? (long)Math.Round(nanos) : null;

    private static long Saturating(long total, long value) => value > long.MaxValue - total ? long.MaxValue : total + value;
}

/// <summary>One bucket of one group as read: its start and group value ('' where the spans had none).</summary>
internal sealed record UsageBucket(long StartUnixNanos, string Group, UsageSums Sums);

/// <summary>
/// Reads the usage rollups the processor writes (migrations 0007, 0011 and 0014), the one with the fewest rows that can
/// answer (<see cref="LlmAnalyticsQuery.Table"/>). PostgreSQL only finds the rows
/// (a range of the primary key); they are summed into buckets and their sketches merged here, which
/// costs less than PostgreSQL's grouping of arrays.
/// </summary>
internal sealed class LlmAnalyticsStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros, latency, time_to_first_token";

    public async Task<IReadOnlyList<UsageBucket>> ReadAsync(LlmAnalyticsQuery query, CancellationToken cancellationToken)
    {
        if (query.Projects.Count == 0 || query.FromUnixNanos >= query.ToUnixNanos)
        {
            return [];
        }

        var parameters = new SqlParameters();
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
        var sql = $"SELECT bucket, {group}, {Columns} FROM {query.Table} WHERE {string.Join(" AND ", conditions)}";

        await using var command = dataSource.CreateCommand(sql);
        parameters.CopyTo(command.Parameters);
        var buckets = new Dictionary<(long Start, string Group), UsageSums>();
        var width = query.Interval.Nanos / 1000;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var micros = Micros.FromDateTime(reader.GetDateTime(0));
            var key = (micros - (((micros % width) + width) % width), reader.GetString(1));
            if (!buckets.TryGetValue(key, out var sums))
            {
                sums = new UsageSums();
                buckets.Add(key, sums);
            }

            sums.Add(reader, 2);
        }

        return [.. buckets.OrderBy(b => b.Key.Start).ThenBy(b => b.Key.Group, StringComparer.Ordinal)
            .Select(b => new UsageBucket(b.Key.Start * 1000, b.Key.Group, b.Value))];
    }

    private static DateTime Time(long unixNanos) => Micros.ToDateTime(Micros.FromUnixNanos(unixNanos));
}
