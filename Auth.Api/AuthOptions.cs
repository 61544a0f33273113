using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Trulayer.Auth.ApiKeys;

namespace Trulayer.Auth;

/// <summary>The "Auth" section.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>
    /// Base64 of at least 32 random bytes, shared with the gateway only: it proves a call to the
    /// internal routes (verify, dev sessions) comes from the gateway or the AppHost. A secret.
    /// </summary>
    public string InternalKey { get; set; } = "";

    public SessionOptions Session { get; set; } = new();

    public DevIssuerOptions DevIssuer { get; set; } = new();

    public ApiKeyOptions ApiKeys { get; set; } = new();

    public AuditOptions Audit { get; set; } = new();

    internal byte[] InternalKeyBytes() => Convert.FromBase64String(InternalKey);
}

/// <summary>"Auth:Session": how dashboard session JWTs are validated (Clerk in production).</summary>
public sealed class SessionOptions
{
    /// <summary>The expected <c>iss</c>, e.g. https://clerk.example.com.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>The expected <c>aud</c>.</summary>
    public string Audience { get; set; } = "";

    /// <summary>Where the issuer's signing keys are; defaults to {Issuer}/.well-known/jwks.json.</summary>
    public string? JwksUrl { get; set; }

    /// <summary>Tolerated clock difference for exp and nbf.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long fetched keys are used before they are fetched again.</summary>
    public TimeSpan JwksRefreshInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The least time between two fetches: a token with an unknown key id triggers a fetch (the issuer
    /// rotated its keys), but a flood of such tokens must not turn into a flood of fetches.
    /// </summary>
    public TimeSpan JwksMinimumRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    public Uri ResolveJwksUrl() => new(string.IsNullOrWhiteSpace(JwksUrl) ? Issuer.TrimEnd('/') + "/.well-known/jwks.json" : JwksUrl);
}

/// <summary>"Auth:DevIssuer": Auth.Api as its own session issuer, for local runs only.</summary>
public sealed class DevIssuerOptions
{
    public bool Enabled { get; set; }

    /// <summary>Base64 of a PKCS#8 P-256 private key that dev sessions are signed with (ES256). A secret.</summary>
    public string SigningKey { get; set; } = "";

    /// <summary>The API key to seed for the dev project (tl_...). A secret; the AppHost generates it.</summary>
    public string ApiKey { get; set; } = "";

    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>"Auth:ApiKeys".</summary>
public sealed class ApiKeyOptions
{
    /// <summary>How often the last use of API keys is written to the database (one batched update).</summary>
    public TimeSpan LastUsedFlushInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>"Auth:Audit".</summary>
public sealed class AuditOptions
{
    /// <summary>
    /// How long an append waits for its organization's chain (another replica appending) before the
    /// request is answered 503 and its change undone.
    /// </summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    private static readonly TimeSpan MaximumClockSkew = TimeSpan.FromMinutes(5);

    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        ValidateKey(options.InternalKey, "Auth:InternalKey", failures);

        var session = options.Session;
        if (string.IsNullOrWhiteSpace(session.Issuer))
        {
            failures.Add("Auth:Session:Issuer is missing: set it to the session issuer (the iss of the dashboard's JWTs, e.g. https://clerk.example.com).");
        }

        if (string.IsNullOrWhiteSpace(session.Audience))
        {
            failures.Add("Auth:Session:Audience is missing: set it to the aud the dashboard's JWTs carry.");
        }

        if (!string.IsNullOrWhiteSpace(session.JwksUrl) && !IsAbsoluteUrl(session.JwksUrl))
        {
            failures.Add($"Auth:Session:JwksUrl '{session.JwksUrl}' is not an absolute http(s) URL.");
        }
        else if (string.IsNullOrWhiteSpace(session.JwksUrl) && !string.IsNullOrWhiteSpace(session.Issuer) && !IsAbsoluteUrl(session.Issuer))
        {
            failures.Add($"Auth:Session:JwksUrl is missing and Auth:Session:Issuer '{session.Issuer}' is not a URL to find {{issuer}}/.well-known/jwks.json at: set Auth:Session:JwksUrl.");
        }

        if (session.ClockSkew < TimeSpan.Zero || session.ClockSkew > MaximumClockSkew)
        {
            failures.Add($"Auth:Session:ClockSkew must be between 0 and 5 minutes (got {session.ClockSkew}).");
        }

        if (session.JwksMinimumRefreshInterval <= TimeSpan.Zero || session.JwksMinimumRefreshInterval > session.JwksRefreshInterval)
        {
            failures.Add($"Auth:Session:JwksMinimumRefreshInterval must be positive and at most Auth:Session:JwksRefreshInterval (got {session.JwksMinimumRefreshInterval} and {session.JwksRefreshInterval}).");
        }

        if (options.ApiKeys.LastUsedFlushInterval <= TimeSpan.Zero)
        {
            failures.Add($"Auth:ApiKeys:LastUsedFlushInterval must be positive (got {options.ApiKeys.LastUsedFlushInterval}).");
        }

        if (options.Audit.LockTimeout < TimeSpan.FromMilliseconds(1) || options.Audit.LockTimeout > TimeSpan.FromMinutes(1))
        {
            failures.Add($"Auth:Audit:LockTimeout must be between 1 ms and 1 minute (got {options.Audit.LockTimeout}).");
        }

        var dev = options.DevIssuer;
        if (dev.Enabled)
        {
            if (string.IsNullOrWhiteSpace(dev.SigningKey))
            {
                failures.Add("Auth:DevIssuer:SigningKey is missing: the dev issuer needs base64 of a PKCS#8 P-256 private key " +
                             "(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform DER | base64 -w0).");
            }
            else if (!IsP256Key(dev.SigningKey))
            {
                failures.Add("Auth:DevIssuer:SigningKey is not base64 of a PKCS#8 P-256 private key.");
            }

            if (!ApiKeySecret.IsWellFormed(dev.ApiKey))
            {
                failures.Add($"Auth:DevIssuer:ApiKey must be an API key: '{ApiKeySecret.Prefix}' followed by at least {ApiKeySecret.SecretBytes} random bytes in base64url.");
            }

            if (dev.SessionLifetime <= TimeSpan.Zero || dev.SessionLifetime > TimeSpan.FromDays(7))
            {
                failures.Add($"Auth:DevIssuer:SessionLifetime must be between 0 and 7 days (got {dev.SessionLifetime}).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static void ValidateKey(string value, string key, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            failures.Add($"{key} is missing: set it to base64 of at least 32 random bytes, the same value for Auth.Api and the gateway (e.g. $(openssl rand -base64 32)).");
            return;
        }

        try
        {
            var bytes = Convert.FromBase64String(value);
            if (bytes.Length < 32)
            {
                failures.Add($"{key} holds {bytes.Length} bytes; it needs at least 32.");
            }
        }
        catch (FormatException)
        {
            failures.Add($"{key} is not valid base64.");
        }
    }

    private static bool IsAbsoluteUrl(string? value)
        => Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    private static bool IsP256Key(string value)
    {
        try
        {
            using var key = ECDsa.Create();
            key.ImportPkcs8PrivateKey(Convert.FromBase64String(value), out _);
            return key.ExportParameters(false).Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return false;
        }
    }
}
