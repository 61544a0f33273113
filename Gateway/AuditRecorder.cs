using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>One audited call as Auth.Api's POST /v1/auth/audit takes it (README, "Audit log"); Status only in an outcome.</summary>
internal sealed record AuditCall(
    string OrganizationId,
    string Source,
    string Phase,
    string ActorKind,
    string ActorId,
    string? ActorRole,
    string? ProjectId,
    string Action,
    string Method,
    string Route,
    string? TargetId,
    string CorrelationId,
    string? ClientAddress,
    int? Status = null)
{
    public const string Intent = "intent";
    public const string Outcome = "outcome";

    /// <summary>
    /// The intent of <paramref name="context"/>'s call to <paramref name="route"/> by <paramref name="caller"/>: the
    /// project the query names (already checked against the caller), else an API key's own; the target the
    /// route's one path parameter names; the client address after the trusted proxies' X-Forwarded-For.
    /// </summary>
    public static AuditCall IntentOf(HttpContext context, GatewayRoute route, CallerIdentity caller, string action)
    {
        var request = context.Request;
        var projectId = Guid.TryParse(request.Query["project_id"].ToString(), out var named) ? named.ToString()
            : caller is { Kind: CallerKind.ApiKey, ProjectIds: [var own] } ? own.ToString()
            : null;
        var targetId = route.TargetParameter is { } parameter ? request.RouteValues[parameter]?.ToString() : null;
        var address = context.Connection.RemoteIpAddress;
        return new AuditCall(
            caller.OrganizationId.ToString(),
            route.Cluster,
            Intent,
            caller.Kind == CallerKind.ApiKey ? "api_key" : "session",
            (caller.Kind == CallerKind.ApiKey ? caller.ApiKeyId?.ToString() : caller.Subject) ?? "",
            caller.Role,
            projectId,
            action,
            request.Method,
            route.Path,
            targetId,
            context.TraceIdentifier,
            address is null ? null : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString());
    }
}

/// <summary>
/// Records the calls of audited routes (<see cref="GatewayRoute.Audit"/>) in Auth.Api's audit log, through
/// its internal route with Auth:InternalKey: the intent before the call is forwarded (the caller learns
/// whether it was recorded: if not, nothing is forwarded) and the outcome, with the status, after.
/// Each call is bounded by Gateway:AuthTimeout, like a verification.
/// </summary>
internal sealed partial class AuditRecorder(
    IHttpClientFactory httpClientFactory,
    IOptions<GatewayOptions> options,
    IOptions<AuthClientOptions> authOptions,
    ILogger<AuditRecorder> logger)
{
    public const string Path = "/v1/auth/audit";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly TimeSpan _timeout = options.Value.AuthTimeout;
    private readonly string _internalKey = authOptions.Value.InternalKey;

    /// <summary>Whether Auth.Api recorded <paramref name="intent"/> (201); anything else is logged and false.</summary>
    public Task<bool> RecordIntentAsync(AuditCall intent) => RecordAsync(intent);

    /// <summary>Records the outcome of <paramref name="intent"/>; a failure is logged, never thrown (the call was already answered).</summary>
    public async Task RecordOutcomeAsync(AuditCall intent, int status)
        => await RecordAsync(intent with { Phase = AuditCall.Outcome, Status = status });

    private async Task<bool> RecordAsync(AuditCall call)
    {
        // Not the request's token: an outcome is recorded even when the client has left.
        using var timeout = new CancellationTokenSource(_timeout);
        string error;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Path) { Content = JsonContent.Create(call, options: Json) };
            request.Headers.Add(CallerVerifier.InternalKeyHeader, _internalKey);
            request.Headers.Add(CorrelationIdMiddleware.HeaderName, call.CorrelationId);
            using var response = await httpClientFactory.CreateClient(CallerVerifier.HttpClientName).SendAsync(request, timeout.Token);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                return true;
            }

            error = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(timeout.Token)}";
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            error = timeout.IsCancellationRequested ? $"no answer within Gateway:AuthTimeout ({_timeout})" : ex.Message;
        }

        if (call.Phase == AuditCall.Intent)
        {
            Log.IntentNotRecorded(logger, call.Action, call.Method, call.Route, call.OrganizationId, error, call.CorrelationId);
        }
        else
        {
            Log.OutcomeNotRecorded(logger, call.Action, call.Method, call.Route, call.Status ?? 0, call.OrganizationId, error, call.CorrelationId);
        }

        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1420, Level = LogLevel.Warning,
            Message = "The audit intent of {Action} ({Method} {Route}) for organization {OrganizationId} was not recorded: {Error}; answered 503, nothing forwarded ({CorrelationId})")]
        public static partial void IntentNotRecorded(ILogger logger, string action, string method, string route, string organizationId, string error, string correlationId);

        [LoggerMessage(EventId = 1421, Level = LogLevel.Error,
            Message = "The audit outcome of {Action} ({Method} {Route}) -> {Status} for organization {OrganizationId} was not recorded: {Error}; " +
                      "the answer was relayed, the log holds its intent only ({CorrelationId})")]
        public static partial void OutcomeNotRecorded(ILogger logger, string action, string method, string route, int status, string organizationId, string error, string correlationId);
    }
}
