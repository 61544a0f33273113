using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using Trulayer.AppHost.Model;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.AppHost;

/// <summary>Choices that shape the graph: the gateway's public ports and external servers.</summary>
public sealed record StackSettings
{
    public const int DefaultGatewayPort = 8080;
    public const int DefaultOtlpGrpcPort = 4317;

    /// <summary>The gateway's HTTP port; 0 lets the AppHost pick a free one.</summary>
    public int GatewayPort { get; init; } = DefaultGatewayPort;

    /// <summary>The gateway's OTLP/gRPC port; 0 lets the AppHost pick a free one.</summary>
    public int OtlpGrpcPort { get; init; } = DefaultOtlpGrpcPort;

    /// <summary>An existing Kafka (host:port) instead of the dev broker.</summary>
    public string? ExternalKafka { get; init; }

    /// <summary>An existing PostgreSQL (a connection string) instead of a private cluster.</summary>
    public string? ExternalPostgres { get; init; }

    /// <summary>
    /// Auth.Api issues dev sessions itself (and seeds a dev organization, project, people and API key)
    /// instead of trusting an external issuer such as Clerk. For local runs only.
    /// </summary>
    public bool DevIssuer { get; init; } = true;

    /// <summary>
    /// What Kafka keeps of each partition of the spans topic (its <c>retention.bytes</c>), for a real
    /// cluster; ingest refuses new spans (503) once half of it is not yet stored. Null: the dev broker,
    /// whose 5 MiB per partition ingest's admission derives its bounds from by itself.
    /// </summary>
    public long? SpansRetentionBytes { get; init; }

    /// <summary>What the published manifests give each spans partition: 1 GiB (256 GiB for the topic).</summary>
    public const long PublishedSpansRetentionBytes = 1L << 30;

    /// <summary>Partitions of the spans topic: few for the dev broker (it holds them in memory), many on a real cluster.</summary>
    public int SpansPartitions { get; init; } = KafkaTopics.DevSpansPartitions;

    /// <summary>The spans topic's partitions on a real cluster: room for as many processor replicas as anyone runs.</summary>
    public const int PublishedSpansPartitions = 256;

    /// <summary>Partitions of the logs topic (keyed like spans): few for the dev broker, more on a real cluster.</summary>
    public int LogsPartitions { get; init; } = KafkaTopics.DevLogsPartitions;

    /// <summary>The logs topic's partitions on a real cluster.</summary>
    public const int PublishedLogsPartitions = 64;

    /// <summary>
    /// The graph the Kubernetes manifests are written from: the dashboard's issuer (Clerk) instead of the
    /// dev issuer, and a real Kafka whose spans topic has an explicit retention.
    /// </summary>
    public static StackSettings Published => new()
    {
        DevIssuer = false,
        SpansRetentionBytes = PublishedSpansRetentionBytes,
        SpansPartitions = PublishedSpansPartitions,
        LogsPartitions = PublishedLogsPartitions,
    };
}

