using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trulayer.AppHost.Model;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.AppHost.Run;

/// <summary>
/// A running stack: the model's resources started in dependency order, each after those it waits for
/// answer healthy, and stopped in reverse. Tests drive it the way Aspire.Hosting.Testing drives an
/// AppHost: start it, reach resources by name, stop, kill or restart one.
/// </summary>
/// <remarks>
/// A service run as several replicas (<see cref="RunOptions.Replicas"/>) is several processes named
/// "&lt;service&gt;-1", "&lt;service&gt;-2"..., each on ports of its own; the services that reference it get
/// every replica's address (services__&lt;service&gt;__&lt;endpoint&gt;__0, __1, ...). Its name stands for all of
/// them where that makes sense (start, stop, kill), and a replica's name for that one.
/// </remarks>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly AppModel _model;
    private readonly RunOptions _options;
    private readonly ILogSink _log;
    private readonly ParameterStore _parameters;
    private readonly Dictionary<string, ResourceRuntime> _runtimes = [];
    private readonly Dictionary<string, IReadOnlyList<ResourceRuntime>> _replicas = [];
    private readonly Dictionary<(string Instance, string Endpoint), int> _ports = [];
    private readonly List<ResourceRuntime> _started = [];
    private bool _stopped;

    private DistributedApplication(AppModel model, RunOptions options, ILogSink log)
    {
        _model = model;
        _options = options;
        _log = log;
        try
        {
            ReplicaCounts.Check(options.Replicas, model);
        }
        catch (FormatException ex)
        {
            throw new PrerequisiteException(ex.Message);
        }

        Directory.CreateDirectory(options.StateDirectory);
        _parameters = ParameterStore.Open(options.StateDirectory);
        AllocatePorts();
        var configuration = (options.Configuration ?? BuildConfiguration).ToLowerInvariant();
        foreach (var resource in model.Resources)
        {
            IReadOnlyList<ResourceRuntime> runtimes = resource switch
            {
                PostgresResource postgres => [new PostgresRuntime(postgres, options, _parameters, log)],
                KafkaResource kafka => [new KafkaRuntime(kafka, log)],
                ProjectResource project =>
                [
                    .. InstanceNames(project).Select(instance => new ProjectRuntime(
                        project,
                        instance,
                        Path.Combine(ArtifactsBinPath, project.ProjectName, configuration, project.ProjectName + ".dll"),
                        () => ResolveEnvironment(project, instance),
                        endpoint => _ports[(instance, endpoint)],
                        options,
                        log)),
                ],
                _ => [],
            };
            if (runtimes.Count > 0)
            {
                _replicas[resource.Name] = runtimes;
                foreach (var runtime in runtimes)
                {
                    _runtimes[runtime.Name] = runtime;
                }
            }
        }
    }

    public AppModel Model => _model;

    public RunOptions Options => _options;

    /// <summary>What dev.json holds right now.</summary>
    public DevInfo Info { get; private set; } = new();

    /// <summary>Starts every resource in order; on failure stops what started and rethrows.</summary>
    public static async Task<DistributedApplication> StartAsync(AppModel model, RunOptions options, ILogSink log, CancellationToken cancellationToken = default)
    {
        Prerequisites.Check(model);
        var app = new DistributedApplication(model, options, log);
        try
        {
            foreach (var group in model.StartOrder())
            {
                await Task.WhenAll(group.SelectMany(r => app._replicas[r.Name]).Select(r => app.StartResourceCoreAsync(r, cancellationToken)));
                await app.UpdateInfoAsync(cancellationToken);
            }
        }
        catch
        {
            await app.StopAsync();
            throw;
        }

        return app;
    }

    /// <summary>The URL a service's (or one replica's) endpoint answers on, e.g. ("gateway", "http").</summary>
    public Uri GetEndpoint(string resource, string endpoint = "http") => Runtime<ProjectRuntime>(resource).Url(endpoint);

    /// <summary>The names of a service's processes: its own name, or "&lt;service&gt;-1"... when it runs several replicas.</summary>
    public IReadOnlyList<string> GetReplicas(string resource)
        => _replicas.TryGetValue(resource, out var replicas)
            ? [.. replicas.Select(r => r.Name)]
            : throw new InvalidOperationException($"no resource named '{resource}'");

    /// <summary>The connection string of "postgres" or "kafka" (the bootstrap servers).</summary>
    public string GetConnectionString(string resource) => _runtimes[resource] switch
    {
        PostgresRuntime postgres => postgres.ConnectionString ?? throw new InvalidOperationException("postgres has not started"),
        KafkaRuntime kafka => kafka.BootstrapServers ?? throw new InvalidOperationException("kafka has not started"),
        _ => throw new InvalidOperationException($"{resource} has no connection string"),
    };

    /// <summary>The dev broker, when the run started one (tests use it to create topics).</summary>
    public DevKafkaBroker? DevBroker => Runtime<KafkaRuntime>(_model.Resources.OfType<KafkaResource>().Single().Name).Broker;

    /// <summary>The process id of a running service (or replica).</summary>
    public int? GetProcessId(string resource) => Runtime<ProjectRuntime>(resource).ProcessId;

    /// <summary>How often a service was restarted after it exited by itself.</summary>
    public int GetRestartCount(string resource) => Runtime<ProjectRuntime>(resource).Restarts;

    /// <summary>Resolved environment of a service (its first replica's, given the service's name), as it is (or would be) started.</summary>
    public IReadOnlyDictionary<string, string> GetEnvironment(string resource)
    {
        var runtime = Runtimes(resource).OfType<ProjectRuntime>().FirstOrDefault()
                      ?? throw new InvalidOperationException($"'{resource}' is not a service");
        return ResolveEnvironment(runtime.Project, runtime.Name);
    }

    /// <summary>Starts a resource (every replica of a service, given its name) and returns once it is healthy.</summary>
    public Task StartResourceAsync(string name, CancellationToken cancellationToken = default)
        => Task.WhenAll(Runtimes(name).Select(r => StartResourceCoreAsync(r, cancellationToken)));

    /// <summary>Stops a resource gracefully (a service: SIGTERM; PostgreSQL: fast shutdown; the dev broker: down).</summary>
    public async Task StopResourceAsync(string name, CancellationToken cancellationToken = default)
    {
        await Task.WhenAll(Runtimes(name).Select(r => r.StopAsync(cancellationToken)));
        _log.Write("apphost", $"{name} stopped");
    }

    /// <summary>Ends a resource as a crash would (SIGKILL; PostgreSQL: immediate shutdown). Not restarted by itself.</summary>
    public async Task KillResourceAsync(string name)
    {
        await Task.WhenAll(Runtimes(name).Select(r => r.KillAsync()));
        _log.Write("apphost", $"{name} killed");
    }

    public async Task RestartResourceAsync(string name, CancellationToken cancellationToken = default)
    {
        await StopResourceAsync(name, cancellationToken);
        await StartResourceAsync(name, cancellationToken);
    }

    /// <summary>A line per resource (per replica of a service run as several): name, state, where it runs.</summary>
    public IReadOnlyList<(string Name, string State, string Location)> Describe()
        => _model.Resources.Where(r => _replicas.ContainsKey(r.Name))
            .SelectMany(r => _replicas[r.Name])
            .Select(r => (r.Name, r.State, r.Location))
            .ToList();

    /// <summary>
    /// Stops everything without losing an acknowledged span: in reverse start order, so the gateway and
    /// ingest stop taking work first; before the processor stops, waits (bounded) until it has consumed
    /// everything Kafka holds; then the broker and PostgreSQL.
    /// </summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        foreach (var group in _model.StartOrder().Reverse())
        {
            var runtimes = group.SelectMany(r => _replicas[r.Name]).Where(_started.Contains).ToList();
            foreach (var project in runtimes.OfType<ProjectRuntime>().Select(p => p.Project).Distinct().Where(p => p.DrainBacklogBeforeStop))
            {
                await DrainAsync(project);
            }

            await Task.WhenAll(runtimes.Select(async runtime =>
            {
                try
                {
                    await runtime.StopAsync(CancellationToken.None);
                    await runtime.DisposeAsync();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    _log.Write("apphost", $"stopping {runtime.Resource.Name} failed: {ex.Message}", isError: true);
                }
            }));
        }

        _log.Write("apphost", "stopped");
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StartResourceCoreAsync(ResourceRuntime runtime, CancellationToken cancellationToken)
    {
        await runtime.StartAsync(cancellationToken);
        lock (_started)
        {
            if (!_started.Contains(runtime))
            {
                _started.Add(runtime);
            }
        }

        _log.Write("apphost", $"{runtime.Name} is healthy ({runtime.Location.Replace("\n", ", ", StringComparison.Ordinal)})");
    }

    /// <summary>Waits until the processor's consumer group has committed everything the spans topic holds.</summary>
    private async Task DrainAsync(ProjectResource project)
    {
        var processor = project.Name;
        var kafka = _runtimes.Values.OfType<KafkaRuntime>().FirstOrDefault(k => k.BootstrapServers is not null);
        if (kafka is null || _replicas[processor].OfType<ProjectRuntime>().All(r => r.ProcessId is null))
        {
            return;
        }

        var environment = GetEnvironment(processor);
        var kafkaOptions = new KafkaOptions
        {
            BootstrapServers = kafka.BootstrapServers!,
            SpansTopic = environment.GetValueOrDefault("Kafka__SpansTopic", KafkaTopics.Spans),
            ConsumerGroup = environment.GetValueOrDefault("Kafka__ConsumerGroup", "trulayer-processor"),
        };
        using var reader = new ConsumerLagReader(new KafkaClientFactory(Microsoft.Extensions.Options.Options.Create(kafkaOptions), NullLoggerFactory.Instance));
        var deadline = DateTime.UtcNow + _options.DrainTimeout;
        long left = -1;
        while (true)
        {
            try
            {
                var lag = await Task.Run(() => reader.Read(TimeSpan.FromSeconds(5)));
                left = lag.TotalRecords;
                if (left == 0)
                {
                    _log.Write("apphost", $"{processor} has stored everything Kafka holds");
                    return;
                }

                if (DateTime.UtcNow >= deadline)
                {
                    _log.Write("apphost",
                        $"gave up waiting for {processor} after {_options.DrainTimeout.TotalSeconds:0} s: {left} records on " +
                        $"{lag.Partitions.Count(p => p.Records > 0)} partitions not yet stored" +
                        (kafka.Broker is null ? " (they stay in Kafka)" : " (the dev broker keeps them in memory only: they are lost when it stops)"),
                        isError: true);
                    return;
                }

                _log.Write("apphost", $"waiting for {processor} to store {left} records still in Kafka");
            }
            catch (Confluent.Kafka.KafkaException ex)
            {
                _log.Write("apphost", $"cannot read {processor}'s lag: {ex.Error.Reason}", isError: true);
                if (DateTime.UtcNow >= deadline)
                {
                    return;
                }
            }

            await Task.Delay(1000);
        }
    }

    /// <summary>The names a service's processes run under: its own, or "&lt;service&gt;-1".."&lt;service&gt;-N" for N replicas.</summary>
    private IReadOnlyList<string> InstanceNames(ProjectResource project)
        => _options.Replicas.GetValueOrDefault(project.Name, 1) is var count and > 1
            ? [.. Enumerable.Range(1, count).Select(i => $"{project.Name}-{i}")]
            : [project.Name];

    private void AllocatePorts()
    {
        foreach (var project in _model.Projects)
        {
            var instances = InstanceNames(project);
            foreach (var endpoint in project.Endpoints)
            {
                if (endpoint.Port is { } port and not 0 && !Ports.IsFree(port))
                {
                    throw new PrerequisiteException(
                        $"port {port} ({project.Name} {endpoint.Name}) is taken: stop what uses it, or pass --{(endpoint.Name == "grpc" ? "grpc-port" : "port")} with another port.");
                }

                if (endpoint.Port is not (null or 0) && instances.Count > 1)
                {
                    throw new PrerequisiteException($"{project.Name} cannot run {instances.Count} replicas: its {endpoint.Name} endpoint has the fixed port {endpoint.Port}.");
                }

                foreach (var instance in instances)
                {
                    _ports[(instance, endpoint.Name)] = endpoint.Port is { } fixedPort and not 0 ? fixedPort : Ports.GetFree();
                }
            }
        }
    }

    private Dictionary<string, string> ResolveEnvironment(ProjectResource project, string instance)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TRULAYER_PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            // Which process of the stack this is ("ingest", or "ingest-2" of several replicas), for the load tool's readings.
            ["TRULAYER_INSTANCE"] = instance,
            // One readable line per log entry in the shared stream.
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__Console__FormatterOptions__ColorBehavior"] = "Disabled",
            // Endpoints come from Kestrel__Endpoints__*; an inherited URL setting would fight them.
            ["ASPNETCORE_URLS"] = "",
            ["ASPNETCORE_HTTP_PORTS"] = "",
            ["ASPNETCORE_HTTPS_PORTS"] = "",
        };
        foreach (var (name, value) in project.Environment)
        {
            if (value is EndpointUrlValue url && _replicas[url.Project.Name].Count > 1)
            {
                // Aspire's service discovery lists a service's addresses as services__<name>__<endpoint>__0, __1, ...
                if (!name.EndsWith("__0", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"{project.Name}'s {name} takes one address of {url.Project.Name}, which runs {_replicas[url.Project.Name].Count} replicas");
                }

                var replicas = _replicas[url.Project.Name];
                for (var i = 0; i < replicas.Count; i++)
                {
                    environment[$"{name[..^1]}{i}"] = $"http://127.0.0.1:{_ports[(replicas[i].Name, url.Endpoint)]}";
                }

                continue;
            }

            environment[name] = Resolve(project, instance, name, value);
        }

        foreach (var (name, value) in project.LocalEnvironment)
        {
            environment[name] = value;
        }

        foreach (var (name, value) in LaptopRuntimeSettings)
        {
            // What the developer set for the AppHost (and so for the services) wins.
            if (Environment.GetEnvironmentVariable(name) is null)
            {
                environment[name] = value;
            }
        }

        return environment;
    }

    /// <summary>
    /// How every service's runtime is set up in a local run, for a laptop's memory (README, "Performance:
    /// local footprint"). librdkafka's buffers (fetched and produced record batches) are large and short-lived:
    /// glibc's mmap threshold held at 128 KiB keeps them out of its heaps, so freeing one gives the memory
    /// back (see DevKafkaBroker.ReturnFreedLogsToTheSystem), and two malloc arenas instead of up to 8 per core
    /// keep what its many threads free in fewer places.
    /// </summary>
    private static readonly (string Name, string Value)[] LaptopRuntimeSettings =
    [
        ("MALLOC_ARENA_MAX", "2"),
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ];

    private string Resolve(ProjectResource project, string instance, string name, EnvValue value) => value switch
    {
        LiteralValue literal => literal.Value,
        ParameterValue parameter => _parameters.Get(parameter.Parameter),
        ConnectionStringValue reference => _runtimes[reference.Resource.Name] switch
        {
            PostgresRuntime { ConnectionString: { } cs } => cs,
            KafkaRuntime { BootstrapServers: { } bootstrap } => bootstrap,
            _ => throw new InvalidOperationException($"{project.Name} needs {reference.Resource.Name} ({name}) but does not wait for it"),
        },
        EndpointUrlValue url => $"http://127.0.0.1:{_ports[(url.Project.Name, url.Endpoint)]}",
        EndpointBindingValue binding => $"http://127.0.0.1:{_ports[(binding.Project == project ? instance : binding.Project.Name, binding.Endpoint)]}",
        _ => throw new InvalidOperationException($"cannot resolve {name} of {project.Name}"),
    };

    private async Task UpdateInfoAsync(CancellationToken cancellationToken)
    {
        var gateway = _runtimes.Values.OfType<ProjectRuntime>().FirstOrDefault(p => p.Resource.Name == "gateway" && _started.Contains(p));
        var postgres = _runtimes.Values.OfType<PostgresRuntime>().FirstOrDefault();
        var kafka = _runtimes.Values.OfType<KafkaRuntime>().FirstOrDefault();
        Info = Info with
        {
            Gateway = gateway?.Url("http").ToString().TrimEnd('/'),
            OtlpGrpc = gateway?.Url("grpc").ToString().TrimEnd('/'),
            Postgres = postgres?.ConnectionString,
            Kafka = kafka?.BootstrapServers,
        };

        // Once auth is healthy (it has seeded by then), the dev key, project and sessions.
        var auth = _runtimes.Values.OfType<ProjectRuntime>().FirstOrDefault(p => p.Resource.Name == "auth" && _started.Contains(p));
        if (auth is not null && Info.Sessions is null)
        {
            var environment = GetEnvironment("auth");
            if (environment.GetValueOrDefault("Auth__DevIssuer__Enabled") == "true")
            {
                Info = await Info.WithDevAccessAsync(auth.Url("http"), environment["Auth__InternalKey"], environment["Auth__DevIssuer__ApiKey"], cancellationToken);
            }
        }

        Info.Write(_options.StateDirectory);
    }

    private T Runtime<T>(string name) where T : ResourceRuntime
        => _runtimes.TryGetValue(name, out var runtime) && runtime is T typed
            ? typed
            : _replicas.TryGetValue(name, out var replicas) && replicas.Count > 1
                ? throw new InvalidOperationException($"{name} runs {replicas.Count} replicas ({string.Join(", ", replicas.Select(r => r.Name))}): name one")
                : throw new InvalidOperationException($"no {typeof(T).Name.Replace("Runtime", "", StringComparison.Ordinal).ToLowerInvariant()} resource named '{name}'");

    /// <summary>A resource's runtimes: one, or every replica of a service given its name.</summary>
    private IReadOnlyList<ResourceRuntime> Runtimes(string name)
        => _runtimes.TryGetValue(name, out var runtime) ? [runtime]
            : _replicas.TryGetValue(name, out var replicas) ? replicas
            : throw new InvalidOperationException($"no resource named '{name}'");

    private static string ArtifactsBinPath => Metadata("ArtifactsBinPath");

    private static string BuildConfiguration
        => typeof(DistributedApplication).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    private static string Metadata(string key)
        => typeof(DistributedApplication).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
