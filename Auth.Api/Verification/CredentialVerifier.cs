using Trulayer.Auth.Access;
using Trulayer.Auth.ApiKeys;
using Trulayer.Auth.Organizations;
using Trulayer.Auth.Sessions;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Verification;

/// <summary>
/// The answer to "who is this, and may they pass this policy": 200 with the caller, 401 (the credential
/// is not valid), 403 (valid, but not for this), or 503 (the session issuer's keys cannot be had).
/// <paramref name="ExpiresAt"/> is the session token's expiry, which bounds how long the gateway may reuse the answer.
/// </summary>
internal sealed record CallerVerification(int Status, CallerIdentity? Caller, string? Error, DateTimeOffset? ExpiresAt = null)
{
    public static CallerVerification Unauthenticated(string error) => new(StatusCodes.Status401Unauthorized, null, error);
}

/// <summary>Turns a credential (an API key or a session JWT) into a caller, independent of HTTP.</summary>
internal sealed class CredentialVerifier(
    ApiKeyStore apiKeys,
    ApiKeyUsageRecorder usage,
    SessionTokenValidator sessions,
    OrganizationStore organizations,
    TimeProvider time)
{
    public async Task<CallerVerification> VerifyAsync(string credential, AccessPolicy policy, CancellationToken cancellationToken)
    {
        var verification = credential.StartsWith(ApiKeySecret.Prefix, StringComparison.Ordinal)
            ? await VerifyApiKeyAsync(credential, cancellationToken)
            : await VerifySessionAsync(credential, cancellationToken);
        if (verification.Caller is null)
        {
            return verification;
        }

        return policy.Refusal(verification.Caller) is { } refusal
            ? verification with { Status = StatusCodes.Status403Forbidden, Error = refusal }
            : verification;
    }

    private async Task<CallerVerification> VerifyApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        // The gateway refuses these already; checked again so no caller of this route costs a lookup with one.
        if (ApiKeyFormat.Refusal(ApiKeyFormat.Check(key)) is { } refusal)
        {
            return CallerVerification.Unauthenticated(refusal);
        }

        var stored = await apiKeys.FindAsync(key, cancellationToken);
        if (stored is null)
        {
            return CallerVerification.Unauthenticated("the API key is not known: check that it was copied whole, or create a new one");
        }

        if (stored.RevokedAt is { } revokedAt)
        {
            return CallerVerification.Unauthenticated($"the API key was revoked at {revokedAt:u}: create a new one");
        }

        usage.Record(stored.Id, time.GetUtcNow());
        var caller = new CallerIdentity(
            CallerKind.ApiKey, stored.OrganizationId, [stored.ProjectId], ApiKeyId: stored.Id,
            ContentPolicies: stored.ContentPolicy.Mode == ContentMode.Store ? null : new Dictionary<Guid, ContentPolicy> { [stored.ProjectId] = stored.ContentPolicy });
        return new CallerVerification(StatusCodes.Status200OK, caller, null);
    }

    private async Task<CallerVerification> VerifySessionAsync(string token, CancellationToken cancellationToken)
    {
        var validation = await sessions.ValidateAsync(token, cancellationToken);
        if (validation.IssuerUnavailable)
        {
            return new CallerVerification(StatusCodes.Status503ServiceUnavailable, null, validation.Error);
        }

        if (validation.Session is not { } session)
        {
            return CallerVerification.Unauthenticated(validation.Error ?? "the session token is invalid");
        }

        var membership = await organizations.FindMembershipAsync(session.Subject, session.Organization, cancellationToken);
        var caller = membership is null
            ? new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: session.Subject)
            : new CallerIdentity(
                CallerKind.Session, membership.OrganizationId, membership.ProjectIds, membership.Role, session.Subject,
                ContentPolicies: membership.ContentPolicies.Count == 0 ? null : membership.ContentPolicies);
        return new CallerVerification(StatusCodes.Status200OK, caller, null, session.ExpiresAt);
    }
}
