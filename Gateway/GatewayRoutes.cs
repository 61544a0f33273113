using System.Net;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Trulayer.Gateway;

/// <summary>How a route answers the requests the gateway refuses itself (DESIGN.md, "Errors").</summary>
public enum ErrorStyle
{
    /// <summary><c>{"error": "..."}</c>.</summary>
    Json,

    /// <summary>OTLP/HTTP: a protobuf google.rpc.Status for a protobuf request, else its JSON form.</summary>
    Otlp,

    /// <summary>OTLP/gRPC: a gRPC status in trailers.</summary>
    Grpc,
}

/// <summary>
/// One public route: where it goes, which of Auth.Api's access policies it asks for, how it answers
/// errors. <paramref name="Grpc"/> routes are served on the gRPC port only, the others on the HTTP port only.
/// <paramref name="Audit"/>, when set, is the action each call is recorded under in the organization's
/// audit log (README, "Audit log"): an intent before it is forwarded (not recorded: 503, nothing forwarded)
/// and the outcome with its status after (AuditRecorder). Set it on bulk reads of span content and on
/// changes other services serve; never on ingest.
/// </summary>
public sealed record GatewayRoute(string Id, string Methods, string Path, string Cluster, string Policy, ErrorStyle Errors, bool Grpc = false, string? Audit = null)
{
    /// <summary>The route's one path parameter ("id" of /v1/dlq/{id}/replay), whose value is the audit entry's target; null when it has none.</summary>
    public string? TargetParameter { get; } = OnlyParameter(Path);

    private static string? OnlyParameter(string path)
    {
        var open = path.IndexOf('{', StringComparison.Ordinal);
        var close = open < 0 ? -1 : path.IndexOf('}', open);
        if (close < 0 || path.IndexOf('{', close) >= 0 || path[open + 1] == '*')
        {
            return null;
        }

        return path[(open + 1)..close];
    }
}

/// <summary>
/// The gateway's routes (DESIGN.md, "HTTP surface") and the clusters they go to, found through the
/// Aspire-style services__&lt;name&gt;__&lt;endpoint&gt;__0 settings. Nothing else is routed: Auth.Api's
/// internal routes (/v1/auth/*, the dev JWKS) and the services' own /health and /alive stay unreachable.
/// </summary>
public static class GatewayRoutes
{
    /// <summary>Policy names of Auth.Api's access table.</summary>
    public const string IngestPolicy = "ingest";
    public const string ExportPolicy = "export";
    public const string SignedInPolicy = "signed-in";

    /// <summary>Not a policy of Auth.Api's: a route that takes no credential, forwarded without one and without an assertion.</summary>
    public const string PublicPolicy = "public";

    public const string GrpcExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    public const string GrpcLogsExportPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    public const string GrpcMetricsExportPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    private const string AnyMethod = "";

    public static readonly IReadOnlyList<GatewayRoute> All =
    [
        new("otlp-traces", "POST", "/v1/otlp/traces", "ingest", IngestPolicy, ErrorStyle.Otlp),
        // The Collector's otlphttp exporter appends /v1/traces to the endpoint it is given (.../v1/otlp).
        new("otlp-collector-traces", "POST", "/v1/otlp/v1/traces", "ingest", IngestPolicy, ErrorStyle.Otlp),
        new("otlp-grpc-export", "POST", GrpcExportPath, "ingest-grpc", IngestPolicy, ErrorStyle.Grpc, Grpc: true),
        new("otlp-logs", "POST", "/v1/otlp/logs", "ingest", IngestPolicy, ErrorStyle.Otlp),
        new("otlp-collector-logs", "POST", "/v1/otlp/v1/logs", "ingest", IngestPolicy, ErrorStyle.Otlp),
        new("otlp-grpc-logs", "POST", GrpcLogsExportPath, "ingest-grpc", IngestPolicy, ErrorStyle.Grpc, Grpc: true),
        // Metrics go to ingest too, which refuses them with a permanent status and says why (README, "Metrics").
        new("otlp-metrics", "POST", "/v1/otlp/metrics", "ingest", IngestPolicy, ErrorStyle.Otlp),
        new("otlp-collector-metrics", "POST", "/v1/otlp/v1/metrics", "ingest", IngestPolicy, ErrorStyle.Otlp),
        new("otlp-grpc-metrics", "POST", GrpcMetricsExportPath, "ingest-grpc", IngestPolicy, ErrorStyle.Grpc, Grpc: true),
        // Bulk reads of span content: each page request is audited (an intent, then the outcome).
        new("otlp-export", "GET", "/v1/otlp/export", "export", ExportPolicy, ErrorStyle.Json, Audit: "export.traces"),
        new("otlp-export-logs", "GET", "/v1/otlp/export/logs", "export", ExportPolicy, ErrorStyle.Json, Audit: "export.logs"),
        new("traces", "GET", "/v1/traces", "export", ExportPolicy, ErrorStyle.Json),
        new("trace", "GET", "/v1/traces/{traceId}", "export", ExportPolicy, ErrorStyle.Json),
        new("trace-logs", "GET", "/v1/traces/{traceId}/logs", "export", ExportPolicy, ErrorStyle.Json),
        new("logs", "GET", "/v1/logs", "export", ExportPolicy, ErrorStyle.Json),
        new("trace-spans", "GET", "/v1/traces/{traceId}/spans", "export", ExportPolicy, ErrorStyle.Json),
        new("spans", "GET", "/v1/spans", "export", ExportPolicy, ErrorStyle.Json),
        new("sessions", "GET", "/v1/sessions", "export", ExportPolicy, ErrorStyle.Json),
        new("session-traces", "GET", "/v1/sessions/{sessionId}", "export", ExportPolicy, ErrorStyle.Json),
        new("analytics-llm", "GET", "/v1/analytics/llm", "export", ExportPolicy, ErrorStyle.Json),
        // Auth.Api guards each of its routes by role itself; the gateway asks only for a signed-in person.
        new("session", AnyMethod, "/v1/session", "auth", SignedInPolicy, ErrorStyle.Json),
        new("organizations", AnyMethod, "/v1/organizations/{**rest}", "auth", SignedInPolicy, ErrorStyle.Json),
        new("projects", AnyMethod, "/v1/projects/{**rest}", "auth", SignedInPolicy, ErrorStyle.Json),
        new("api-keys", AnyMethod, "/v1/api-keys/{**rest}", "auth", SignedInPolicy, ErrorStyle.Json),
        new("members", AnyMethod, "/v1/members/{**rest}", "auth", SignedInPolicy, ErrorStyle.Json),
        new("audit-log", AnyMethod, "/v1/audit-log/{**rest}", "auth", SignedInPolicy, ErrorStyle.Json),
        // The processor's routes (it owns the dead letters and the model prices): any session role passes the
        // gateway, and the processor keeps each route to its roles (replay and discard: owner; price changes: owner, member).
        new("dlq", "GET", "/v1/dlq", "processor", ExportPolicy, ErrorStyle.Json),
        new("dlq-entry", "GET", "/v1/dlq/{id}", "processor", ExportPolicy, ErrorStyle.Json),
        new("dlq-replay", "POST", "/v1/dlq/{id}/replay", "processor", ExportPolicy, ErrorStyle.Json, Audit: "dlq.replay"),
        new("dlq-discard", "POST", "/v1/dlq/{id}/discard", "processor", ExportPolicy, ErrorStyle.Json, Audit: "dlq.discard"),
        new("model-prices", "GET", "/v1/model-prices", "processor", ExportPolicy, ErrorStyle.Json),
        new("model-price-put", "PUT", "/v1/model-prices/{model}", "processor", ExportPolicy, ErrorStyle.Json, Audit: "model_prices.put"),
        new("model-price-delete", "DELETE", "/v1/model-prices/{model}", "processor", ExportPolicy, ErrorStyle.Json, Audit: "model_prices.delete"),
        // The dashboard's local sign-in: public (it sets the session cookie); Auth.Api answers 404 unless its dev issuer is on.
        new("dev-session", AnyMethod, "/v1/dev/session", "auth", PublicPolicy, ErrorStyle.Json),
    ];

