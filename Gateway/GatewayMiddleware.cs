using System.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Options;
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
/// First for every request: removes identity headers the client sent, and writes the access log when
/// the request is done (route, caller, status, time, correlation id): every refusal and error and
/// every slow request, and of the rest as many a second as <see cref="AccessLogOptions.SuccessesPerSecond"/>
/// allows (<see cref="AccessLogSampler"/>).
/// </summary>
internal sealed partial class FrontDoorMiddleware(RequestDelegate next, AccessLogSampler sampler, ILogger<FrontDoorMiddleware> logger)
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
        var threw = false;
        try
        {
            await next(context);
        }
        catch
        {
            threw = true;
            throw;
        }
        finally
        {
            WriteAccessLog(context, path, Stopwatch.GetElapsedTime(started), threw);
        }
    }

    private void WriteAccessLog(HttpContext context, PathString path, TimeSpan elapsed, bool threw)
    {
        var response = context.Response;
        // An exception that escapes before the answer has started becomes Kestrel's 500.
        var status = threw && !response.HasStarted ? StatusCodes.Status500InternalServerError : response.StatusCode;
        var grpcStatus = GrpcStatus(context);
        long unlogged = 0;
        if (!AccessLogSampler.IsError(status, grpcStatus) && !sampler.IsSlow(elapsed) && !sampler.TakeSuccess(Stopwatch.GetTimestamp() / Stopwatch.Frequency, out unlogged))
        {
            return;
        }

        var state = GatewayRequestState.Of(context);
        var caller = state.Caller switch
        {
            null => "-",
            { Kind: CallerKind.ApiKey } key => $"api_key:{key.ApiKeyId}",
            var session => $"session:{session.Subject}",
        };
        var grpc = grpcStatus is null ? "" : $" grpc-status {grpcStatus}";
        var method = context.Request.Method;
        var route = state.Route ?? "-";
        var milliseconds = elapsed.TotalMilliseconds;
        if (unlogged == 0)
        {
            Log.Request(logger, method, path.Value ?? "", status, grpc, route, caller, milliseconds, context.TraceIdentifier);
        }
        else
        {
            Log.SampledRequest(logger, method, path.Value ?? "", status, grpc, route, caller, milliseconds, context.TraceIdentifier, unlogged);
        }
    }

    /// <summary>A gRPC answer's status: in the headers of a trailers-only answer (a refusal), else in its trailers.</summary>
    private static string? GrpcStatus(HttpContext context)
    {
        if (context.Response.Headers.TryGetValue("grpc-status", out StringValues status))
        {
            return status.ToString();
        }

        return context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { } trailers && trailers.TryGetValue("grpc-status", out status)
            ? status.ToString()
            : null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1410, Level = LogLevel.Information,
            Message = "{Method} {Path} -> {Status}{GrpcStatus} route {Route} caller {Caller} in {ElapsedMs:0.0} ms ({CorrelationId})")]
        public static partial void Request(ILogger logger, string method, string path, int status, string grpcStatus, string route, string caller, double elapsedMs, string correlationId);

        [LoggerMessage(EventId = 1411, Level = LogLevel.Information,
            Message = "{Method} {Path} -> {Status}{GrpcStatus} route {Route} caller {Caller} in {ElapsedMs:0.0} ms ({CorrelationId}); " +
                      "{Unlogged} successful requests before it were counted, not logged")]
        public static partial void SampledRequest(ILogger logger, string method, string path, int status, string grpcStatus, string route, string caller, double elapsedMs, string correlationId, long unlogged);
    }
}

/// <summary>"Gateway:AccessLog": which requests get a line in the gateway's log.</summary>
public sealed class AccessLogOptions
{
    public const string SectionName = "Gateway:AccessLog";

    /// <summary>
    /// Successful requests logged per second at most; the first line after a gap says how many went
    /// unlogged. Refusals, errors and slow requests are always logged. 0 logs none of them.
    /// </summary>
    public int SuccessesPerSecond { get; set; } = 10;

