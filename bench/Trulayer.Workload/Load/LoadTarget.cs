namespace Trulayer.Workload.Load;

/// <summary>Where a load run sends and what it checks: the gateway's two ports, a credential, and the stores behind them.</summary>
/// <param name="Gateway">The gateway's HTTP base address (OTLP/HTTP goes to /v1/otlp/traces).</param>
/// <param name="OtlpGrpc">The gateway's OTLP/gRPC (h2c) base address.</param>
/// <param name="ApiKey">An API key of <paramref name="ProjectId"/>.</param>
/// <param name="ProjectId">The project the key writes to, where the run's spans are counted.</param>
/// <param name="Postgres">PostgreSQL's connection string, to count what was stored.</param>
/// <param name="Kafka">Kafka's bootstrap servers, to read the processor's lag.</param>
public sealed record LoadTarget(Uri Gateway, Uri OtlpGrpc, string ApiKey, Guid ProjectId, string? Postgres, string? Kafka)
{
    public const string TracesPath = "/v1/otlp/traces";
    public const string GrpcExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    /// <summary>Where logs go: the path a Collector's otlphttp exporter calls.</summary>
    public const string LogsPath = "/v1/otlp/v1/logs";
    public const string GrpcLogsExportPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
}

/// <summary>What each request carries.</summary>
public enum LoadSignal
{
    /// <summary>A standard spans batch.</summary>
    Traces,

    /// <summary>A standard logs batch (<see cref="StandardLogs.Application"/>), to the logs endpoint.</summary>
    Logs,

    /// <summary>A standard spans batch, then the GenAI log events of its LLM spans (<see cref="StandardLogs.GenAiEvents"/>) naming those spans.</summary>
    Mixed,
}

/// <summary>How requests reach the gateway.</summary>
public enum LoadTransport
{
    /// <summary>OTLP/HTTP with <c>application/x-protobuf</c>.</summary>
    HttpProtobuf,

    /// <summary>OTLP/HTTP with <c>application/json</c>.</summary>
    HttpJson,

    /// <summary>OTLP/gRPC over h2c.</summary>
    Grpc,
}

/// <summary>Which standard batch (DESIGN.md, "Performance") each request carries.</summary>
public enum BatchKind
{
    /// <summary>About 30 attributes per span, one span in three an LLM span with a 2 KiB prompt.</summary>
    GenAi,

    /// <summary>8 attributes per span.</summary>
    Lean,
}

/// <summary>What a load run sends, how fast, and for how long.</summary>
public sealed record LoadSettings
{
    public LoadTransport Transport { get; init; } = LoadTransport.HttpProtobuf;

    public BatchKind Batch { get; init; } = BatchKind.GenAi;

    public LoadSignal Signal { get; init; } = LoadSignal.Traces;

    public int SpansPerRequest { get; init; } = StandardBatch.DefaultSpans;

    public int TracesPerRequest { get; init; } = StandardBatch.DefaultTraces;

    /// <summary>Requests in flight at once (each sender waits for its answer before sending the next).</summary>
    public int Senders { get; init; } = 4;

    /// <summary>The offered rate in spans per second; null sends flat out.</summary>
    public double? SpansPerSecond { get; init; }

    /// <summary>Stop sending new requests after this long (null: until told, or <see cref="MaxSpans"/>).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Stop sending new requests after this many spans (rounded up to whole requests).</summary>
    public long? MaxSpans { get; init; }

    /// <summary>How long one attempt may take before the client gives up on it (and retries it).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public RetryPolicy Retry { get; init; } = new();

    private PayloadFormat Format => Transport switch
    {
        LoadTransport.HttpJson => PayloadFormat.Json,
        LoadTransport.Grpc => PayloadFormat.GrpcFrame,
        _ => PayloadFormat.Protobuf,
    };

    /// <summary>The template every request is stamped from (with <see cref="LoadSignal.Logs"/>, log records: SpansPerRequest of them).</summary>
    public RequestTemplate CreateTemplate() => Signal == LoadSignal.Logs
        ? RequestTemplate.CreateLogs(StandardLogs.Application(SpansPerRequest, TracesPerRequest, seed: 1), Format)
        : RequestTemplate.Create(SpansRequest(), Format);

    /// <summary>With <see cref="LoadSignal.Mixed"/>: the GenAI log events sent after each spans request, naming its spans.</summary>
    public RequestTemplate? CreateEventsTemplate()
    {
        if (Signal != LoadSignal.Mixed)
        {
            return null;
        }

        var spans = SpansRequest();
        return RequestTemplate.CreateLogs(StandardLogs.GenAiEvents(spans), Format, spans);
    }

    private OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest SpansRequest() => Batch == BatchKind.GenAi
        ? StandardBatch.GenAi(SpansPerRequest, TracesPerRequest, seed: 1)
        : StandardBatch.Lean(SpansPerRequest, TracesPerRequest, seed: 1);
}
