using System.Collections.Concurrent;
using System.Diagnostics;
using Trulayer.Workload.Load;
using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Faults 2 and 3 with log records instead of spans (issue 14: 0 lost, 0 duplicated): PostgreSQL stopped
/// while logs keep coming, and the broker unreachable. A sustained logs load (the standard logs batches,
/// <see cref="LoadSignal.Logs"/>) runs through the gateway; afterwards every record ingest acknowledged with
/// a 200 is in telemetry.logs exactly once (<see cref="DeliveryCount.CountLogsAsync"/>). A record of a request
/// answered 503 may be stored or not, never twice: the client retries it with the same bytes. Fault 1 for
/// logs (the processor killed while it stores log batches) is Processor.Worker.Tests' ProcessorCrashTests.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class LogsFaultTests(EndToEndStack stack, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Log records a second: enough for a backlog within seconds, little enough for the shared machine.</summary>
    private const double RecordsPerSecond = 2000;

    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    /// <summary>The outage leaves a backlog and dead pooled connections behind; the next class finds the stack as it expects.</summary>
    public Task DisposeAsync() => stack.WaitForBaselineAsync();

    [Fact]
    public async Task PostgresStoppedWhileLogsAreAcknowledged_EveryAcknowledgedRecordStoredOnce()
    {
        // A key the gateway has not verified yet: its verdict, cached at the load's first request, lets the
        // load through without Auth.Api (which needs PostgreSQL) during the outage, which ends before it expires.
        var apiKey = await stack.CreateApiKeyAsync();
        var verdictAge = Stopwatch.StartNew();
        await using var load = RunningLoad.Start(stack, RecordsPerSecond, apiKey: apiKey, signal: LoadSignal.Logs);
        await load.WaitForAcknowledgedAsync(2000);

        var failedWrites = FailedLogWrites();
        await stack.App.StopResourceAsync("postgres");
        var before = load.Progress;
        LoadSnapshot during;
        long backlog = 0;
        try
        {
            // Down until the processor has failed to store a batch of log records (and retries it), and ingest has
            // acknowledged several batches meanwhile, which wait on the logs topic.
            using var lag = stack.CreateLagReader(EndToEndStack.LogsTopic);
            while (FailedLogWrites() == failedWrites || load.Progress.AcknowledgedSpans < before.AcknowledgedSpans + 5000 || backlog == 0)
            {
                Assert.True(verdictAge.Elapsed < EndToEndStack.CredentialCacheTtl - DatabaseOutageTests.BeforeTheVerdictExpires,
                    $"within {verdictAge.Elapsed.TotalSeconds:0} s of the load's start, before the key's verdict would expire, the processor did not " +
                    $"fail a logs write ({FailedLogWrites() - failedWrites} failures) or ingest did not acknowledge 5,000 log records with PostgreSQL down " +
                    $"(a backlog of {backlog} records): {load.Describe()}\n{stack.LogTail(20, "processor")}");
                backlog = (await lag.ReadAsync(TimeSpan.FromSeconds(3)))?.TotalRecords ?? 0;
                await Task.Delay(250);
            }

            during = load.Progress;
        }
        finally
        {
            await stack.App.StartResourceAsync("postgres");
        }

        output.WriteLine($"PostgreSQL was down until {verdictAge.Elapsed.TotalSeconds:0.0} s into the load; {during.AcknowledgedSpans - before.AcknowledgedSpans} " +
                         $"records acknowledged meanwhile, a backlog of {backlog} Kafka records, {FailedLogWrites() - failedWrites} failed logs writes");
        await load.WaitForAcknowledgedAsync(2000, TimeSpan.FromSeconds(90));
        var count = await load.StopDrainAndCountAsync();
        output.WriteLine($"{count}; {load.Describe()}");

        Assert.True(during.AcknowledgedSpans > before.AcknowledgedSpans, $"ingest acknowledged no log records while PostgreSQL was down: {load.Describe()}");
        load.AssertExactlyOnce(count);
    }

    /// <summary>The processor's "Could not write logs (attempt n): ...; retrying" lines so far.</summary>
    private int FailedLogWrites()
        => stack.Log.Lines.Count(l => l.StartsWith("processor", StringComparison.Ordinal) && l.Contains("Could not write logs (attempt", StringComparison.Ordinal));

    [Fact]
    public async Task KafkaStoppedWhileLogsAreSent_IngestAnswers503ThenEveryAcknowledgedRecordStoredOnce()
    {
        var clock = Stopwatch.StartNew();
        var attempts = new ConcurrentQueue<(TimeSpan Sent, TimeSpan Answered, string Status)>();
        await using var load = RunningLoad.Start(stack, RecordsPerSecond, signal: LoadSignal.Logs);
        load.Driver.Attempted += (_, attempt) => attempts.Enqueue((clock.Elapsed - attempt.Latency, clock.Elapsed, attempt.Status));
        await load.WaitForAcknowledgedAsync(2000);

        await stack.App.StopResourceAsync("kafka");
        var down = clock.Elapsed;
        TimeSpan up;
        try
        {
            // Down until three requests sent after the broker stopped have had their answer.
            while (attempts.Count(a => a.Sent >= down) < 3)
            {
                Assert.True(clock.Elapsed - down < TimeSpan.FromSeconds(30),
                    $"no three answers to logs requests within 30 s of the broker's stop: {load.Describe()}\n{stack.LogTail(20, "ingest")}");
                await Task.Delay(250);
            }
        }
        finally
        {
            up = clock.Elapsed;
            await stack.App.StartResourceAsync("kafka");
        }

        var whileDown = attempts.Where(a => a.Sent >= down && a.Answered <= up).ToList();
        output.WriteLine($"broker down from {down.TotalSeconds:0.0} s to {up.TotalSeconds:0.0} s: answers {string.Join(", ", whileDown.Select(a => a.Status))}");
        await load.WaitForAcknowledgedAsync(2000, TimeSpan.FromSeconds(60));
        var count = await load.StopDrainAndCountAsync();
        output.WriteLine($"{count}; {load.Describe()}");

        Assert.True(whileDown.Count >= 3, $"{whileDown.Count} answers to requests sent and answered while the broker was down");
        Assert.True(whileDown.All(a => a.Status == "503"),
            $"requests sent while the broker was down were answered {string.Join(", ", whileDown.Select(a => a.Status))}, not 503 each: {load.Describe()}");
        load.AssertExactlyOnce(count);
    }
}
