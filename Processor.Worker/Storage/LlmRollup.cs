using Npgsql;
using NpgsqlTypes;
using Trulayer.Otlp.Analytics;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Processor.Storage;

/// <summary>
/// One rollup table: its name, its bucket width, whether the service and the user are among its dimensions,
/// and whether it keeps its latency sketches as bytea (<see cref="LatencySketch"/>) rather than bigint[].
/// </summary>
internal sealed record LlmUsageLevel(string Table, long BucketTicks, bool ByService, bool ByUser, bool SketchAsBytes)
{
    /// <summary>
    /// Per minute with every dimension, per hour without the user, and per hour without the service and
    /// the user (what an hourly dashboard by model or provider reads: a row an hour per model) (migration
    /// 0007); the hourly ones with bytea sketches (migration 0011).
    /// </summary>
    public static readonly IReadOnlyList<LlmUsageLevel> All =
    [
        new("telemetry.llm_usage_minute", TimeSpan.TicksPerMinute, ByService: true, ByUser: true, SketchAsBytes: false),
        new("telemetry.llm_usage_hour", TimeSpan.TicksPerHour, ByService: true, ByUser: false, SketchAsBytes: true),
        new("telemetry.llm_usage_hour_model", TimeSpan.TicksPerHour, ByService: false, ByUser: false, SketchAsBytes: true),
    ];

    /// <summary>The table's key columns, in its primary key's order.</summary>
    public IReadOnlyList<string> Dimensions { get; } =
        ["project_id", "bucket", "model", "provider", .. ByService ? ["service"] : Array.Empty<string>(), "span_type", .. ByUser ? ["user_id"] : Array.Empty<string>()];

    public DateTime Bucket(DateTime startTime) => new(startTime.Ticks - startTime.Ticks % BucketTicks, DateTimeKind.Utc);
}

/// <summary>The dimensions of one rollup row ('' where a span has none; the user '' at levels without it).</summary>
internal readonly record struct LlmUsageKey(Guid ProjectId, DateTime Bucket, string Model, string Provider, string Service, string SpanType, string UserId);

/// <summary>
/// What the model calls (LLM and EMBEDDING spans, <see cref="SpanTypeRules.IsModelCall"/>) among the spans a
/// transaction inserted add to the usage rollups: calls, errors, every token kind, cost, a latency sketch
/// and a sketch of the time to first token of the calls that carry one (migration 0014) per bucket and dimensions. Written by <see cref="SpanBatchWriter"/> in the spans' own
/// transaction, from the rows it actually inserted, so a re-delivered span never counts twice. Each
/// level is one upsert statement over its rows in key order: replicas writing the same buckets at once
/// lock rows in the same order (no deadlock) and add under the row lock (no lost count).
/// </summary>
internal sealed class LlmRollup
{
    private const string Max = "9223372036854775807";

    /// <summary>The longest model, provider, service or user a rollup keys by (the query filters' own limit).</summary>
    public const int MaxDimensionLength = 256;

