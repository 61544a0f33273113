using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.AppHost.Model;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.AppHost.Run;

/// <summary>A resource of the model while the stack runs.</summary>
internal abstract class ResourceRuntime(Resource resource)
{
    public Resource Resource { get; } = resource;

    /// <summary>The resource's name, or a replica's ("ingest-2").</summary>
    public virtual string Name => Resource.Name;

    public string State { get; protected set; } = "pending";

    /// <summary>Where it runs, for the table.</summary>
    public abstract string Location { get; }

    /// <summary>Starts it and returns once it is healthy.</summary>
    public abstract Task StartAsync(CancellationToken cancellationToken);

    public abstract Task StopAsync(CancellationToken cancellationToken);

    /// <summary>Ends it as a crash would.</summary>
    public abstract Task KillAsync();

    /// <summary>Final release at the end of the run (the dev broker's memory).</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal sealed class PostgresRuntime(PostgresResource resource, RunOptions options, ParameterStore parameters, ILogSink log)
    : ResourceRuntime(resource)
{
    private PostgresCluster? _cluster;

    public string? ConnectionString { get; private set; }

    public PostgresCluster? Cluster => _cluster;

    public override string Location => _cluster is null
        ? (resource.ExternalConnectionString is null ? "" : "external " + Redact(resource.ExternalConnectionString))
        : $"127.0.0.1:{_cluster.Port}\n{_cluster.DataDirectory}";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (resource.ExternalConnectionString is { } external)
        {
            ConnectionString = external;
            await using var connection = new NpgsqlConnection(external);
            await connection.OpenAsync(cancellationToken);
            State = "external";
            return;
        }

        if (_cluster is not null)
        {
            await _cluster.StartAsync(cancellationToken);
            State = "running";
            return;
        }

        var dataDirectory = await PostgresCluster.ChooseDataDirectoryAsync(
            Path.Combine(options.StateDirectory, "postgres", "data"), cancellationToken);
        var portFile = Path.Combine(options.StateDirectory, "postgres.port");
        var port = File.Exists(portFile) && int.TryParse(File.ReadAllText(portFile), out var last) && Ports.IsFree(last) ? last : Ports.GetFree();
        _cluster = await PostgresCluster.StartAsync(
            new PostgresClusterOptions
            {
                DataDirectory = dataDirectory,
                Password = parameters.Get(resource.Password),
                UserName = resource.UserName,
                Port = port,
                Durable = options.DurablePostgres,
                // A laptop's stack: the OS's page cache holds the rest of what is read often (README, "Performance: local footprint").
                SharedBuffers = "32MB",
            },
            line => log.Write(Resource.Name, line),
            cancellationToken);
        await File.WriteAllTextAsync(portFile, port.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        await _cluster.CreateDatabaseIfMissingAsync(resource.DatabaseName, cancellationToken);
        ConnectionString = _cluster.GetConnectionString(resource.DatabaseName);
        State = "running";
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_cluster is not null)
        {
            await _cluster.StopAsync(cancellationToken);
            State = "stopped";
        }
    }

    public override async Task KillAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.KillAsync();
            State = "killed";
        }
    }

    private static string Redact(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database}";
    }
}

internal sealed class KafkaRuntime(KafkaResource resource, ILogSink log) : ResourceRuntime(resource)
{
    private DevKafkaBroker? _broker;

    public string? BootstrapServers { get; private set; }

    public DevKafkaBroker? Broker => _broker;

    public override string Location => BootstrapServers is null ? "" : (_broker is null ? "external " : "dev broker ") + BootstrapServers;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_broker is not null)
        {
            _broker.SetUp();
            State = "running";
            return;
        }

        if (resource.ExternalBootstrapServers is { } external)
        {
            BootstrapServers = external;
            await CreateTopicsAsync(external);
            State = "external";
            return;
        }

        _broker = DevKafkaBroker.Start();
        foreach (var topic in resource.Topics)
        {
            _broker.CreateTopic(topic.Name, topic.Partitions);
        }

        BootstrapServers = _broker.BootstrapServers;
        log.Write(Resource.Name, $"dev broker (librdkafka {KafkaNative.Version} mock cluster) on {BootstrapServers}; topics " +
                                 string.Join(", ", resource.Topics.Select(t => $"{t.Name} ({t.Partitions} partitions)")));
        State = "running";
    }

    /// <summary>The dev broker goes down (connections refused) but keeps its data until the run ends.</summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _broker?.SetDown();
        State = _broker is null ? State : "down";
        return Task.CompletedTask;
    }

    public override Task KillAsync() => StopAsync(CancellationToken.None);

    public override ValueTask DisposeAsync()
    {
        _broker?.Dispose();
        _broker = null;
        State = "stopped";
        return ValueTask.CompletedTask;
    }

    private async Task CreateTopicsAsync(string bootstrapServers)
    {
        var factory = new KafkaClientFactory(Options.Create(new KafkaOptions { BootstrapServers = bootstrapServers }), NullLoggerFactory.Instance);
        using var admin = factory.CreateAdminClient("apphost");
        var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.Count;
        var specifications = resource.Topics.Select(t => new TopicSpecification
        {
            Name = t.Name,
            NumPartitions = t.Partitions,
            ReplicationFactor = (short)Math.Min(3, brokers),
        });
        try
        {
            await admin.CreateTopicsAsync(specifications);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Topics that exist already are fine.
        }
    }
}

internal sealed class ProjectRuntime(
    ProjectResource resource,
    string instance,
    string assemblyPath,
    Func<IReadOnlyDictionary<string, string>> environment,
    Func<string, int> port,
    RunOptions options,
    ILogSink log) : ResourceRuntime(resource)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private ServiceProcess? _process;

    public ProjectResource Project => resource;

    public override string Name => instance;

    public int? ProcessId => _process?.ProcessId;

    public int Restarts => _process?.Restarts ?? 0;

    public override string Location => string.Join("\n", resource.Endpoints.Select(e => $"{e.Name} {Url(e.Name).ToString().TrimEnd('/')}"));

    public Uri Url(string endpoint) => new($"http://127.0.0.1:{port(endpoint)}");

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _process ??= new ServiceProcess(instance, assemblyPath, environment(), log, options.RestartOnCrash);
        State = "starting";
        _process.Start();
        await WaitHealthyAsync(cancellationToken);
        State = "running";
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_process is not null)
        {
            State = "stopping";
            await _process.StopAsync(options.StopGracePeriod);
            State = "stopped";
        }
    }

    public override async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.KillAsync();
            State = "killed";
        }
    }

    private async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        var health = new Uri(Url("http"), resource.HealthPath);
        var deadline = DateTime.UtcNow + options.HealthTimeout;
        var last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                using var response = await Http.GetAsync(health, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {await Describe(response, cancellationToken)}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = "timed out";
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new InvalidOperationException(
            $"{instance} did not become healthy within {options.HealthTimeout.TotalSeconds:0} s; its {resource.HealthPath} last said: {last} " +
            "(a service applying a long migration says so in its log; give it longer with --health-timeout <seconds>)");
    }

    private static async Task<string> Describe(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var report = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            if (report.TryGetProperty("checks", out var checks))
            {
                return string.Join("; ", checks.EnumerateObject()
                    .Where(c => c.Value.GetProperty("status").GetString() != "Healthy")
                    .Select(c => $"{c.Name}: {c.Value.GetProperty("description").GetString()}"));
            }
        }
        catch (JsonException)
        {
        }

        return response.ReasonPhrase ?? "";
    }
}
