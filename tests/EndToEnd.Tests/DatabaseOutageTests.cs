using System.Diagnostics;
using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Fault 2: PostgreSQL stopped for 10 s under load. Ingest does not need the database: it keeps
/// accepting while the backlog grows, sheds load with 503 once the backlog reaches its bound (before the
/// dev broker would drop anything), and once PostgreSQL is back the processor stores it all.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DatabaseOutageTests(EndToEndStack stack, ITestOutputHelper output)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task PostgresStoppedForTenSecondsDuringLoad_IngestAcceptsThenShedsLoadThenEverythingIsStoredOnce()
    {
        // A key the gateway has not verified yet: its verdict, cached at the first request for up to
        // 30 s, outlives the outage, so the gateway needs no Auth.Api (which needs PostgreSQL) meanwhile.
        var apiKey = await stack.CreateApiKeyAsync();
        await using var load = RunningLoad.Start(stack, spansPerSecond: 4000, senders: 6, apiKey: apiKey);
        await load.WaitForAcknowledgedAsync(3000);

        await stack.App.StopResourceAsync("postgres");
        var before = load.Progress;
        var health = new List<(int StatusCode, string Status)>();
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < Outage)
        {
            var (statusCode, status, _) = await stack.HealthAsync("ingest");
            health.Add((statusCode, status));
            await Task.Delay(500);
        }

        var during = load.Progress;
        await stack.App.StartResourceAsync("postgres");
        await load.WaitForAcknowledgedAsync(4000, TimeSpan.FromSeconds(90));
        var count = await load.StopDrainAndCountAsync();
        output.WriteLine($"{count}; {load.Describe()}");

        Assert.True(during.AcknowledgedSpans > before.AcknowledgedSpans, $"ingest accepted nothing while PostgreSQL was down: {load.Describe()}");
        Assert.True(during.Status("503") > before.Status("503"), $"ingest never shed load while PostgreSQL was down: {load.Describe()}");
        Assert.Contains(load.Driver.Progress.Messages["503"], m => m.Contains("backlog is over its bound", StringComparison.Ordinal));
        Assert.All(health, h => Assert.Equal(200, h.StatusCode));
        Assert.Contains(health, h => h.Status == "Degraded");
        Assert.DoesNotContain(health, h => h.Status == "Unhealthy");
        load.AssertExactlyOnce(count);
    }
}
