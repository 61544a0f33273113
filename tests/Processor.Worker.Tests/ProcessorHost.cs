using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;

namespace Trulayer.Processor.Tests;

/// <summary>
/// Processor.Worker in this process (WebApplicationFactory), on a test database and dev broker. Keyed on a
/// type of the worker's assembly: the AppHost, which the test fixtures reference, has a Program too.
/// </summary>
internal sealed class ProcessorHost(string connectionString, string bootstrapServers, IDictionary<string, string?>? settings = null)
    : WebApplicationFactory<SpanConsumerWorker>
{
    /// <summary>What the host logged (Information and above).</summary>
    public FakeLogCollector Logs { get; } = new();

    /// <summary>Starts the host (migrations, then the consume loop).</summary>
    public ProcessorHost Start()
    {
        _ = Server;
        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["ConnectionStrings:trulayer"] = connectionString,
            ["ConnectionStrings:kafka"] = bootstrapServers,
            ["Processor:BatchMaxWait"] = "00:00:00.050",
            ["Processor:RetryInitialDelay"] = "00:00:00.200",
            ["Processor:RetryMaxDelay"] = "00:00:02",
            ["Kafka:Consumer:session.timeout.ms"] = "6000",
            [TestIdentity.Configuration.Key] = TestIdentity.Configuration.Value,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }

        builder.ConfigureLogging(logging => logging.AddProvider(new FakeLoggerProvider(Logs)));

        // UseSetting, not ConfigureAppConfiguration: the service reads its connection strings while it is
        // being built, and only host settings are in place that early.
        foreach (var (key, value) in configuration)
        {
            builder.UseSetting(key, value);
        }
    }

    /// <summary>Waits until the group has committed everything the spans topic holds.</summary>
    /// <summary>Waits until this processor owns partitions (it joined its group and the rebalance gave it some), so what is sent next reaches it too.</summary>
    public async Task WaitUntilAssignedAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Logs.GetSnapshot().Any(r => System.Text.RegularExpressions.Regex.IsMatch(r.Message, "^Assigned [1-9]")))
        {
            Assert.True(DateTime.UtcNow < deadline, "the processor was never assigned a partition");
            await Task.Delay(100);
        }
    }

    public static async Task WaitUntilDrainedAsync(KafkaFixture kafka, string? topic = null, TimeSpan? timeout = null)
    {
        using var reader = new Trulayer.ServiceDefaults.Kafka.ConsumerLagReader(kafka.CreateClientFactory(), topic);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        long left = -1;
        while (DateTime.UtcNow < deadline)
        {
            left = reader.Read(TimeSpan.FromSeconds(5)).TotalRecords;
            if (left == 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the processor left {left} records uncommitted");
    }

    public static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
