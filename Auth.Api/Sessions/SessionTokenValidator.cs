using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Trulayer.Auth.Sessions;

/// <summary>A validated dashboard session: who, until when, and the organization it acts in when it names one.</summary>
internal sealed record SessionToken(string Subject, DateTimeOffset ExpiresAt, Guid? Organization);

/// <summary>The outcome of validating a session token: the session, or why it was refused.</summary>
internal sealed record SessionValidation(SessionToken? Session, string? Error, bool IssuerUnavailable = false);

/// <summary>
/// Validates dashboard session JWTs (Clerk in production, Auth.Api's dev issuer locally): signature
/// with the issuer's JWKS, RS256 or ES256 only (never alg none nor HMAC, which would let anyone who
/// holds the public key sign), issuer, audience, and lifetime within a bounded clock skew.
/// </summary>
internal sealed class SessionTokenValidator(JwksKeySource keys, IOptions<AuthOptions> options, TimeProvider time)
{
    /// <summary>The claim a session may carry to act in one of several organizations (a Clerk session-token template can add it).</summary>
    public const string OrganizationClaim = "trulayer_org";

    public static readonly IReadOnlyList<string> Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };

    public async Task<SessionValidation> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        JsonWebToken jwt;
        try
        {
            jwt = _handler.ReadJsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException)
        {
            return Refused("the session token is not a well-formed JWT");
        }

        if (!Algorithms.Contains(jwt.Alg))
        {
            return Refused($"session tokens signed with alg '{jwt.Alg}' are not accepted: they must be signed with RS256 or ES256");
        }

        var signingKeys = await keys.GetKeysAsync(string.IsNullOrEmpty(jwt.Kid) ? null : jwt.Kid, cancellationToken);
        if (signingKeys is null)
        {
            return new SessionValidation(null, "the session issuer's signing keys cannot be fetched right now", IssuerUnavailable: true);
        }

        var session = options.Value.Session;
        var result = await _handler.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = session.Issuer,
            ValidAudience = session.Audience,
            ValidAlgorithms = Algorithms,
            IssuerSigningKeys = signingKeys,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = session.ClockSkew,
            LifetimeValidator = ValidateLifetime,
        });

        if (!result.IsValid)
        {
            return Refused(Describe(result.Exception, jwt));
        }

        if (string.IsNullOrEmpty(jwt.Subject))
        {
            return Refused("the session token has no sub (user id)");
        }

        Guid? organization = jwt.TryGetPayloadValue<string>(OrganizationClaim, out var value) && Guid.TryParse(value, out var parsed) ? parsed : null;
        return new SessionValidation(new SessionToken(jwt.Subject, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero), organization), null);
    }

    /// <summary>The framework's lifetime check with our clock, so tests and the dev issuer agree on "now".</summary>
    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (expires is null)
        {
            throw new SecurityTokenNoExpirationException("the session token has no exp");
        }

        if (expires.Value.Add(parameters.ClockSkew) < now)
        {
            throw new SecurityTokenExpiredException($"expired at {expires.Value:u}") { Expires = expires.Value };
        }

        if (notBefore is { } nbf && nbf.Subtract(parameters.ClockSkew) > now)
        {
            throw new SecurityTokenNotYetValidException($"not valid before {nbf:u}") { NotBefore = nbf };
        }

        return true;
    }

    private string Describe(Exception? error, JsonWebToken jwt) => error switch
    {
        SecurityTokenExpiredException expired => $"the session expired at {expired.Expires:u}: sign in again",
        SecurityTokenNotYetValidException early => $"the session is not valid before {early.NotBefore:u}: check the clock of the issuer",
        SecurityTokenNoExpirationException => "the session token has no exp (expiry)",
        SecurityTokenInvalidIssuerException => $"the session issuer '{jwt.Issuer}' is not accepted here (expected '{options.Value.Session.Issuer}')",
        SecurityTokenInvalidAudienceException => $"the session audience '{string.Join(",", jwt.Audiences)}' is not accepted here (expected '{options.Value.Session.Audience}')",
        SecurityTokenInvalidAlgorithmException => $"session tokens signed with alg '{jwt.Alg}' are not accepted: they must be signed with RS256 or ES256",
        SecurityTokenSignatureKeyNotFoundException => $"the session token's signing key '{jwt.Kid}' is not one of the issuer's keys",
        SecurityTokenInvalidSignatureException => "the session token's signature is invalid",
        _ => "the session token is invalid",
    };

    private static SessionValidation Refused(string error) => new(null, error);
}