    /// <summary>The policies this gateway asks Auth.Api for; a credential's cached verdicts are one per policy.</summary>
    public static readonly IReadOnlyList<string> Policies = [.. All.Select(r => r.Policy).Where(p => p != PublicPolicy).Distinct()];

    private static readonly Dictionary<string, GatewayRoute> ById = All.ToDictionary(r => r.Id);

    public static GatewayRoute Get(string routeId) => ById[routeId];

    /// <summary>
    /// The clusters and the settings their addresses come from: services:&lt;service&gt;:&lt;endpoint&gt;:0, and :1,
    /// :2... when the service runs as several replicas (the AppHost's --replicas); YARP balances over them.
    /// </summary>
    private static readonly (string Cluster, string Setting, bool Http2)[] Clusters =
    [
        ("auth", "services:auth:http", false),
        ("ingest", "services:ingest:http", false),
        ("export", "services:export:http", false),
        ("processor", "services:processor:http", false),
        ("ingest-grpc", "services:ingest:grpc", true),
    ];

    public static IReadOnlyList<RouteConfig> RouteConfigs() =>
    [
        .. All.Select(route => new RouteConfig
        {
            RouteId = route.Id,
            ClusterId = route.Cluster,
            Match = new RouteMatch
            {
                Path = route.Path,
                Methods = route.Methods == AnyMethod ? null : [route.Methods],
            },
        }),
    ];

    /// <summary>The clusters; a missing or malformed address stops the gateway at start, naming the setting.</summary>
    public static IReadOnlyList<ClusterConfig> ClusterConfigs(IConfiguration configuration)
    {
        var clusters = new List<ClusterConfig>();
        var failures = new List<string>();
        foreach (var (cluster, prefix, http2) in Clusters)
        {
            var destinations = new Dictionary<string, DestinationConfig>();
            for (var index = 0; index == 0 || configuration[$"{prefix}:{index}"] is not null; index++)
            {
                var setting = $"{prefix}:{index}";
                var address = configuration[setting];
                if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    failures.Add($"{setting} is {(string.IsNullOrEmpty(address) ? "missing" : $"'{address}', not an http(s) URL")}: set services__{setting[9..].Replace(":", "__", StringComparison.Ordinal)} to where {cluster} listens");
                    continue;
                }

                destinations[index == 0 ? cluster : $"{cluster}-{index}"] = new DestinationConfig { Address = uri.ToString() };
            }

            if (destinations.Count == 0)
            {
                continue;
            }

            clusters.Add(new ClusterConfig
            {
                ClusterId = cluster,
                Destinations = destinations,
                // OTLP/gRPC goes to ingest's cleartext HTTP/2 port, which takes HTTP/2 with prior knowledge only.
                HttpRequest = http2
                    ? new ForwarderRequestConfig { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact }
                    : null,
                // A replica that fails to answer (restarting, say) is left out for a while; when every one is
                // out, YARP tries them all again rather than refuse.
                HealthCheck = destinations.Count > 1
                    ? new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { Enabled = true, ReactivationPeriod = TimeSpan.FromSeconds(5) } }
                    : null,
            });
        }

        return failures.Count == 0
            ? clusters
            : throw new InvalidOperationException("the gateway does not know where to send requests: " + string.Join("; ", failures));
    }
}
