using Confluent.Kafka;
using Npgsql;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;
using Trulayer.ServiceDefaults.Kafka;
using Trulayer.Workload;
using static Trulayer.Processor.Tests.LogRecords;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>Processor.Worker as a real process (started by the AppHost's orchestrator), killed with SIGKILL mid-batch (of spans, of log records).</summary>
public sealed class ProcessorCrashTests : IAsyncLifetime
{
    private readonly MemoryLogSink _log = new();
    private string _state = "";
    private DistributedApplication? _app;

    private DistributedApplication App => _app!;

    public async Task InitializeAsync()
    {
        var builder = new AppModelBuilder();
        var password = builder.AddParameter("postgres-password", secret: true, generate: () => Guid.NewGuid().ToString("N"));
        var postgres = builder.AddPostgres("postgres", password);
        // Wide enough that 10,000 GenAI spans stay far below the dev broker's 5 MiB per partition.
        var kafka = builder.AddKafka("kafka").WithTopic(KafkaTopics.Spans, 64).WithTopic(KafkaTopics.DeadLetter, 2)
            .WithTopic(KafkaTopics.Logs, 8).WithTopic(KafkaTopics.LogsDeadLetter, 1).WaitFor(postgres);
        builder.AddProject("processor", "Processor.Worker")
            .WithHttpEndpoint()
            .WithReference(postgres)
            .WithReference(kafka)
            // A killed member holds its partitions until its session expires: keep that short.
            .WithEnvironment("Kafka__Consumer__session.timeout.ms", "6000")
            .WithEnvironment("Processor__BatchMaxWait", "00:00:00.050")
            .WithEnvironment("Identity__AssertionKey", TestIdentity.AssertionKey)
            .WaitFor(kafka);

        _state = TestDirectories.Create("crash");
        _app = await DistributedApplication.StartAsync(builder.Build(), new RunOptions
        {
            StateDirectory = _state,
            DurablePostgres = false,
            RestartOnCrash = false,
            StopGracePeriod = TimeSpan.FromSeconds(10),
            DrainTimeout = TimeSpan.FromSeconds(5),
        }, _log);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
        }

        TestDirectories.TryDelete(_state);
    }

    [Fact]
    public async Task KilledMidBatchThenRestarted_LosesAndDuplicatesNothing()
    {
        await using var db = NpgsqlDataSource.Create(App.GetConnectionString("postgres"));
        var kafka = new KafkaFixtureView(App.GetConnectionString("kafka"));
        var project = Guid.NewGuid();
        var requests = Enumerable.Range(0, 10).Select(_ => StandardBatch.GenAi()).ToList();
        var messages = requests.Select(r => SpanRecords.FromRequest(project, r)).ToList();

        // The first half is stored and committed before the crash.
        await kafka.ProduceAsync(messages.Take(5).SelectMany(m => m));
        await kafka.WaitUntilDrainedAsync(_log);
        Assert.Equal(5000, await Count(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));

        // Hold the trace rows so the next batch stops inside its transaction, after its COPY.
        await using (var blocker = await db.OpenConnectionAsync())
        {
            await using (var begin = new NpgsqlCommand("BEGIN; LOCK TABLE telemetry.traces IN EXCLUSIVE MODE", blocker))
            {
                await begin.ExecuteNonQueryAsync();
            }

            await kafka.ProduceAsync(messages.Skip(5).SelectMany(m => m));
            await WaitForAsync(async () => await Count(db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO telemetry.traces%'") >= 1,
                "the processor's batch never reached the trace rows");

            await App.KillResourceAsync("processor");

            await using var commit = new NpgsqlCommand("COMMIT", blocker);
            await commit.ExecuteNonQueryAsync();
        }

        Assert.Equal(5000, await Count(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));

        await App.StartResourceAsync("processor");
        await kafka.WaitUntilDrainedAsync(_log);

        var spans = requests.SelectMany(r => r.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();
        Assert.Equal(10_000, await Count(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(10_000, await Count(db, $"SELECT count(DISTINCT (trace_id, span_id)) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(100, await Count(db, $"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}' AND span_count = 100"));
        Assert.Equal(spans.SelectMany(s => s.Attributes).Where(a => a.Key == "gen_ai.usage.output_tokens").Sum(a => a.Value.IntValue),
            await Count(db, $"SELECT sum(output_tokens) FROM telemetry.traces WHERE project_id = '{project}'"));
        Assert.Equal(await Count(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING')"),
            await LlmUsageFacts.CallsAsync(db, project));
        Assert.Equal(0, await LlmUsageFacts.MismatchesAsync(db, project));
    }

    [Fact]
    public async Task KilledMidLogBatchThenRestarted_LosesAndDuplicatesNothing()
    {
        await using var db = NpgsqlDataSource.Create(App.GetConnectionString("postgres"));
        var kafka = new KafkaFixtureView(App.GetConnectionString("kafka"), KafkaTopics.Logs);
        var project = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        Message<byte[]?, byte[]?> Batch(int part, int trace)
        {
            var traceId = Id(16);
            // Each part's own service: its resource is new, so its batch inserts a resource row after its COPY.
            return Record(project, traceId, $"service-{part}", Enumerable.Range(0, 100).Select(i => Log(now.AddMilliseconds((part * 50) + trace), $"{part}.{trace}.{i}", traceId, Id(8))));
        }

        await kafka.ProduceAsync(Enumerable.Range(0, 50).Select(t => Batch(0, t)));
        await kafka.WaitUntilDrainedAsync(_log);
        Assert.Equal(5000, await Count(db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));

        // Hold the resources so the next batch stops inside its transaction, after its COPY.
        await using (var blocker = await db.OpenConnectionAsync())
        {
            await using (var begin = new NpgsqlCommand("BEGIN; LOCK TABLE telemetry.resources IN EXCLUSIVE MODE", blocker))
            {
                await begin.ExecuteNonQueryAsync();
            }

            await kafka.ProduceAsync(Enumerable.Range(0, 50).Select(t => Batch(1, t)));
            await WaitForAsync(async () => await Count(db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO telemetry.resources%'") >= 1,
                "the processor's batch never reached the resource rows");

            await App.KillResourceAsync("processor");

            await using var commit = new NpgsqlCommand("COMMIT", blocker);
            await commit.ExecuteNonQueryAsync();
        }

        Assert.Equal(5000, await Count(db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));

        await App.StartResourceAsync("processor");
        await kafka.WaitUntilDrainedAsync(_log);

        Assert.Equal(10_000, await Count(db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
        Assert.Equal(10_000, await Count(db, $"SELECT count(DISTINCT body_text) FROM telemetry.logs WHERE project_id = '{project}'"));
    }

    private static async Task<long> Count(NpgsqlDataSource db, string sql) => await ProcessorHost.CountAsync(db, sql);

    private async Task WaitForAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{failure}\n{_log.Tail()}");
    }

    /// <summary>Produces to and reads the lag of the stack's broker.</summary>
    private sealed class KafkaFixtureView(string bootstrapServers, string topic = KafkaTopics.Spans)
    {
        private readonly KafkaClientFactory _factory = new(
            Microsoft.Extensions.Options.Options.Create(new KafkaOptions { BootstrapServers = bootstrapServers }),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        public async Task ProduceAsync(IEnumerable<Confluent.Kafka.Message<byte[]?, byte[]?>> messages)
        {
            using var producer = _factory.CreateProducer<byte[]?, byte[]?>("test");
            foreach (var message in messages)
            {
                await producer.ProduceAsync(topic, message);
            }
        }

        public async Task WaitUntilDrainedAsync(MemoryLogSink log)
        {
            using var reader = new ConsumerLagReader(_factory, topic);
            var deadline = DateTime.UtcNow.AddSeconds(90);
            long left = -1;
            while (DateTime.UtcNow < deadline)
            {
                left = reader.Read(TimeSpan.FromSeconds(5)).TotalRecords;
                if (left == 0)
                {
                    return;
                }

                await Task.Delay(200);
            }

            throw new TimeoutException($"the processor left {left} records uncommitted\n{log.Tail()}");
        }
    }
}
