using System.Diagnostics;
using Microsoft.Extensions.Primitives;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>What the gateway learned about a request, for its log line.</summary>
internal sealed class GatewayRequestState
{
    private static readonly object Key = new();

    public string? Route { get; set; }

    public CallerIdentity? Caller { get; set; }

    public static GatewayRequestState Of(HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var value) && value is GatewayRequestState state)
        {
            return state;
        }

        state = new GatewayRequestState();
        context.Items[Key] = state;
        return state;
    }
}

/// <summary>Which listener a request came in on: the OTLP/gRPC port serves gRPC routes only, the HTTP port the rest.</summary>
internal sealed class GatewayListeners(IConfiguration configuration)
{
    // Parsed as Kestrel parses it: the manifests bind "http://+:4317", which System.Uri does not take.
    private readonly int? _grpcPort = configuration["Kestrel:Endpoints:grpc:Url"] is { Length: > 0 } url ? BindingAddress.Parse(url).Port : null;

    public bool IsGrpc(HttpContext context) => _grpcPort is { } port && context.Connection.LocalPort == port;
}

/// <summary>Identity headers a client must never be able to set, so no service ever trusts one the client sent.</summary>
internal static class IdentityHeaders
{
    /// <summary>Every X-Trulayer-* header is ours to set (the assertion, Auth.Api's internal key), never a client's.</summary>
    public const string OwnPrefix = "X-Trulayer-";

    /// <summary>Conventional identity headers of other proxies, which a service behind one might be tempted to read.</summary>
    private static readonly string[] Conventional =
    [
        "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Auth-Request-User",
        "X-Auth-Request-Email", "X-Remote-User", "Remote-User", "X-User-Id", "X-MS-CLIENT-PRINCIPAL",
        "X-MS-CLIENT-PRINCIPAL-ID", "X-MS-CLIENT-PRINCIPAL-NAME",
    ];

    public static void Strip(IHeaderDictionary headers)
    {
        List<string>? own = null;
        foreach (var name in headers.Keys)
        {
            if (name.StartsWith(OwnPrefix, StringComparison.OrdinalIgnoreCase))
            {
                (own ??= []).Add(name);
            }
        }

        foreach (var name in own ?? [])
        {
            headers.Remove(name);
        }

        foreach (var name in Conventional)
        {
            headers.Remove(name);
        }
    }
}

/// <summary>
/// First for every request: removes identity headers the client sent, and logs the request when it
/// is done (route, caller, status, time, correlation id).
/// </summary>
internal sealed partial class FrontDoorMiddleware(RequestDelegate next, ILogger<FrontDoorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        IdentityHeaders.Strip(context.Request.Headers);
        var path = context.Request.Path;
        if (path.Equals(Microsoft.Extensions.Hosting.Extensions.HealthEndpointPath, StringComparison.Ordinal) || path.Equals(Microsoft.Extensions.Hosting.Extensions.AlivenessEndpointPath, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var state = GatewayRequestState.Of(context);
            var caller = state.Caller switch
            {
                null => "-",
                { Kind: CallerKind.ApiKey } key => $"api_key:{key.ApiKeyId}",
                var session => $"session:{session.Subject}",
            };
            var grpcStatus = context.Response.Headers.TryGetValue("grpc-status", out StringValues status) ? $" grpc-status {status}" : "";
            Log.Request(
                logger,
                context.Request.Method,
                path.Value ?? "",
                context.Response.StatusCode,
                grpcStatus,
                state.Route ?? "-",
                caller,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                context.TraceIdentifier);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1410, Level = LogLevel.Information,
            Message = "{Method} {Path} -> {Status}{GrpcStatus} route {Route} caller {Caller} in {ElapsedMs:0.0} ms ({CorrelationId})")]
        public static partial void Request(ILogger logger, string method, string path, int status, string grpcStatus, string route, string caller, double elapsedMs, string correlationId);
    }
}
