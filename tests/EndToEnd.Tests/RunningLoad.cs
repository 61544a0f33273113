using System.Diagnostics;
using Npgsql;
using Trulayer.Workload.Load;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// A sustained load through the gateway (the load engine of bench/Trulayer.Workload, as the load tool
/// uses it) running in the background while a test breaks something; then stopped, drained and counted.
/// </summary>
internal sealed class RunningLoad : IAsyncDisposable
{
    private readonly EndToEndStack _stack;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _running;

    private RunningLoad(EndToEndStack stack, LoadDriver driver)
    {
        _stack = stack;
        Driver = driver;
        _running = driver.RunAsync(_stop.Token, _abort.Token);
    }

    public LoadDriver Driver { get; }

    public LoadSnapshot Progress => Driver.Progress.Snapshot();

    /// <summary>
    /// Starts sending GenAI batches of 1,000 spans at <paramref name="spansPerSecond"/> (with
    /// <see cref="LoadSignal.Logs"/>: the standard logs batches of 1,000 records, at that many records a second).
    /// </summary>
    public static RunningLoad Start(
        EndToEndStack stack, double spansPerSecond, int senders = 4, string? apiKey = null, LoadTransport transport = LoadTransport.HttpProtobuf, LoadSignal signal = LoadSignal.Traces)
        => new(stack, new LoadDriver(stack.Target(apiKey), new LoadSettings
        {
            Signal = signal,
            Transport = transport,
            Senders = senders,
            SpansPerSecond = spansPerSecond,
            RequestTimeout = TimeSpan.FromSeconds(20),
            Retry = new RetryPolicy { MaxBackoff = TimeSpan.FromSeconds(4), GiveUpAfter = TimeSpan.FromMinutes(2) },
        }));

    /// <summary>Waits until <paramref name="more"/> spans beyond those acknowledged so far are acknowledged.</summary>
    public async Task WaitForAcknowledgedAsync(long more, TimeSpan? timeout = null)
    {
        var target = Progress.AcknowledgedSpans + more;
        var deadline = Stopwatch.StartNew();
        while (Progress.AcknowledgedSpans < target)
        {
            Assert.False(_running.IsCompleted, "the load stopped by itself");
            Assert.True(deadline.Elapsed < (timeout ?? TimeSpan.FromSeconds(60)), $"{more} more spans were not acknowledged in time: {Describe()}\n{_stack.LogTail(30, "processor", "ingest")}");
            await Task.Delay(200);
        }
    }

    /// <summary>Waits until the processor group's committed offsets move: whoever owns the partitions now is storing.</summary>
    public async Task WaitUntilProcessorsCommitAsync(TimeSpan? timeout = null)
    {
        using var lag = _stack.CreateLagReader();
        var first = await CommittedAsync(lag);
        var waited = Stopwatch.StartNew();
        while (await CommittedAsync(lag) <= first)
        {
            Assert.True(waited.Elapsed < (timeout ?? TimeSpan.FromSeconds(60)), $"the processor committed nothing for {waited.Elapsed.TotalSeconds:0} s: {Describe()}\n{_stack.LogTail(30, "processor")}");
            await Task.Delay(250);
        }
    }

    private static async Task<long> CommittedAsync(PipelineLag lag)
        => (await lag.ReadAsync(TimeSpan.FromSeconds(5)))?.Partitions.Sum(p => Math.Max(0, p.Committed)) ?? 0;

    /// <summary>
    /// Stops sending, lets the requests in flight settle, waits for the processor to store everything, and
    /// counts (a logs load: its log records that name a trace, <see cref="DeliveryCount.CountLogsAsync"/>).
    /// </summary>
    public async Task<DeliveryCount> StopDrainAndCountAsync(TimeSpan? drainTimeout = null)
    {
        await _stop.CancelAsync();
        await _running.WaitAsync(TimeSpan.FromMinutes(3));
        var logs = Driver.Settings.Signal == LoadSignal.Logs;
        using var lag = _stack.CreateLagReader(logs ? EndToEndStack.LogsTopic : EndToEndStack.SpansTopic);
        ConsumerLagText last = new(null);
        var drained = await lag.WaitDrainedAsync(drainTimeout ?? TimeSpan.FromSeconds(90), reading => last = new(reading));
        Assert.True(drained, $"the pipeline did not drain: {last}; {Describe()}\n{_stack.LogTail(40, "processor")}");
        return logs
            ? await DeliveryCount.CountLogsAsync(_stack.Postgres, _stack.ProjectId, Driver.Ids, Driver.Template, Driver.Ledger)
            : await DeliveryCount.CountAsync(_stack.Postgres, _stack.ProjectId, Driver.Ids, Driver.Template, Driver.Ledger);
    }

