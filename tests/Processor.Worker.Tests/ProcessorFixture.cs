namespace Trulayer.Processor.Tests;

/// <summary>A test database, a dev broker and Processor.Worker running on them, shared by one test class.</summary>
public sealed class ProcessorFixture : IAsyncLifetime
{
    private ProcessorHost? _host;

    public DatabaseFixture Database { get; } = new();

    public KafkaFixture Kafka { get; } = new();

    internal ProcessorHost Host => _host ?? throw new InvalidOperationException("the processor has not started");

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        _host = new ProcessorHost(Database.ConnectionString, Kafka.BootstrapServers).Start();
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
