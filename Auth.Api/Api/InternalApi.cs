using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Trulayer.Auth.Access;
using Trulayer.Auth.DevIssuer;
using Trulayer.Auth.Verification;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Api;

public sealed record VerifyRequest(string? Credential, string? Policy);

/// <summary>The verified caller, as the gateway turns it into an identity assertion.</summary>
public sealed record VerifyResponse(
    string Kind,
    Guid? OrganizationId,
    IReadOnlyList<Guid> ProjectIds,
    string? Role,
    string? Subject,
    Guid? ApiKeyId,
    DateTimeOffset? ExpiresAt,
    IReadOnlyDictionary<Guid, ContentPolicy>? ContentPolicies = null);

public sealed record DevSessionsResponse(Guid OrganizationId, Guid ProjectId, DateTimeOffset ExpiresAt, IReadOnlyDictionary<string, string> Sessions);

public sealed record DevTokenRequest(string? UserId, string? OrganizationId);

public sealed record DevTokenResponse(string Token, DateTimeOffset ExpiresAt);

/// <summary>
/// Routes for the gateway and the AppHost only: the gateway never routes them, and each call must
/// carry the internal key (<see cref="KeyHeader"/>), which only the gateway and the AppHost hold.
/// </summary>
internal static partial class InternalApi
{
    /// <summary>The header that carries Auth:InternalKey. The gateway strips any client's X-Trulayer-* header.</summary>
    public const string KeyHeader = "X-Trulayer-Internal-Key";

    public static IEndpointRouteBuilder MapInternalApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/auth").AddEndpointFilter(RequireInternalKey);
        group.MapPost("/verify", Verify);
        group.MapPost("/audit", AuditApi.Record);

        if (app.ServiceProvider.GetRequiredService<IOptions<AuthOptions>>().Value.DevIssuer.Enabled)
        {
            group.MapPost("/dev/sessions", MintSeededSessions);
            group.MapPost("/dev/token", MintToken);
            app.MapGet(DevSessionIssuer.JwksPath, (DevSessionIssuer issuer) => TypedResults.Text(issuer.Jwks, "application/json"));
        }

        return app;
    }

    private static async ValueTask<object?> RequireInternalKey(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var expected = context.HttpContext.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.InternalKey;
        var sent = context.HttpContext.Request.Headers[KeyHeader].ToString();
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(expected)))
        {
            return ErrorResponse.Result(
                StatusCodes.Status401Unauthorized,
                $"this route is internal: it needs the {KeyHeader} header with Auth:InternalKey (only the gateway and the AppHost have it)");
        }

        return await next(context);
    }

    private static async Task<Results<Ok<VerifyResponse>, JsonHttpResult<ErrorResponse>>> Verify(
        HttpRequest request, CredentialVerifier verifier, ILogger<CredentialVerifier> logger)
    {
        var (body, error) = await JsonBody.ReadAsync<VerifyRequest>(request, """{"credential": "tl_...", "policy": "ingest"}""");
        if (body is null)
        {
            return ErrorResponse.Result(StatusCodes.Status400BadRequest, error!);
        }

        if (string.IsNullOrEmpty(body.Credential))
        {
            return ErrorResponse.Result(StatusCodes.Status400BadRequest, "credential is required");
        }

        if (AccessTable.FindPolicy(body.Policy ?? "") is not { } policy)
        {
            return ErrorResponse.Result(
                StatusCodes.Status400BadRequest,
                $"policy '{body.Policy}' is not known: it is one of {string.Join(", ", AccessTable.Policies.Select(p => p.Name))}");
        }

        var verification = await verifier.VerifyAsync(body.Credential, policy, request.HttpContext.RequestAborted);
        if (verification.Status != StatusCodes.Status200OK)
        {
            Log.Refused(logger, verification.Status, policy.Name, verification.Error!, request.HttpContext.TraceIdentifier);
            return ErrorResponse.Result(verification.Status, verification.Error!);
        }

        var caller = verification.Caller!;
        return TypedResults.Ok(new VerifyResponse(
            caller.Kind == CallerKind.ApiKey ? "api_key" : "session",
            caller.OrganizationId == Guid.Empty ? null : caller.OrganizationId,
            caller.ProjectIds,
            caller.Role,
            caller.Subject,
            caller.ApiKeyId,
            verification.ExpiresAt,
            caller.ContentPolicies));
    }

    private static Ok<DevSessionsResponse> MintSeededSessions(DevSeeder seeder, DevSessionIssuer issuer)
    {
        var seed = seeder.Seed!;
        var sessions = new Dictionary<string, string>();
        var expiresAt = DateTimeOffset.MaxValue;
        foreach (var (role, userId) in DevSeed.Users)
        {
            var (token, expires) = issuer.Mint(userId, seed.OrganizationId);
            sessions[role] = token;
            expiresAt = expires < expiresAt ? expires : expiresAt;
        }

        return TypedResults.Ok(new DevSessionsResponse(seed.OrganizationId, seed.ProjectId, expiresAt, sessions));
    }

    private static async Task<Results<Ok<DevTokenResponse>, JsonHttpResult<ErrorResponse>>> MintToken(HttpRequest request, DevSessionIssuer issuer)
    {
        var (body, error) = await JsonBody.ReadAsync<DevTokenRequest>(request, """{"userId": "someone", "organizationId": null}""");
        var userId = JsonBody.ValidName(body?.UserId, "userId", 200, out var userError);
        if (body is null || userId is null)
        {
            return ErrorResponse.Result(StatusCodes.Status400BadRequest, error ?? userError);
        }

        Guid? organization = null;
        if (!string.IsNullOrEmpty(body.OrganizationId))
        {
            if (!Guid.TryParse(body.OrganizationId, out var parsed))
            {
                return ErrorResponse.Result(StatusCodes.Status400BadRequest, $"organizationId '{body.OrganizationId}' is not an organization id (a UUID)");
            }

            organization = parsed;
        }

        var (token, expiresAt) = issuer.Mint(userId, organization);
        return TypedResults.Ok(new DevTokenResponse(token, expiresAt));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1340, Level = LogLevel.Information, Message = "Verify for policy {Policy} refused with {Status}: {Reason} ({CorrelationId})")]
        public static partial void Refused(ILogger logger, int status, string policy, string reason, string correlationId);
    }
}