    /// <summary>Every acknowledged span stored, exactly once, and nothing foreign in the run's id range.</summary>
    public void AssertExactlyOnce(DeliveryCount count)
    {
        var context = $"{count}; {Describe()}";
        Assert.True(count.AcknowledgedSpans > 0, "nothing was acknowledged: " + context);
        Assert.True(count.Lost == 0, "acknowledged spans are missing: " + context);
        Assert.True(count.Duplicated == 0, "spans are stored more than once: " + context);
        Assert.True(count.UnknownRows == 0, "rows no request made: " + context);
        Assert.Equal(count.AcknowledgedSpans, count.StoredSpans);
        Assert.Equal(0, Progress.AbandonedRequests);
        Assert.Equal(0, Progress.RefusedRequests);
    }

    /// <summary>
    /// Every trace of the run has its telemetry.traces row, and each row agrees with the spans stored for it
    /// (count, errors, first start, last end, tokens, cost) and holds as many spans as the request sent in
    /// that trace: a span the processor wrote twice (a redelivery after a crash or a rebalance) or a rollup
    /// applied twice would show as a disagreement. Call after <see cref="StopDrainAndCountAsync"/>.
    /// </summary>
    public async Task AssertTraceAggregatesAsync()
    {
        var (low, high) = Driver.Ids.TraceIdRange;
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_stack.Postgres) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            WITH stored AS (
                SELECT trace_id, count(*) AS spans, count(*) FILTER (WHERE status_code = 2) AS errors,
                       min(start_unix_nano) AS first_start, max(end_unix_nano) AS last_end,
                       -- usage once: only model calls add theirs to the trace's totals
                       coalesce(sum(input_tokens) FILTER (WHERE span_type IN ('LLM', 'EMBEDDING')), 0) AS input_tokens,
                       coalesce(sum(output_tokens) FILTER (WHERE span_type IN ('LLM', 'EMBEDDING')), 0) AS output_tokens,
                       coalesce(sum(cost_micros) FILTER (WHERE span_type IN ('LLM', 'EMBEDDING')), 0) AS cost_micros
                FROM telemetry.spans
                WHERE project_id = $1 AND trace_id BETWEEN $2 AND $3
                GROUP BY trace_id)
            SELECT s.trace_id, s.spans, t.trace_id IS NOT NULL,
                   t.trace_id IS NOT NULL AND (t.span_count, t.error_count, t.start_unix_nano, t.end_unix_nano, t.input_tokens, t.output_tokens, t.cost_micros)
                       = (s.spans, s.errors, s.first_start, s.last_end, s.input_tokens, s.output_tokens, s.cost_micros)
            FROM stored s LEFT JOIN telemetry.traces t ON t.project_id = $1 AND t.trace_id = s.trace_id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = _stack.ProjectId });
        command.Parameters.Add(new NpgsqlParameter { Value = low });
        command.Parameters.Add(new NpgsqlParameter { Value = high });
        long traces = 0, missing = 0, disagreeing = 0, incomplete = 0;
        var traceId = new byte[16];
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                traces++;
                reader.GetGuid(0).TryWriteBytes(traceId, bigEndian: true, out _);
                var expected = Driver.Ids.TryReadTraceId(traceId, out _, out var trace) && trace < Driver.Template.TraceCount ? Driver.Template.SpansInTrace(trace) : -1;
                incomplete += reader.GetInt64(1) == expected ? 0 : 1;
                missing += reader.GetBoolean(2) ? 0 : 1;
                disagreeing += reader.GetBoolean(2) && !reader.GetBoolean(3) ? 1 : 0;
            }
        }

        var context = $"{traces} traces: {missing} without a telemetry.traces row, {disagreeing} whose row disagrees with its spans, " +
                      $"{incomplete} with another number of spans than sent; {Describe()}";
        Assert.True(missing == 0 && disagreeing == 0 && incomplete == 0, context);
        Assert.True(traces == Progress.AcknowledgedRequests * Driver.Template.TraceCount, "not every acknowledged trace is stored: " + context);
    }

    public string Describe()
    {
        var progress = Progress;
        return $"{progress.Requests} requests, {progress.AcknowledgedRequests} acknowledged, {progress.Retries} retries, {progress.AbandonedRequests} abandoned, " +
               $"{progress.RefusedRequests} refused; answers {string.Join(", ", progress.Statuses.Select(s => $"{s.Key}×{s.Value}"))}; " +
               $"messages {string.Join(" | ", Driver.Progress.Messages.SelectMany(m => m.Value.Take(2).Select(v => $"{m.Key}: {v}")))}";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _abort.CancelAsync();
        try
        {
            await _running;
        }
        catch (OperationCanceledException)
        {
        }

        Driver.Dispose();
        _stop.Dispose();
        _abort.Dispose();
    }

    private sealed record ConsumerLagText(Trulayer.ServiceDefaults.Kafka.ConsumerLag? Lag)
    {
        public override string ToString() => Lag is null ? "lag unreadable" : $"{Lag.TotalRecords} records on {Lag.Partitions.Count(p => p.Records > 0)} partitions";
    }
}
