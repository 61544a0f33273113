using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;
using Yarp.ReverseProxy.Forwarder;

namespace Trulayer.Gateway;

/// <summary>
/// The gateway's decision on each routed request, before YARP forwards it: the right listener, the
/// body limit, a credential verified for the route's policy (CallerVerifier: by Auth.Api, unless it can be
/// refused more cheaply, or the client's address failed too often), the project the request
/// names, the caller's rate limit; for an audited route, the call's intent recorded in the audit log
/// (AuditRecorder; else 503, nothing forwarded); then the credential is taken off the request and a
/// freshly signed identity assertion put on instead, and after the answer the audited call's outcome is
/// recorded. Refusals are answered in the route's error style.
/// </summary>
internal sealed class CallerAccessMiddleware(
    RequestDelegate next,
    CallerVerifier verifier,
    CallerRateLimiter rateLimiter,
    IdentityAssertionSigner signer,
    GatewayListeners listeners,
    CrossSiteRequestCheck csrf,
    AuditRecorder audit)
{
    /// <summary>Clerk's session cookie, which a dashboard in the browser sends instead of an Authorization header.</summary>
    public const string SessionCookie = "__session";

    private const string ProjectIdParameter = "project_id";

    public async Task InvokeAsync(HttpContext context)
    {
        var route = GatewayRoutes.Get(context.GetReverseProxyFeature().Route.Config.RouteId);
        var state = GatewayRequestState.Of(context);
        state.Route = route.Id;
        var request = context.Request;

        if (route.Grpc != listeners.IsGrpc(context))
        {
            await NoRoute.WriteAsync(context, listeners);
            return;
        }

        if (request.ContentLength > GatewayOptions.MaxRequestBodySize)
        {
            await RefuseAsync(context, route, StatusCodes.Status413PayloadTooLarge, BodyTooLarge(request.ContentLength.Value));
            return;
        }

        if (request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: true })
        {
            // A body of unknown length (chunked, HTTP/2) is held to the limit while it streams; Kestrel's
            // own limit is higher, so it can drain the rest after the 413 (RequestBodyLimit).
            request.Body = RequestBodyLimit.Bounded(request.Body, GatewayOptions.MaxRequestBodySize,
                () => new BadHttpRequestException(BodyTooLarge(null), StatusCodes.Status413PayloadTooLarge));
        }

        if (route.Policy == GatewayRoutes.PublicPolicy)
        {
            await ForwardPublicAsync(context, route);
            return;
        }

        var (credential, fromCookie) = ReadCredential(request, route);
        if (credential is null)
        {
            await RefuseAsync(context, route, StatusCodes.Status401Unauthorized, route.Grpc
                ? "authentication required: send the metadata 'authorization: Bearer tl_...' with an API key"
                : "authentication required: send 'Authorization: Bearer tl_...' with an API key, or a dashboard session token");
            return;
        }

        if (fromCookie && csrf.Refuse(request) is { } forgery)
        {
            await RefuseAsync(context, route, StatusCodes.Status403Forbidden, forgery);
            return;
        }

        // The client's address, after the forwarded-headers middleware believed a trusted proxy (ClientAddress).
        var verdict = await verifier.VerifyAsync(credential, route.Policy, context.Connection.RemoteIpAddress, context.TraceIdentifier, context.RequestAborted);
        if (verdict.Caller is not { } caller)
        {
            await RefuseAsync(context, route, verdict.Status, verdict.Error, verdict.RetryAfter);
            return;
        }

        state.Caller = caller;
        if (route.Grpc && caller.Kind != CallerKind.ApiKey)
        {
            await RefuseAsync(context, route, StatusCodes.Status403Forbidden,
                "OTLP/gRPC takes an API key ('authorization: Bearer tl_...'); a dashboard session can send spans over OTLP/HTTP with ?project_id=");
            return;
        }

        var (forwarded, status, error) = ScopeToProject(request, route, caller);
        if (forwarded is null)
        {
            await RefuseAsync(context, route, status, error);
            return;
        }

        if (rateLimiter.TryAcquire(caller) is { } retryAfter)
        {
            var who = caller.Kind == CallerKind.ApiKey ? "this API key" : "your session";
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            await RefuseAsync(context, route, StatusCodes.Status429TooManyRequests,
                $"rate limit exceeded for {who}: retry after {seconds.ToString(CultureInfo.InvariantCulture)} s, or send fewer, larger batches", retryAfter);
            return;
        }

        // An audited call is recorded before it goes anywhere: not recorded, not forwarded.
        var intent = route.Audit is { } action ? AuditCall.IntentOf(context, route, caller, action) : null;
        if (intent is not null && !await audit.RecordIntentAsync(intent))
        {
            await RefuseAsync(context, route, StatusCodes.Status503ServiceUnavailable,
                "this call could not be recorded in the organization's audit log, so it was not made: nothing was forwarded; retry shortly",
                TimeSpan.FromSeconds(1));
            return;
        }

        // The services learn who is calling from the assertion only; the secret itself goes no further.
        request.Headers.Remove(HeaderNames.Authorization);
        request.Headers.Remove(HeaderNames.Cookie);
        request.Headers[IdentityAssertion.HeaderName] = signer.Sign(forwarded);

        await next(context);

        var failure = context.Features.Get<IForwarderErrorFeature>();
        if (failure is not null)
        {
            await AnswerForwardingFailureAsync(context, route, failure);
        }

        if (intent is not null)
        {
            // After the whole answer was relayed (YARP returns once the body is copied): the status the
            // caller got, the upstream's, or the gateway's own when the upstream could not be reached.
            await audit.RecordOutcomeAsync(intent, context.Response.StatusCode);
        }

        if (failure is null && route.Policy == GatewayRoutes.SignedInPolicy && !HttpMethods.IsGet(request.Method) && context.Response.StatusCode is >= 200 and < 300)
        {
            // The caller just changed what they may do (joined an organization, added a project):
            // their next request must not be judged by what was true before.
            verifier.Forget(credential);
        }
    }

    /// <summary>
    /// A public route (the dev sign-in): no credential to verify, so none goes further and no assertion is
    /// signed. It sets the session cookie, so a browser's call from another site is refused (browsers send
    /// Origin on every cross-site POST and DELETE); a script without Origin may sign in.
    /// </summary>
    private async Task ForwardPublicAsync(HttpContext context, GatewayRoute route)
    {
        var request = context.Request;
        if (request.Headers.Origin.Count > 0 && csrf.Refuse(request) is { } forgery)
        {
            await RefuseAsync(context, route, StatusCodes.Status403Forbidden, forgery);
            return;
        }

        request.Headers.Remove(HeaderNames.Authorization);
        request.Headers.Remove(HeaderNames.Cookie);
        await next(context);
        if (context.Features.Get<IForwarderErrorFeature>() is { } failure)
        {
            await AnswerForwardingFailureAsync(context, route, failure);
        }
    }

    /// <summary>The bearer token of the Authorization header, else (HTTP routes) Clerk's session cookie, and whether it came from the cookie.</summary>
    private static (string? Credential, bool FromCookie) ReadCredential(HttpRequest request, GatewayRoute route)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            const string Bearer = "Bearer ";
            return (authorization.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase) && authorization.Length > Bearer.Length
                ? authorization[Bearer.Length..].Trim()
                : null, false);
        }

        return route.Grpc || request.Cookies[SessionCookie] is not { Length: > 0 } cookie ? (null, false) : (cookie, true);
    }

    /// <summary>
    /// A project_id in the query must be one the caller may reach (else 404, as for a project that does
    /// not exist). Ingest needs exactly one project: an API key's own, or the one a session names,
    /// and the assertion then carries that project alone.
    /// </summary>
    private static (CallerIdentity? Forwarded, int Status, string Error) ScopeToProject(HttpRequest request, GatewayRoute route, CallerIdentity caller)
    {
        var value = request.Query[ProjectIdParameter].ToString();
        Guid? projectId = null;
        if (value.Length > 0)
        {
            if (!Guid.TryParse(value, out var parsed))
            {
                return (null, StatusCodes.Status400BadRequest, $"{ProjectIdParameter} '{value}' is not a project id (a UUID)");
            }

            if (!caller.CanAccess(parsed))
            {
                return (null, StatusCodes.Status404NotFound, caller.Kind == CallerKind.ApiKey
                    ? $"project {parsed} not found for this API key: it sends to its own project, {caller.ProjectIds[0]}; leave {ProjectIdParameter} out"
                    : $"project {parsed} not found among your organization's projects");
            }

            projectId = parsed;
        }

        if (route.Policy != GatewayRoutes.IngestPolicy || caller.Kind == CallerKind.ApiKey)
        {
            return (caller, 0, "");
        }

        return projectId is { } target
            ? (caller with { ProjectIds = [target] }, 0, "")
            : (null, StatusCodes.Status400BadRequest,
                $"a dashboard session sends spans to one project: add ?{ProjectIdParameter}=<project id> (GET /v1/projects lists them), or use the project's API key");
    }

    private static async Task AnswerForwardingFailureAsync(HttpContext context, GatewayRoute route, IForwarderErrorFeature failure)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        var tooLarge = Unwrap(failure.Exception).OfType<BadHttpRequestException>().Any(e => e.StatusCode == StatusCodes.Status413PayloadTooLarge);
        if (tooLarge)
        {
            await RefuseAsync(context, route, StatusCodes.Status413PayloadTooLarge, BodyTooLarge(null));
        }
        else if (failure.Error is ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled or ForwarderError.RequestCanceled)
        {
            await RefuseAsync(context, route, StatusCodes.Status400BadRequest, "the request body could not be read to its end");
        }
        else
        {
            await RefuseAsync(context, route, StatusCodes.Status503ServiceUnavailable,
                $"the {route.Cluster} service cannot be reached right now: try again shortly", TimeSpan.FromSeconds(1));
        }
    }

    private static IEnumerable<Exception> Unwrap(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
        }
    }

    private static string BodyTooLarge(long? length)
        => $"the request body{(length is { } bytes ? $" ({bytes.ToString(CultureInfo.InvariantCulture)} bytes)" : "")} is over the limit of 20 MiB " +
           $"({GatewayOptions.MaxRequestBodySize.ToString(CultureInfo.InvariantCulture)} bytes): send less per request (for OTLP, smaller batches)";

    private static Task RefuseAsync(HttpContext context, GatewayRoute route, int status, string message, TimeSpan? retryAfter = null)
        => GatewayErrors.WriteAsync(context, route.Errors, status, message, retryAfter);
}

/// <summary>The answer to a request no route takes.</summary>
internal static class NoRoute
{
    public static Task WriteAsync(HttpContext context, GatewayListeners listeners)
    {
        var request = context.Request;
        return listeners.IsGrpc(context)
            ? GatewayErrors.WriteAsync(context, ErrorStyle.Grpc, StatusCodes.Status501NotImplemented,
                $"unknown method {request.Path}: this port serves OTLP/gRPC {GatewayRoutes.GrpcExportPath} and {GatewayRoutes.GrpcLogsExportPath}")
            : GatewayErrors.WriteAsync(context, ErrorStyle.Json, StatusCodes.Status404NotFound,
                $"no route for {request.Method} {request.Path}: the gateway serves /v1/otlp/traces, /v1/otlp/logs, /v1/otlp/export, /v1/traces, /v1/logs, /v1/session, /v1/organizations, /v1/projects, /v1/api-keys and /v1/members");
    }
}
