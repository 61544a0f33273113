using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Proto.Common.V1;
using Trulayer.AppHost.Run;
using Trulayer.Processor.Storage;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

public sealed class ProcessorStartupTests(DatabaseFixture database, KafkaFixture kafka) : IClassFixture<DatabaseFixture>, IClassFixture<KafkaFixture>
{
    [Theory]
    [InlineData("Processor:BatchMaxSpans", "0")]
    [InlineData("Processor:BatchMaxRecords", "-3")]
    [InlineData("Processor:BatchMaxWait", "00:05:00")]
    [InlineData("Processor:MaxTextBytes", "-1")]
    [InlineData("Processor:RetryMaxDelay", "00:00:00.001")]
    [InlineData("Processor:LivenessTimeout", "00:00:00")]
    [InlineData("Telemetry:RetentionDays", "0")]
    public async Task Start_InvalidSetting_FailsNamingTheKey(string key, string value)
    {
        // The service's own registrations on a plain builder: WebApplicationFactory races with a host
        // that fails to start and sometimes reports a disposed provider instead of the failure.
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:trulayer"] = database.ConnectionString,
            ["ConnectionStrings:kafka"] = kafka.BootstrapServers,
            [key] = value,
        });
        builder.AddProcessorServices();
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_TwiceOnOneDatabase_MigratesOnceAndRetentionDropsOldDays()
    {
        var project = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        // Stored by a processor without retention, so nothing can drop the old day before it is counted.
        await using (new ProcessorHost(database.ConnectionString, kafka.BootstrapServers).Start())
        {
            await SpanRecords.ProduceAsync(kafka, [
                .. SpanRecords.FromRequest(project, Request(Span(Id(16), "old", now.AddDays(-45), TimeSpan.FromSeconds(1), null, Model("old-session")))),
                .. SpanRecords.FromRequest(project, Request(Span(Id(16), "recent", now.AddDays(-29), TimeSpan.FromSeconds(1), null, Model("recent-session")))),
            ]);
            await ProcessorHost.WaitUntilDrainedAsync(kafka);
            Assert.Equal(2, await ProcessorHost.CountAsync(database.DataSource, $"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}'"));
        }

        await using var host = new ProcessorHost(database.ConnectionString, kafka.BootstrapServers,
            new Dictionary<string, string?> { ["Telemetry:RetentionDays"] = "30" }).Start();
        Assert.Equal(
            Trulayer.ServiceDefaults.Postgres.Migration.FromEmbeddedResources(typeof(SpanStorage).Assembly).Count,
            await ProcessorHost.CountAsync(database.DataSource, "SELECT count(*) FROM telemetry.schema_migrations"));

        var storage = host.Services.GetRequiredService<SpanStorage>();
        storage.Initialize();
        await storage.ApplyRetentionAsync(now, CancellationToken.None);

        Assert.Equal(["recent"], await Names(project));
        Assert.Equal(1, await ProcessorHost.CountAsync(database.DataSource, $"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}'"));
        Assert.Equal(0, await ProcessorHost.CountAsync(database.DataSource, $"SELECT count(*) FROM pg_class WHERE relname = 'spans_{now.AddDays(-45):yyyyMMdd}'"));
        // Sessions and usage rollups go with the spans they summarize.
        Assert.Equal(1, await ProcessorHost.CountAsync(database.DataSource, $"SELECT count(*) FROM telemetry.sessions WHERE project_id = '{project}' AND session_id = 'recent-session'"));
        Assert.Equal(0, await ProcessorHost.CountAsync(database.DataSource, $"SELECT count(*) FROM telemetry.sessions WHERE project_id = '{project}' AND session_id = 'old-session'"));
        foreach (var rollup in new[] { "llm_usage_minute", "llm_usage_hour", "llm_usage_hour_model" })
        {
            Assert.Equal(1, await ProcessorHost.CountAsync(database.DataSource, $"SELECT count(*) FROM telemetry.{rollup} WHERE project_id = '{project}'"));
        }
    }

    /// <summary>A chat model call in a session: it counts in the usage rollups and makes a session row.</summary>
    private static KeyValue[] Model(string session) =>
    [
        Str("gen_ai.operation.name", "chat"), Str("gen_ai.system", "openai"), Str("gen_ai.request.model", "gpt-4o"),
        Int("gen_ai.usage.input_tokens", 10), Int("gen_ai.usage.output_tokens", 2), Str("session.id", session),
    ];

    [Fact]
    public async Task Start_TimescaleInstalledButNotPreloaded_StoresInNativePartitionsAndSaysWhy()
    {
        using var installation = StandInTimescaleInstallation.Create();
        var directory = TestDirectories.Create("timescale");
        var cluster = await PostgresCluster.StartAsync(
            new PostgresClusterOptions
            {
                DataDirectory = Path.Combine(directory, "data"),
                Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
                Durable = false,
                BinDirectory = installation.BinDirectory,
            },
            _ => { });
        try
        {
            await cluster.CreateDatabaseIfMissingAsync("trulayer");
            await using var db = NpgsqlDataSource.Create(cluster.GetConnectionString("trulayer"));
            Assert.Equal(1, await ProcessorHost.CountAsync(db, "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"));

            await using var host = new ProcessorHost(cluster.GetConnectionString("trulayer"), kafka.BootstrapServers).Start();

            var project = Guid.NewGuid();
            await SpanRecords.ProduceAsync(kafka, SpanRecords.FromRequest(project, Request(Span(Id(16), "stored", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1)))));
            await ProcessorHost.WaitUntilDrainedAsync(kafka);

            Assert.Equal(1, await ProcessorHost.CountAsync(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
            Assert.Equal(StorageMode.Partitioned, host.Services.GetRequiredService<SpanStorage>().Mode);
            Assert.Equal(0, await ProcessorHost.CountAsync(db, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"));
            Assert.Contains(host.Logs.GetSnapshot(), r => r.Message.Contains("TimescaleDB is installed but not in shared_preload_libraries", StringComparison.Ordinal));
        }
        finally
        {
            await cluster.KillAsync();
            TestDirectories.TryDelete(directory);
        }
    }

    private static OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest Request(OpenTelemetry.Proto.Trace.V1.Span span) => new()
    {
        ResourceSpans = { new OpenTelemetry.Proto.Trace.V1.ResourceSpans { ScopeSpans = { new OpenTelemetry.Proto.Trace.V1.ScopeSpans { Spans = { span } } } } },
    };

    private async Task<List<string>> Names(Guid project)
    {
        await using var command = database.DataSource.CreateCommand($"SELECT name FROM telemetry.spans WHERE project_id = '{project}' ORDER BY name");
        await using var reader = await command.ExecuteReaderAsync();
        var names = new List<string>();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }
}
