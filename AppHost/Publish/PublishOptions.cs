namespace Trulayer.AppHost.Publish;

/// <summary>How the Kubernetes manifests are written.</summary>
public sealed record PublishOptions
{
    public required string OutputDirectory { get; init; }

    /// <summary>Images are &lt;registry&gt;/trulayer-&lt;service&gt;:&lt;tag&gt;.</summary>
    public string Registry { get; init; } = "ghcr.io/trulayer";

    public string Tag { get; init; } = "latest";

    public string Namespace { get; init; } = "trulayer";

    /// <summary>The Ingress host of the gateway; none routes every host.</summary>
    public string? Host { get; init; }

    /// <summary>No PostgreSQL StatefulSet: the connection string in the Secret points at an existing server.</summary>
    public bool ExternalPostgres { get; init; }

    /// <summary>No Kafka StatefulSet: the bootstrap servers in the Secret point at an existing cluster.</summary>
    public bool ExternalKafka { get; init; }
}