/// <summary>Trulayer's resource graph, the one source for the local run and the Kubernetes manifests.</summary>
public static class TrulayerModel
{
    public static AppModel Build(StackSettings settings)
    {
        var builder = new AppModelBuilder();

        var assertionKey = builder.AddParameter("identity-assertion-key", secret: true, generate: () => RandomBase64(32));
        var postgresPassword = builder.AddParameter("postgres-password", secret: true, generate: () => RandomBase64(24));
        var authInternalKey = builder.AddParameter("auth-internal-key", secret: true, generate: () => RandomBase64(32));

        var postgres = builder.AddPostgres("postgres", postgresPassword);
        postgres.ExternalConnectionString = settings.ExternalPostgres;

        var kafka = builder.AddKafka("kafka")
            .WithTopic(KafkaTopics.Spans, settings.SpansPartitions, settings.SpansRetentionBytes)
            .WithTopic(KafkaTopics.DeadLetter, KafkaTopics.DevDeadLetterPartitions)
            .WithTopic(KafkaTopics.Logs, settings.LogsPartitions, settings.SpansRetentionBytes)
            .WithTopic(KafkaTopics.LogsDeadLetter, KafkaTopics.DevLogsDeadLetterPartitions)
            .WaitFor(postgres);
        kafka.ExternalBootstrapServers = settings.ExternalKafka;

        var auth = builder.AddProject("auth", "Auth.Api")
            .WithHttpEndpoint()
            .WithReference(postgres)
            .WithEnvironment("Identity__AssertionKey", assertionKey)
            .WithEnvironment("Auth__InternalKey", authInternalKey)
            .WaitFor(kafka);
        if (settings.DevIssuer)
        {
            // Auth.Api is its own session issuer: tokens name its URL as iss, and it finds its own keys at
            // {iss}/.well-known/jwks.json, the way it finds Clerk's in production.
            var devSigningKey = builder.AddParameter("auth-dev-signing-key", secret: true, generate: NewP256PrivateKey);
            var devApiKey = builder.AddParameter("auth-dev-api-key", secret: true, generate: ApiKeyFormat.Generate);
            auth.WithEnvironment("Auth__DevIssuer__Enabled", "true")
                .WithEnvironment("Auth__DevIssuer__SigningKey", devSigningKey)
                .WithEnvironment("Auth__DevIssuer__ApiKey", devApiKey)
                .WithEnvironment("Auth__Session__Issuer", new EndpointUrlValue(auth, "http"))
                .WithEnvironment("Auth__Session__Audience", "trulayer-dev");
        }
        else
        {
            // The dashboard's session issuer (Clerk): values of the deployment, not generated.
            var issuer = builder.AddParameter("session-issuer", secret: true, generate: () => throw MissingSetting("session-issuer", "the iss of the dashboard's session tokens"));
            var audience = builder.AddParameter("session-audience", secret: true, generate: () => throw MissingSetting("session-audience", "their aud"));
            auth.WithEnvironment("Auth__Session__Issuer", issuer)
                .WithEnvironment("Auth__Session__Audience", audience);
        }

        var processor = builder.AddProject("processor", "Processor.Worker")
            .WithHttpEndpoint()
            .WithReference(postgres)
            .WithReference(kafka)
            // It serves the dead-letter and model-price routes behind the gateway, and trusts only its assertion.
            .WithEnvironment("Identity__AssertionKey", assertionKey)
            // A crashed processor's partitions wait this long for their new owner (librdkafka's default: 45 s).
            .WithEnvironment("Kafka__Consumer__session.timeout.ms", "10000")
            // Locally, fetch ahead 16 MiB of records (librdkafka's default: 64 MiB), two batches of GenAI spans.
            .WithLocalEnvironment("Kafka__Consumer__queued.max.messages.kbytes", "16384")
            .WaitFor(auth);
        processor.DrainBacklogBeforeStop = true;
        // Replicas share the spans topic's partitions as members of one consumer group.
        processor.CanRunReplicasLocally = true;

        var ingest = builder.AddProject("ingest", "Ingest.Api")
            .WithHttpEndpoint()
            .WithHttp2Endpoint("grpc")
            .WithReference(kafka)
            .WithEnvironment("Identity__AssertionKey", assertionKey)
            .WaitFor(processor);
        // The gateway is given every replica's address (services__ingest__http__N, __grpc__N) to balance over.
        ingest.CanRunReplicasLocally = true;
        // The dev broker's spans topic has few partitions (KafkaTopics.DevSpansPartitions), so each fills
        // faster: admission reads the lag four times a second to stop a burst in time (README, "Lag-aware admission").
        ingest.WithLocalEnvironment("Ingest__Admission__RefreshInterval", "00:00:00.250");
        if (settings.SpansRetentionBytes is { } retention)
        {
            // Admission's bounds are derived from the dev broker's retention unless set: set them from the
            // cluster's, leaving half of it free. A real Kafka bounds partitions by bytes only.
            ingest.WithEnvironment("Ingest__Admission__MaxPartitionBytes", (retention / 2).ToString(CultureInfo.InvariantCulture))
                .WithEnvironment("Ingest__Admission__MaxPartitionRecords", "1000000000");
        }

        var exportCursorKey = builder.AddParameter("export-cursor-key", secret: true, generate: () => RandomBase64(32));
        var export = builder.AddProject("export", "Export.Api")
            .WithHttpEndpoint()
            .WithReference(postgres)
            .WithEnvironment("Identity__AssertionKey", assertionKey)
            .WithEnvironment("Export__CursorKey", exportCursorKey)
            .WaitFor(processor);

        builder.AddProject("gateway", "Gateway")
            .WithHttpEndpoint(port: settings.GatewayPort, isExternal: true)
            .WithHttp2Endpoint("grpc", port: settings.OtlpGrpcPort, isExternal: true)
            .WithReference(auth)
            .WithReference(ingest)
            .WithReference(export)
            .WithReference(processor)
            .WithEnvironment("Identity__AssertionKey", assertionKey)
            .WithEnvironment("Auth__InternalKey", authInternalKey)
            .WaitFor(ingest, export);

        return builder.Build();
    }

    private static string RandomBase64(int bytes) => Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes));

    private static InvalidOperationException MissingSetting(string parameter, string meaning)
        => new($"without the dev issuer, auth needs '{parameter}' ({meaning}) in secrets.json of the state folder");

    /// <summary>Base64 of a PKCS#8 P-256 private key, for the dev issuer's ES256 signatures.</summary>
    private static string NewP256PrivateKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(key.ExportPkcs8PrivateKey());
    }
}