    private static readonly string[] Counters =
        ["calls", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_micros"];

    public long Calls { get; private set; }
    public long Errors { get; private set; }
    public long InputTokens { get; private set; }
    public long OutputTokens { get; private set; }
    public long CacheReadTokens { get; private set; }
    public long CacheCreationTokens { get; private set; }
    public long ReasoningTokens { get; private set; }
    public long CostMicros { get; private set; }

    /// <summary>Latency sketch: <see cref="LatencySketch.Bin"/> → calls.</summary>
    public SortedDictionary<int, long> Latency { get; } = [];

    /// <summary>Time to first token sketch of the calls that carry one: <see cref="LatencySketch.Bin"/> → calls.</summary>
    public SortedDictionary<int, long> TimeToFirstToken { get; } = [];

    /// <summary>The rollup rows of one level for the given (inserted) rows, keyed and in key order.</summary>
    public static SortedList<LlmUsageKey, LlmRollup> Of(IEnumerable<SpanRow> rows, LlmUsageLevel level)
    {
        var rollups = new SortedList<LlmUsageKey, LlmRollup>(KeyOrder.Instance);
        foreach (var row in rows)
        {
            if (!row.SpanType.IsModelCall())
            {
                continue;
            }

            var key = new LlmUsageKey(
                row.ProjectId,
                level.Bucket(row.StartTime),
                Dimension(row.GenAi.ResponseModel ?? row.GenAi.RequestModel),
                Dimension(row.GenAi.LlmSystem),
                level.ByService ? Dimension(row.ServiceName) : "",
                row.SpanType.ToColumn(),
                level.ByUser ? Dimension(row.GenAi.UserId) : "");
            if (!rollups.TryGetValue(key, out var rollup))
            {
                rollup = new LlmRollup();
                rollups.Add(key, rollup);
            }

            rollup.Add(row);
        }

        return rollups;
    }

    public void Add(SpanRow row)
    {
        Calls++;
        Errors += row.IsError ? 1 : 0;
        InputTokens = Saturating(InputTokens, row.GenAi.InputTokens);
        OutputTokens = Saturating(OutputTokens, row.GenAi.OutputTokens);
        CacheReadTokens = Saturating(CacheReadTokens, row.GenAi.CacheReadTokens);
        CacheCreationTokens = Saturating(CacheCreationTokens, row.GenAi.CacheCreationTokens);
        ReasoningTokens = Saturating(ReasoningTokens, row.GenAi.ReasoningTokens);
        CostMicros = Saturating(CostMicros, row.CostMicros);
        var bin = LatencySketch.Bin(Math.Max(0, row.EndUnixNano - row.StartUnixNano));
        Latency[bin] = Latency.GetValueOrDefault(bin) + 1;
        if (row.GenAi.TimeToFirstTokenNanos is { } ttft)
        {
            var ttftBin = LatencySketch.Bin(ttft);
            TimeToFirstToken[ttftBin] = TimeToFirstToken.GetValueOrDefault(ttftBin) + 1;
        }
    }

    /// <summary>Adds the upserts of every level for the rows a transaction inserted (nothing when they hold no model call).</summary>
    public static void AddTo(NpgsqlBatch batch, IReadOnlyList<SpanRow> inserted)
    {
        foreach (var level in LlmUsageLevel.All)
        {
            var rollups = Of(inserted, level);
            if (rollups.Count > 0)
            {
                batch.BatchCommands.Add(Command(level, rollups));
            }
        }
    }

    private static NpgsqlBatchCommand Command(LlmUsageLevel level, SortedList<LlmUsageKey, LlmRollup> rollups)
    {
        var keys = rollups.Keys;
        var values = rollups.Values;
        var latency = Packed(values, r => r.Latency);
        var ttft = Packed(values, r => r.TimeToFirstToken);
        var command = new NpgsqlBatchCommand(UpsertSql(level))
        {
            Parameters =
            {
                SpanBatchWriter.Array(Enumerable.Range(0, rollups.Count), NpgsqlDbType.Integer),
                SpanBatchWriter.Array(keys.Select(k => k.ProjectId), NpgsqlDbType.Uuid),
                SpanBatchWriter.Array(keys.Select(k => k.Bucket), NpgsqlDbType.TimestampTz),
                SpanBatchWriter.Array(keys.Select(k => k.Model), NpgsqlDbType.Text),
                SpanBatchWriter.Array(keys.Select(k => k.Provider), NpgsqlDbType.Text),
                SpanBatchWriter.Array(keys.Select(k => k.Service), NpgsqlDbType.Text),
                SpanBatchWriter.Array(keys.Select(k => k.SpanType), NpgsqlDbType.Text),
                SpanBatchWriter.Array(keys.Select(k => k.UserId), NpgsqlDbType.Text),
                SpanBatchWriter.Array(values.Select(r => r.Calls), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.Errors), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.InputTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.OutputTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.CacheReadTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.CacheCreationTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.ReasoningTokens), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(values.Select(r => r.CostMicros), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(latency.Select(l => l.Index), NpgsqlDbType.Integer),
                SpanBatchWriter.Array(latency.Select(l => l.Packed), NpgsqlDbType.Bigint),
                SpanBatchWriter.Array(ttft.Select(l => l.Index), NpgsqlDbType.Integer),
                SpanBatchWriter.Array(ttft.Select(l => l.Packed), NpgsqlDbType.Bigint),
            },
        };
        return command;
    }

    /// <summary>The entries of one sketch of every rollup, each with the index of its rollup.</summary>
    private static List<(int Index, long Packed)> Packed(IList<LlmRollup> rollups, Func<LlmRollup, SortedDictionary<int, long>> sketch)
        => [.. rollups.SelectMany((r, i) => sketch(r).Select(b => (Index: i, Packed: LatencySketch.Pack(b.Key, b.Value))))];

    private static readonly Dictionary<LlmUsageLevel, string> Sql = LlmUsageLevel.All.ToDictionary(level => level, Upsert);

    private static string UpsertSql(LlmUsageLevel level) => Sql[level];

    private static string Upsert(LlmUsageLevel level)
    {
        var dimensions = level.Dimensions;
        var key = string.Join(", ", dimensions);
        var sums = string.Join(",\n            ", Counters.Select(c => $"{c} = least(r.{c}::numeric + EXCLUDED.{c}, {Max})::bigint"));
        const string sketch = "array_agg(packed ORDER BY packed)";
        var (latency, empty, isEmpty) = level.SketchAsBytes
            ? ($"telemetry.latency_sketch_bytes({sketch})", "''::bytea", "length(EXCLUDED.time_to_first_token) = 0")
            : (sketch, "'{}'::bigint[]", "cardinality(EXCLUDED.time_to_first_token) = 0");
        // Most calls carry no time to first token: an empty incoming sketch leaves the stored one as it is.
        return $"""
            INSERT INTO {level.Table} AS r ({key}, {string.Join(", ", Counters)}, latency, time_to_first_token)
            SELECT {string.Join(", ", dimensions.Select(d => "b." + d))}, {string.Join(", ", Counters.Select(c => "b." + c))},
                   coalesce(l.latency, {empty}), coalesce(t.sketch, {empty})
            FROM unnest($1::int[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                        $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[])
                AS b(idx, project_id, bucket, model, provider, service, span_type, user_id, {string.Join(", ", Counters)})
            LEFT JOIN (SELECT idx, {latency} AS latency
                       FROM unnest($17::int[], $18::bigint[]) AS s(idx, packed) GROUP BY idx) l USING (idx)
            LEFT JOIN (SELECT idx, {latency} AS sketch
                       FROM unnest($19::int[], $20::bigint[]) AS s(idx, packed) GROUP BY idx) t USING (idx)
            ORDER BY {string.Join(", ", dimensions.Select(d => "b." + d))}
            ON CONFLICT ({key}) DO UPDATE SET
                {sums},
                latency = telemetry.latency_sketch_merge(r.latency, EXCLUDED.latency),
                time_to_first_token = CASE WHEN {isEmpty} THEN r.time_to_first_token
                                           ELSE telemetry.latency_sketch_merge(r.time_to_first_token, EXCLUDED.time_to_first_token) END
            """;
    }

    /// <summary>
    /// A dimension as the rollup keys it: '' for none, else at most <see cref="MaxDimensionLength"/> characters
    /// (a whole surrogate pair or none). A client can send a 64 KiB model name; a key that long would not fit
    /// a B-tree entry and would refuse the whole batch.
    /// </summary>
    internal static string Dimension(string? value)
        => value is null ? "" : value.Length <= MaxDimensionLength ? value
            : value[..(char.IsHighSurrogate(value[MaxDimensionLength - 1]) ? MaxDimensionLength - 1 : MaxDimensionLength)];

    /// <summary>Adds without overflowing, as the trace rollup does: absurd client-sent counts must not make a batch unstorable.</summary>
    private static long Saturating(long total, long? value)
        => value is not { } v ? total : v > long.MaxValue - total ? long.MaxValue : total + v;

    /// <summary>Any total order will do for grouping; the statement itself sorts the rows it locks.</summary>
    private sealed class KeyOrder : IComparer<LlmUsageKey>
    {
        public static readonly KeyOrder Instance = new();

        public int Compare(LlmUsageKey x, LlmUsageKey y)
        {
            var c = x.ProjectId.CompareTo(y.ProjectId);
            c = c != 0 ? c : x.Bucket.CompareTo(y.Bucket);
            c = c != 0 ? c : string.CompareOrdinal(x.Model, y.Model);
            c = c != 0 ? c : string.CompareOrdinal(x.Provider, y.Provider);
            c = c != 0 ? c : string.CompareOrdinal(x.Service, y.Service);
            c = c != 0 ? c : string.CompareOrdinal(x.SpanType, y.SpanType);
            return c != 0 ? c : string.CompareOrdinal(x.UserId, y.UserId);
        }
    }
}
