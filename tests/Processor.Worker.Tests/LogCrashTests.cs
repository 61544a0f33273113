using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;
using Trulayer.ServiceDefaults.Kafka;
using static Trulayer.Processor.Tests.LogRecords;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>Processor.Worker as a real process, killed with SIGKILL while a batch of log records is inside its transaction.</summary>
public sealed class LogCrashTests : IAsyncLifetime
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
        var kafka = builder.AddKafka("kafka").WithTopic(KafkaTopics.Logs, 8).WithTopic(KafkaTopics.LogsDeadLetter, 1).WaitFor(postgres);
        builder.AddProject("processor", "Processor.Worker")
            .WithHttpEndpoint()
            .WithReference(postgres)
            .WithReference(kafka)
            .WithEnvironment("Kafka__Consumer__session.timeout.ms", "6000")
            .WithEnvironment("Processor__BatchMaxWait", "00:00:00.050")
            .WaitFor(kafka);

        _state = TestDirectories.Create("log-crash");
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
        var factory = new KafkaClientFactory(
            Microsoft.Extensions.Options.Options.Create(new KafkaOptions { BootstrapServers = App.GetConnectionString("kafka") }), NullLoggerFactory.Instance);
        var project = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        Message<byte[]?, byte[]?> Batch(int part, int trace)
        {
            var traceId = Id(16);
            // Each part's own service: its resource is new, so its batch inserts a resource row after its COPY.
            return Record(project, traceId, $"service-{part}", Enumerable.Range(0, 100).Select(i => Log(now.AddMilliseconds((part * 50) + trace), $"{part}.{trace}.{i}", traceId, Id(8))));
        }

        await ProduceAsync(factory, Enumerable.Range(0, 50).Select(t => Batch(0, t)));
        await WaitUntilDrainedAsync(factory);
        Assert.Equal(5000, await Count(db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));

        // Hold the resources so the next batch stops inside its transaction, after its COPY.
        await using (var blocker = await db.OpenConnectionAsync())
        {
            await using (var begin = new NpgsqlCommand("BEGIN; LOCK TABLE telemetry.resources IN EXCLUSIVE MODE", blocker))
            {
                await begin.ExecuteNonQueryAsync();
            }

            await ProduceAsync(factory, Enumerable.Range(0, 50).Select(t => Batch(1, t)));
            await WaitForAsync(async () => await Count(db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO telemetry.resources%'") >= 1,
                "the processor's batch never reached the resource rows");

            await App.KillResourceAsync("processor");

            await using var commit = new NpgsqlCommand("COMMIT", blocker);
            await commit.ExecuteNonQueryAsync();
        }

        Assert.Equal(5000, await Count(db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));

        await App.StartResourceAsync("processor");
        await WaitUntilDrainedAsync(factory);

        Assert.Equal(10_000, await Count(db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
        Assert.Equal(10_000, await Count(db, $"SELECT count(DISTINCT body_text) FROM telemetry.logs WHERE project_id = '{project}'"));
    }

    private static async Task ProduceAsync(KafkaClientFactory factory, IEnumerable<Message<byte[]?, byte[]?>> messages)
    {
        using var producer = factory.CreateProducer<byte[]?, byte[]?>("test");
        foreach (var message in messages)
        {
            await producer.ProduceAsync(KafkaTopics.Logs, message);
        }
    }

    private async Task WaitUntilDrainedAsync(KafkaClientFactory factory)
    {
        using var reader = new ConsumerLagReader(factory, KafkaTopics.Logs);
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

        throw new TimeoutException($"the processor left {left} log records uncommitted\n{_log.Tail()}");
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
}
