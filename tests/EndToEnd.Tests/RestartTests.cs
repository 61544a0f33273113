using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Fault 4: the gateway restarted, ingest restarted, and ingest killed (SIGKILL) and started, all under load.
/// Clients see refused connections and 502s and retry; nothing ingest acknowledged is lost, because it
/// acknowledges only what Kafka holds.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RestartTests(EndToEndStack stack, ITestOutputHelper output) : IAsyncLifetime
{
    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    /// <summary>The restarts leave retried requests as a backlog and connections to renew behind; the next class finds the stack as it expects.</summary>
    public Task DisposeAsync() => stack.WaitForBaselineAsync();

    [Fact]
    public async Task GatewayAndIngestRestartsDuringLoad_NeverLoseAnAcknowledgedSpan()
    {
        await using var load = RunningLoad.Start(stack, spansPerSecond: 3000);
        await load.WaitForAcknowledgedAsync(3000);

        await stack.App.RestartResourceAsync("gateway");
        await load.WaitForAcknowledgedAsync(3000);
        await stack.App.RestartResourceAsync("ingest");
        await load.WaitForAcknowledgedAsync(3000);
        var retriesBeforeKill = load.Progress.Retries;
        await stack.App.KillResourceAsync("ingest");
        await Task.Delay(1000);
        await stack.App.StartResourceAsync("ingest");
        await load.WaitForAcknowledgedAsync(3000);
        var count = await load.StopDrainAndCountAsync();
        output.WriteLine($"{count}; {load.Describe()}");

        Assert.True(load.Progress.Retries > retriesBeforeKill, $"no request had to be retried while ingest was down: {load.Describe()}");
        load.AssertExactlyOnce(count);
    }
}
