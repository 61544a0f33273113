namespace Trulayer.Processor.Tests;

/// <summary>A test database, a dev broker and Processor.Worker running on them, shared by one test class.</summary>
public sealed class ProcessorFixture : IAsyncLifetime
{
    /// <summary>
    /// The dev broker keeps 5 MiB per partition and drops the oldest records beyond that: the spans topic
    /// of these tests is wide enough that a load of 10,000 GenAI spans, twice, stays far below it.
    /// </summary>
    public const int SpansPartitions = 64;

    private ProcessorHost? _host;

    public DatabaseFixture Database { get; } = new();

    public KafkaFixture Kafka { get; } = new();

    /// <summary>The spans topic the processor consumes.</summary>
    public string Topic { get; private set; } = "";

    /// <summary>The logs topic the processor consumes, and its dead-letter topic (this fixture's own).</summary>
    public string LogsTopic { get; private set; } = "";

    public string LogsDeadLetterTopic { get; private set; } = "";

    internal ProcessorHost Host => _host ?? throw new InvalidOperationException("the processor has not started");

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        Topic = Kafka.CreateTopic("spans", SpansPartitions);
        LogsTopic = Kafka.CreateTopic("logs");
        LogsDeadLetterTopic = Kafka.CreateTopic("logs-dlq", 1);
        _host = new ProcessorHost(Database.ConnectionString, Kafka.BootstrapServers, new Dictionary<string, string?>
        {
            ["Kafka:SpansTopic"] = Topic,
            ["Kafka:LogsTopic"] = LogsTopic,
            ["Kafka:LogsDeadLetterTopic"] = LogsDeadLetterTopic,
        }).Start();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        await Database.DisposeAsync();
        Kafka.Dispose();
    }
}
