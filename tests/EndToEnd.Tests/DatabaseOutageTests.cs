using System.Diagnostics;
using Trulayer.Workload.Load;
using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Fault 2: PostgreSQL stopped under load until ingest sheds it. Ingest does not need the database: it
/// keeps accepting while the backlog grows, sheds load with 503 once the backlog reaches its bound (before
/// the dev broker would drop anything), and once PostgreSQL is back the processor stores it all.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DatabaseOutageTests(EndToEndStack stack, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>How long before the load's key's verdict expires the outage must end, for PostgreSQL's start and a margin.</summary>
    internal static readonly TimeSpan BeforeTheVerdictExpires = TimeSpan.FromSeconds(5);

    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    /// <summary>The outage leaves a backlog and dead pooled connections behind; the next class finds the stack as it expects.</summary>
    public Task DisposeAsync() => stack.WaitForBaselineAsync();

    [Fact]
    public async Task PostgresStoppedDuringLoad_IngestAcceptsThenShedsLoadThenEverythingIsStoredOnce()
    {
        // A key the gateway has not verified yet: its verdict, cached at the load's first request for
        // CredentialCacheTtl, lets the load through without Auth.Api (which needs PostgreSQL) during the
        // outage, so the outage must end before the verdict expires; how long it lasts depends on how fast
        // the backlog grows, so it ends once ingest sheds load.
        var apiKey = await stack.CreateApiKeyAsync();
        var verdictAge = Stopwatch.StartNew();
        await using var load = RunningLoad.Start(stack, spansPerSecond: 4000, senders: 6, apiKey: apiKey);
        await load.WaitForAcknowledgedAsync(3000);

        await stack.App.StopResourceAsync("postgres");
        var before = load.Progress;
        var health = new List<(int StatusCode, string Status)>();
        LoadSnapshot during;
        try
        {
            while (!(health.Any(h => h.Status == "Degraded") && load.Progress.Status("503") > before.Status("503")))
            {
                Assert.True(verdictAge.Elapsed < EndToEndStack.CredentialCacheTtl - BeforeTheVerdictExpires,
                    $"ingest did not shed load (a 503 and /health Degraded) within {verdictAge.Elapsed.TotalSeconds:0} s of the load's start, " +
                    $"before the key's verdict would expire: {load.Describe()}; health {string.Join(", ", health.Select(h => h.Status).Distinct())}");
                var (statusCode, status, _) = await stack.HealthAsync("ingest");
                health.Add((statusCode, status));
                await Task.Delay(500);
            }

            during = load.Progress;
        }
        finally
        {
            await stack.App.StartResourceAsync("postgres");
        }

        output.WriteLine($"PostgreSQL was down until {verdictAge.Elapsed.TotalSeconds:0.0} s into the load");
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
