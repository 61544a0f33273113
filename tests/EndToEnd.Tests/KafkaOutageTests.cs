using System.Collections.Concurrent;
using Xunit.Abstractions;
using Trulayer.Workload.Load;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Fault 3: the broker unreachable. Ingest answers 503 (gRPC UNAVAILABLE) with a retry delay once its
/// produce timeout has passed, rather than leave the request hanging, acknowledges nothing of such a
/// request, and takes spans again by itself once the broker is back, without a restart.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class KafkaOutageTests(EndToEndStack stack, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>
    /// The latest a refusal may come: what is tested is that the request is answered, not left hanging. Ingest
    /// answers when librdkafka gives up on the records (it looks at their timeouts about once a second) or a
    /// second after the produce timeout, and the answer then goes through the gateway: on a busy two-core
    /// machine that can take a few seconds more than the produce timeout.
    /// </summary>
    private static readonly TimeSpan AnswerWithin = EndToEndStack.ProduceTimeout + TimeSpan.FromSeconds(10);

    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    /// <summary>The outage can leave clients reconnecting and a backlog behind; the next class finds the stack as it expects.</summary>
    public Task DisposeAsync() => stack.WaitForBaselineAsync();

    [Fact]
    public async Task KafkaUnreachable_IngestAnswersUnavailableAfterItsProduceTimeoutAndRecoversByItself()
    {
        var ingestPid = stack.App.GetProcessId("ingest");
        var ingestRestarts = stack.App.GetRestartCount("ingest");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var healthy = await SendOnceAsync(LoadTransport.HttpProtobuf);
        Assert.Equal("200", healthy.Attempts.Single().Status);

        await stack.App.StopResourceAsync("kafka");
        SingleRequest http, grpc;
        try
        {
            http = await SendOnceAsync(LoadTransport.HttpProtobuf);
            grpc = await SendOnceAsync(LoadTransport.Grpc);
        }
        finally
        {
            await stack.App.StartResourceAsync("kafka");
        }

        output.WriteLine($"{clock.Elapsed}: broker back up");
        var refused = http.Attempts.Single();
        Assert.Equal("503", refused.Status);
        AssertAnsweredAfterTheProduceTimeout(refused);
        Assert.True(refused.ServerDelay > TimeSpan.Zero, "the 503 carries no Retry-After");
        Assert.Contains("Kafka", refused.Message, StringComparison.Ordinal);
        Assert.Contains("nothing of this request is acknowledged", refused.Message, StringComparison.Ordinal);
        var unavailable = grpc.Attempts.Single();
        Assert.Equal("grpc 14", unavailable.Status);
        AssertAnsweredAfterTheProduceTimeout(unavailable);
        Assert.True(unavailable.ServerDelay > TimeSpan.Zero, "UNAVAILABLE carries no grpc-retry-pushback-ms");

        // Back by itself: the same ingest process takes spans again (librdkafka reconnects with backoff).
        var recovered = await SendUntilAcknowledgedAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"{clock.Elapsed}: ingest takes spans again");
        Assert.Equal(ingestPid, stack.App.GetProcessId("ingest"));
        Assert.Equal(ingestRestarts, stack.App.GetRestartCount("ingest"));

        using var lag = stack.CreateLagReader();
        Assert.True(await lag.WaitDrainedAsync(TimeSpan.FromSeconds(60)), "the pipeline did not drain after the outage:\n" + stack.LogTail(40, "processor", "ingest"));
        output.WriteLine($"{clock.Elapsed}: drained");

        foreach (var request in new[] { http, grpc })
        {
            var count = await CountAsync(request.Driver);
            Assert.Equal(0, count.AcknowledgedSpans);
            Assert.True(count.StoredUnacknowledged == 0, $"spans of a request answered {request.Attempts.Single().Status} were stored: {count}");
        }

        foreach (var driver in new[] { healthy.Driver, recovered })
        {
            var count = await CountAsync(driver);
            Assert.True(count.AcknowledgedSpans > 0 && count.IsExact, count.ToString());
        }
    }

    /// <summary>Not before the produce timeout (ingest waited for Kafka, nothing else refused it), and not hanging.</summary>
    private static void AssertAnsweredAfterTheProduceTimeout(ExportAttempt attempt)
        => Assert.True(attempt.Latency >= EndToEndStack.ProduceTimeout && attempt.Latency <= AnswerWithin,
            $"{attempt.Status} after {attempt.Latency}, not between the produce timeout ({EndToEndStack.ProduceTimeout}) and {AnswerWithin}");

    private sealed record SingleRequest(LoadDriver Driver, IReadOnlyList<ExportAttempt> Attempts);

    /// <summary>One request, one attempt (no retries), through the gateway.</summary>
    private async Task<SingleRequest> SendOnceAsync(LoadTransport transport)
    {
        var driver = new LoadDriver(stack.Target(), new LoadSettings
        {
            Transport = transport,
            Senders = 1,
            MaxSpans = 1000,
            RequestTimeout = TimeSpan.FromSeconds(30),
            Retry = new RetryPolicy { GiveUpAfter = TimeSpan.Zero },
        });
        var attempts = new ConcurrentQueue<ExportAttempt>();
        driver.Attempted += (_, attempt) => attempts.Enqueue(attempt);
        await driver.RunAsync(CancellationToken.None);
        return new SingleRequest(driver, [.. attempts]);
    }

    /// <summary>A request a second, each tried once, until three in a row are acknowledged.</summary>
    private async Task<LoadDriver> SendUntilAcknowledgedAsync(TimeSpan timeout)
    {
        var driver = new LoadDriver(stack.Target(), new LoadSettings
        {
            Senders = 1,
            SpansPerSecond = 1000,
            RequestTimeout = TimeSpan.FromSeconds(30),
            Retry = new RetryPolicy { GiveUpAfter = TimeSpan.Zero },
        });
        var inARow = 0;
        using var stop = new CancellationTokenSource(timeout);
        driver.Attempted += (_, attempt) =>
        {
            inARow = attempt.Outcome == AttemptOutcome.Accepted ? inARow + 1 : 0;
            if (inARow >= 3)
            {
                stop.Cancel();
            }
        };
        await driver.RunAsync(stop.Token);
        Assert.True(inARow >= 3, $"ingest did not take spans again within {timeout.TotalSeconds:0} s after the broker came back: " +
                                 string.Join(", ", driver.Progress.Snapshot().Statuses.Select(s => $"{s.Key}×{s.Value}")));
        return driver;
    }

    private Task<DeliveryCount> CountAsync(LoadDriver driver)
        => DeliveryCount.CountAsync(stack.Postgres, stack.ProjectId, driver.Ids, driver.Template, driver.Ledger);
}
