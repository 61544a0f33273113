using System.Diagnostics;
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

    /// <summary>Starts sending GenAI batches of 1,000 spans at <paramref name="spansPerSecond"/>.</summary>
    public static RunningLoad Start(EndToEndStack stack, double spansPerSecond, int senders = 4, string? apiKey = null, LoadTransport transport = LoadTransport.HttpProtobuf)
        => new(stack, new LoadDriver(stack.Target(apiKey), new LoadSettings
        {
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

    /// <summary>Stops sending, lets the requests in flight settle, waits for the processor to store everything, and counts.</summary>
    public async Task<DeliveryCount> StopDrainAndCountAsync(TimeSpan? drainTimeout = null)
    {
        await _stop.CancelAsync();
        await _running.WaitAsync(TimeSpan.FromMinutes(3));
        using var lag = _stack.CreateLagReader();
        ConsumerLagText last = new(null);
        var drained = await lag.WaitDrainedAsync(drainTimeout ?? TimeSpan.FromSeconds(90), reading => last = new(reading));
        Assert.True(drained, $"the pipeline did not drain: {last}; {Describe()}\n{_stack.LogTail(40, "processor")}");
        return await DeliveryCount.CountAsync(_stack.Postgres, _stack.ProjectId, Driver.Ids, Driver.Template, Driver.Ledger);
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
