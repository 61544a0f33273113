namespace Trulayer.AppHost.Model;

/// <summary>One thing the stack runs or needs: a server, a service, a secret.</summary>
public abstract class Resource(string name)
{
    public string Name { get; } = name;

    /// <summary>Resources that must be healthy before this one starts (and that stop after it).</summary>
    public List<Resource> WaitsFor { get; } = [];

    public override string ToString() => Name;
}

/// <summary>A value the stack needs but the code never holds: generated at first run, a placeholder when published.</summary>
public sealed class ParameterResource(string name, bool secret, Func<string> generate) : Resource(name)
{
    public bool Secret { get; } = secret;

    /// <summary>Makes a fresh value for a new local stack (a random key, a password).</summary>
    public Func<string> Generate { get; } = generate;
}

/// <summary>A resource other resources connect to through <c>ConnectionStrings__&lt;name&gt;</c>.</summary>
public interface IResourceWithConnectionString
{
    string Name { get; }

    /// <summary>The key under ConnectionStrings the services read ("trulayer", "kafka").</summary>
    string ConnectionName { get; }
}

/// <summary>PostgreSQL (TimescaleDB in production). Locally a private cluster unless an external one is given.</summary>
public sealed class PostgresResource(string name, ParameterResource password) : Resource(name), IResourceWithConnectionString
{
    public string ConnectionName => DatabaseName;

    public string DatabaseName { get; init; } = "trulayer";

    public string UserName { get; init; } = "trulayer";

    public ParameterResource Password { get; } = password;

    /// <summary>Use this server instead of starting one.</summary>
    public string? ExternalConnectionString { get; set; }

    /// <summary>The image the Kubernetes manifests run.</summary>
    public string Image { get; init; } = "timescale/timescaledb:2.17.2-pg15";
}

/// <summary>A Kafka topic the stack creates, with its partition count.</summary>
/// <param name="RetentionBytes">What a real Kafka keeps of each partition (<c>retention.bytes</c>); null: the broker's default.</param>
public sealed record KafkaTopic(string Name, int Partitions, long? RetentionBytes = null);

/// <summary>Kafka. Locally librdkafka's mock cluster unless an external bootstrap is given.</summary>
public sealed class KafkaResource(string name) : Resource(name), IResourceWithConnectionString
{
    public string ConnectionName => "kafka";

    public List<KafkaTopic> Topics { get; } = [];

    /// <summary>Use this cluster (host:port) instead of starting the dev broker.</summary>
    public string? ExternalBootstrapServers { get; set; }

    /// <summary>The image the Kubernetes manifests run (KRaft mode).</summary>
    public string Image { get; init; } = "apache/kafka:3.9.0";
}

/// <summary>A named listening endpoint of a service.</summary>
/// <param name="Name">"http" or "grpc"; services find it as services__&lt;service&gt;__&lt;name&gt;__0.</param>
/// <param name="Port">A fixed port, or null for one the AppHost assigns.</param>
/// <param name="Http2Only">h2c (cleartext HTTP/2 without negotiation), as OTLP/gRPC needs.</param>
/// <param name="IsExternal">Reached from outside the stack (the gateway's public ports).</param>
public sealed record Endpoint(string Name, int? Port, bool Http2Only, bool IsExternal);

/// <summary>One of the five .NET services, run as a process locally and as a Deployment on Kubernetes.</summary>
public sealed class ProjectResource(string name, string projectName) : Resource(name)
{
    /// <summary>The project folder and assembly name, e.g. "Ingest.Api".</summary>
    public string ProjectName { get; } = projectName;

    public List<Endpoint> Endpoints { get; } = [];

    /// <summary>Environment variables in the order they were added; values resolve per target.</summary>
    public Dictionary<string, EnvValue> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Settings for a local run only (a laptop's memory, the dev broker), applied over <see cref="Environment"/>; never published.</summary>
    public Dictionary<string, string> LocalEnvironment { get; } = new(StringComparer.Ordinal);

    public string HealthPath { get; set; } = "/health";

    public string AlivePath { get; set; } = "/alive";

    /// <summary>Runs before the AppHost stops this service on shutdown (the processor drains the backlog).</summary>
    public bool DrainBacklogBeforeStop { get; set; }

    /// <summary>What a replica asks of a Kubernetes node, and the most memory it may take.</summary>
    public ComputeResources Compute { get; set; } = ComputeResources.Default;

    /// <summary>Replicas of its Kubernetes Deployment (a local run starts one unless told otherwise: <see cref="CanRunReplicasLocally"/>).</summary>
    public int Replicas { get; set; } = 2;

    /// <summary>
    /// Whether a local run may start several processes of it (<c>--replicas</c>): only when whoever uses it
    /// reaches every replica (the gateway balances over services__&lt;name&gt;__&lt;endpoint&gt;__N) or they
    /// share its work among themselves (a Kafka consumer group), and no fixed port is in the way.
    /// </summary>
    public bool CanRunReplicasLocally { get; set; }

    public Endpoint GetEndpoint(string endpointName)
        => Endpoints.FirstOrDefault(e => e.Name == endpointName)
           ?? throw new InvalidOperationException($"{Name} has no endpoint named '{endpointName}'");
}

/// <summary>Kubernetes requests and limits of a service's container.</summary>
public sealed record ComputeResources(string CpuRequest, string MemoryRequest, string CpuLimit, string MemoryLimit)
{
    public static readonly ComputeResources Default = new("250m", "256Mi", "1", "512Mi");
}

/// <summary>The value of an environment variable, resolved differently when run and when published.</summary>
public abstract record EnvValue;

public sealed record LiteralValue(string Value) : EnvValue;

public sealed record ParameterValue(ParameterResource Parameter) : EnvValue;

public sealed record ConnectionStringValue(IResourceWithConnectionString Resource) : EnvValue;

/// <summary>The URL another service reaches an endpoint at (services__x__http__0).</summary>
public sealed record EndpointUrlValue(ProjectResource Project, string Endpoint) : EnvValue;

/// <summary>The URL a service listens on for its own endpoint (Kestrel__Endpoints__x__Url).</summary>
public sealed record EndpointBindingValue(ProjectResource Project, string Endpoint) : EnvValue;