    /// <summary>A request that takes at least this long is always logged.</summary>
    public TimeSpan SlowRequest { get; set; } = TimeSpan.FromSeconds(1);
}

internal sealed class AccessLogOptionsValidator : IValidateOptions<AccessLogOptions>
{
    public ValidateOptionsResult Validate(string? name, AccessLogOptions options)
    {
        var failures = new List<string>();
        if (options.SuccessesPerSecond < 0)
        {
            failures.Add($"{AccessLogOptions.SectionName}:SuccessesPerSecond must be 0 (log no successful request) or more (got {options.SuccessesPerSecond}).");
        }

        if (options.SlowRequest <= TimeSpan.Zero)
        {
            failures.Add($"{AccessLogOptions.SectionName}:SlowRequest must be positive, such as 00:00:01 (got {options.SlowRequest}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// Which requests the access log writes a line for. A line costs more than a tenth of what the gateway
/// spends on a whole request (it is formatted, queued, and written by the console logger's thread), so
/// under load the successful ones are sampled: at most <see cref="AccessLogOptions.SuccessesPerSecond"/>
/// each second, and the next line written counts those that were not. Every refusal and error (4xx,
/// 5xx, a gRPC status other than OK) and every slow request is logged, with its correlation id. Every
/// request is also counted in ASP.NET Core's http.server.request.duration metric, exported with the
/// self-telemetry.
/// </summary>
internal sealed class AccessLogSampler(IOptions<AccessLogOptions> options)
{
    private readonly AccessLogOptions _options = options.Value;
    private readonly Lock _lock = new();
    private long _second = long.MinValue;
    private int _loggedThisSecond;
    private long _unlogged;

    public static bool IsError(int status, string? grpcStatus) => status >= StatusCodes.Status400BadRequest || grpcStatus is not (null or "0");

    public bool IsSlow(TimeSpan elapsed) => elapsed >= _options.SlowRequest;

    /// <summary>
    /// Whether a successful request that ended in <paramref name="second"/> (any monotonic count of
    /// seconds) gets a line; when it does, <paramref name="unlogged"/> is how many before it did not.
    /// </summary>
    public bool TakeSuccess(long second, out long unlogged)
    {
        lock (_lock)
        {
            if (second != _second)
            {
                _second = second;
                _loggedThisSecond = 0;
            }

            if (_loggedThisSecond < _options.SuccessesPerSecond)
            {
                _loggedThisSecond++;
                unlogged = _unlogged;
                _unlogged = 0;
                return true;
            }

            _unlogged++;
            unlogged = 0;
            return false;
        }
    }
}

/// <summary>How requests come in: Kestrel's receive buffers, ASP.NET Core's per-request diagnostics, the access log.</summary>
internal static class FrontDoorExtensions
{
    /// <summary>
    /// ASP.NET Core starts an Activity for every request whenever its hosting logger is on at any level
    /// (for the trace ids of the request's log scope), even when nothing records traces, and HttpClient
    /// then writes a traceparent for it into the forwarded request: about a tenth of the gateway's CPU
    /// per request (README, "Performance: gateway"). With self-telemetry on (OTEL_EXPORTER_OTLP_ENDPOINT)
    /// the tracing listener still starts one. The category logs nothing else at run time; a failure to
    /// start also ends the process with the exception on stderr. A lowest-priority default, as the
    /// service defaults' own, so Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics still overrides it.
    /// </summary>
    private static readonly Dictionary<string, string?> DefaultLogLevels = new()
    {
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
    };

    public static IHostApplicationBuilder AddGatewayFrontDoor(this IHostApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = DefaultLogLevels });
        builder.Services.AddOptions<AccessLogOptions>().BindConfiguration(AccessLogOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AccessLogOptions>, AccessLogOptionsValidator>();
        builder.Services.AddSingleton<AccessLogSampler>();
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        return builder;
    }
}
