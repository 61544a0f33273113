using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>The end-to-end stack with two processes of ingest and two of the processor (<c>--replicas ingest=2,processor=2</c>).</summary>
public sealed class ReplicaStack : EndToEndStack
{
    protected override IReadOnlyDictionary<string, int> Replicas { get; } = new Dictionary<string, int> { ["ingest"] = 2, ["processor"] = 2 };
}

/// <summary>
/// More than one of each: under load, each replica is restarted in turn, and one processor is killed
/// (SIGKILL) while its consumer group rebalances. The gateway balances over both ingest replicas, so
/// each restart of one costs clients retries, never a span; the processors share the spans topic's
/// partitions, and the survivor takes over the killed one's once its session expires. Runs in the
/// end-to-end collection (so never beside another stack under load) on a stack of its own.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ReplicaTests(ReplicaStack stack, ITestOutputHelper output) : IClassFixture<ReplicaStack>, IAsyncLifetime
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task ReplicasRestartedInTurnAndAProcessorKilledDuringARebalance_EveryAcknowledgedSpanStoredOnce()
    {
        Assert.Equal(["ingest-1", "ingest-2"], stack.App.GetReplicas("ingest"));
        Assert.Equal(["processor-1", "processor-2"], stack.App.GetReplicas("processor"));
        var gateway = stack.App.GetEnvironment("gateway");
        foreach (var (replica, index) in stack.App.GetReplicas("ingest").Select((r, i) => (r, i)))
        {
            Assert.Equal(stack.App.GetEndpoint(replica).ToString().TrimEnd('/'), gateway[$"services__ingest__http__{index}"]);
            Assert.Equal(stack.App.GetEndpoint(replica, "grpc").ToString().TrimEnd('/'), gateway[$"services__ingest__grpc__{index}"]);
            Assert.Equal(replica, stack.App.GetEnvironment(replica)["TRULAYER_INSTANCE"]);
        }

        Assert.DoesNotContain("services__ingest__http__2", gateway.Keys);
        await using var load = RunningLoad.Start(stack, spansPerSecond: 3000);
        await load.WaitForAcknowledgedAsync(3000);
        await WaitUntilGatewayReachesEveryIngestAsync(load);
        Assert.All(stack.App.GetReplicas("processor"), processor => Assert.True(PartitionsOwned(processor) > 0, $"{processor} owns no partition: {stack.LogTail(20, "processor")}"));

        foreach (var replica in (string[])["ingest-1", "ingest-2", "processor-1"])
        {
            var retries = load.Progress.Retries;
            await stack.App.RestartResourceAsync(replica);
            await load.WaitForAcknowledgedAsync(3000);
            await load.WaitUntilProcessorsCommitAsync(StepTimeout);
            output.WriteLine($"{replica} restarted: {load.Progress.Retries - retries} retries meanwhile");
        }

        // processor-2 leaves (its partitions go to processor-1), then joins again: while the group rebalances
        // for that join, processor-1 is killed. The group waits for it until its session (10 s) expires, then
        // processor-2 owns every partition, the killed member's uncommitted records included.
        await stack.App.StopResourceAsync("processor-2");
        await WaitUntilAsync("processor-1 to own every partition after processor-2 left", () => PartitionsOwned("processor-1") == EndToEndStack.SpansPartitions);
        var linesBefore = stack.Log.Lines.Count();
        // Not awaited yet: processor-2 joins the group as it starts, maybe before its /health answers.
        var starting = stack.App.StartResourceAsync("processor-2");
        await WaitUntilAsync("processor-1 to give up its partitions for processor-2's join", () => LinesSince(linesBefore).Any(l => IsProcessorLine(l, "processor-1", "revoked")));
        await stack.App.KillResourceAsync("processor-1");
        await starting;
        Assert.False(
            LinesSince(linesBefore).SkipWhile(l => !IsProcessorLine(l, "processor-1", "revoked")).Any(l => IsProcessorLine(l, "processor-1", "Assigned")),
            "processor-1 was assigned partitions again before it was killed: the kill did not fall within the rebalance");
        await WaitUntilAsync("processor-2 to own every partition once the killed member's session expired", () => PartitionsOwned("processor-2") == EndToEndStack.SpansPartitions);
        await load.WaitUntilProcessorsCommitAsync(StepTimeout);
        await stack.App.StartResourceAsync("processor-1");
        await load.WaitForAcknowledgedAsync(3000);

        var count = await load.StopDrainAndCountAsync();
        output.WriteLine($"{count}; {load.Describe()}");
        load.AssertExactlyOnce(count);
        await load.AssertTraceAggregatesAsync();
    }

    /// <summary>The gateway holds connections to each ingest replica's HTTP port: it balances the load over them.</summary>
    private async Task WaitUntilGatewayReachesEveryIngestAsync(RunningLoad load)
    {
        var gateway = stack.App.GetProcessId("gateway") ?? throw new InvalidOperationException("the gateway is not running");
        var ports = stack.App.GetReplicas("ingest").ToDictionary(r => r, r => stack.App.GetEndpoint(r).Port);
        var reached = new HashSet<string>();
        var waited = Stopwatch.StartNew();
        while (reached.Count < ports.Count)
        {
            var remote = ConnectedPorts(gateway);
            reached.UnionWith(ports.Where(p => remote.Contains(p.Value)).Select(p => p.Key));
            Assert.True(
                waited.Elapsed < StepTimeout,
                $"the gateway sent nothing to {string.Join(", ", ports.Keys.Except(reached))} in {StepTimeout.TotalSeconds:0} s of load: it must balance over every " +
                $"services__ingest__http__N it is given; {load.Describe()}");
            await Task.Delay(200);
        }
    }

    /// <summary>How many partitions a processor owns now, as its last assignment or revocation line says ("...; N in all", "...; N left").</summary>
    private int PartitionsOwned(string processor)
    {
        var last = stack.Log.Lines.LastOrDefault(l => IsProcessorLine(l, processor, "in all") || IsProcessorLine(l, processor, "left"));
        if (last is null)
        {
            return 0;
        }

        var words = last.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return int.Parse(words[Array.FindLastIndex(words, w => w is "in" or "left") - 1], CultureInfo.InvariantCulture);
    }

    private static bool IsProcessorLine(string line, string processor, string text)
        => line.StartsWith(processor + "|", StringComparison.Ordinal) && line.Contains("SpanPipeline[130", StringComparison.Ordinal) && line.Contains(text, StringComparison.Ordinal);

    private IEnumerable<string> LinesSince(int count) => stack.Log.Lines.Skip(count);

    private async Task WaitUntilAsync(string goal, Func<bool> reached)
    {
        var waited = Stopwatch.StartNew();
        while (!reached())
        {
            Assert.True(waited.Elapsed < StepTimeout, $"waited {StepTimeout.TotalSeconds:0} s for {goal}:\n{stack.LogTail(30, "processor", "apphost")}");
            await Task.Delay(100);
        }
    }

    /// <summary>The remote ports of the established TCP connections of process <paramref name="pid"/> (its sockets in /proc/&lt;pid&gt;/fd, looked up in /proc/net/tcp).</summary>
    private static HashSet<int> ConnectedPorts(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target[8..^1]);
            }
        }

        var ports = new HashSet<int>();
        foreach (var table in (string[])[$"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6"])
        {
            // sl local_address rem_address st ... inode: "0100007F:5BA0 0100007F:4E21 01 ..."; state 01 is ESTABLISHED.
            foreach (var fields in File.ReadLines(table).Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            {
                if (fields.Length > 9 && fields[3] == "01" && inodes.Contains(fields[9]))
                {
                    ports.Add(int.Parse(fields[2][(fields[2].LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }
        }

        return ports;
    }
}
