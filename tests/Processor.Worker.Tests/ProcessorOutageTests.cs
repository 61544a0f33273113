using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using Trulayer.AppHost.Run;
using Trulayer.Workload;

namespace Trulayer.Processor.Tests;

/// <summary>A PostgreSQL cluster of this class's own, stopped while the processor has batches to write.</summary>
public sealed class ProcessorOutageTests : IAsyncLifetime, IDisposable
{
    private readonly KafkaFixture _kafka = new();
    private string _directory = "";
    private PostgresCluster? _cluster;

    public async Task InitializeAsync()
    {
        _directory = TestDirectories.Create("outage");
        _cluster = await PostgresCluster.StartAsync(
            new PostgresClusterOptions { DataDirectory = Path.Combine(_directory, "data"), Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), Durable = false },
            _ => { });
        await _cluster.CreateDatabaseIfMissingAsync("trulayer");
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.KillAsync();
        }

        TestDirectories.TryDelete(_directory);
    }

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task DatabaseDownMidStream_BatchesWaitUncommittedThenAreStoredOnce()
    {
        var connectionString = _cluster!.GetConnectionString("trulayer");
        await using var host = new ProcessorHost(connectionString, _kafka.BootstrapServers).Start();
        await using var db = NpgsqlDataSource.Create(connectionString);
        var project = Guid.NewGuid();
        var requests = Enumerable.Range(0, 6).Select(_ => StandardBatch.Lean()).ToList();
        var messages = requests.Select(r => SpanRecords.FromRequest(project, r)).ToList();

        await SpanRecords.ProduceAsync(_kafka, messages.Take(3).SelectMany(m => m));
        await ProcessorHost.WaitUntilDrainedAsync(_kafka);

        await _cluster.StopAsync();
        await SpanRecords.ProduceAsync(_kafka, messages.Skip(3).SelectMany(m => m));
        await Task.Delay(TimeSpan.FromSeconds(4));

        using (var reader = new Trulayer.ServiceDefaults.Kafka.ConsumerLagReader(_kafka.CreateClientFactory()))
        {
            Assert.Equal(30, reader.Read(TimeSpan.FromSeconds(5)).TotalRecords);
        }

        using (var client = host.CreateClient())
        using (var response = await client.GetAsync(new Uri("/health", UriKind.Relative)))
        {
            using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("Unhealthy", health.RootElement.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
            Assert.Equal("Healthy", health.RootElement.GetProperty("checks").GetProperty("worker").GetProperty("status").GetString());
        }

        await _cluster.StartAsync();
        await ProcessorHost.WaitUntilDrainedAsync(_kafka);

        Assert.Equal(6000, await ProcessorHost.CountAsync(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(60, await ProcessorHost.CountAsync(db, $"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}' AND span_count = 100"));
    }
}
