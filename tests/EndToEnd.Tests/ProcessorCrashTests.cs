using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>Fault 1: the processor killed (SIGKILL) three times while spans keep coming, and started again each time.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class ProcessorCrashTests(EndToEndStack stack, ITestOutputHelper output) : IAsyncLifetime
{
    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    /// <summary>The crashes leave a backlog behind; the next class finds the stack as it expects.</summary>
    public Task DisposeAsync() => stack.WaitForBaselineAsync();

    [Fact]
    public async Task ProcessorKilledThreeTimesDuringLoad_EveryAcknowledgedSpanStoredOnce()
    {
        await using var load = RunningLoad.Start(stack, spansPerSecond: 2500);
        await load.WaitForAcknowledgedAsync(3000);

        var killed = new HashSet<int>();
        for (var kill = 0; kill < 3; kill++)
        {
            // Killed while it writes: only once its commits move again after the last restart (a restarted
            // processor gets its partitions back only when the killed member's 10 s session has expired).
            await load.WaitUntilProcessorsCommitAsync();
            var pid = stack.App.GetProcessId("processor") ?? throw new InvalidOperationException("the processor is not running");
            await stack.App.KillResourceAsync("processor");
            killed.Add(pid);
            // Spans keep coming while it is down: ingest takes them until the backlog reaches its bound.
            await Task.Delay(TimeSpan.FromSeconds(2));
            await stack.App.StartResourceAsync("processor");
            Assert.DoesNotContain(stack.App.GetProcessId("processor") ?? 0, killed);
        }

        await load.WaitForAcknowledgedAsync(2000);
        var count = await load.StopDrainAndCountAsync();
        output.WriteLine($"{count}; {load.Describe()}");

        Assert.Equal(3, killed.Count);
        load.AssertExactlyOnce(count);
    }
}
