using Microsoft.Extensions.Options;

namespace Trulayer.Gateway;

/// <summary>The "Gateway" section.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>The most a verdict may be reused: a revoked key or a removed member stops working within it.</summary>
    public static readonly TimeSpan MaximumCredentialCacheTtl = TimeSpan.FromSeconds(30);

    /// <summary>The most slots the refusal cache may have (1 Mi; a full slot holds some 300 bytes).</summary>
    public const int MaximumRefusalCacheSize = 1 << 20;

    /// <summary>The request body limit, as ingest's (DESIGN.md): a larger body is answered 413 before it is forwarded.</summary>
    public const long MaxRequestBodySize = 20 * 1024 * 1024;

    /// <summary>How long Auth.Api's verdict on a credential is reused (at most 30 s; a session's also not past its expiry).</summary>
    public TimeSpan CredentialCacheTtl { get; set; } = MaximumCredentialCacheTtl;

    /// <summary>How many verdicts on valid credentials (accepted, or refused for the route with 403) are kept at most.</summary>
    public int CredentialCacheSize { get; set; } = 100_000;

    /// <summary>How long Auth.Api's refusal (401) of a credential is reused, so a client repeating a bad one costs no call.</summary>
    public TimeSpan RefusalCacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Slots of the refusal cache: a fixed table, so a flood of distinct made-up credentials overwrites
    /// refusals and nothing else, and never grows the memory.
    /// </summary>
    public int RefusalCacheSize { get; set; } = 16_384;

    /// <summary>
    /// Whether keys of the format issued before the checksum (tl_ + 43 characters) are still looked up.
    /// Once every such key is replaced, false refuses them all at the gateway.
    /// </summary>
    public bool LegacyApiKeys { get; set; } = true;

    /// <summary>
    /// Proxies (addresses, or networks such as 10.0.0.0/8) whose X-Forwarded-For the gateway believes when it
    /// decides which client address a request comes from. Empty: the connection's own address, and
    /// X-Forwarded-For is ignored (anyone can send one).
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>How long a call to Auth.Api may take before the request is answered 503.</summary>
    public TimeSpan AuthTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>
    /// The origin browsers reach the gateway at (https://trulayer.example.com), for the CSRF check of cookie
    /// sessions. Unset: the request's own scheme and host, right unless a proxy in front changes them.
    /// </summary>
    public string? PublicOrigin { get; set; }

    /// <summary>Other origins whose pages may send state-changing requests with the session cookie (a dashboard hosted elsewhere).</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

/// <summary>"Gateway:RateLimit": a token bucket per API key and one per signed-in person.</summary>
public sealed class RateLimitOptions
{
    public TokenBucketOptions ApiKey { get; set; } = new() { PermitsPerSecond = 100, Burst = 200 };

    public TokenBucketOptions Session { get; set; } = new() { PermitsPerSecond = 50, Burst = 100 };

    /// <summary>
    /// Failed authentications (a credential refused with 401) per client address: over it, the address is
    /// answered 429 for whatever credential the gateway has not already verified.
    /// </summary>
    public FailedAuthenticationLimitOptions FailedAuthentication { get; set; } = new();
}

/// <summary>"Gateway:RateLimit:FailedAuthentication": a token bucket of failures per client address.</summary>
public sealed class FailedAuthenticationLimitOptions
{
    /// <summary>Failures per minute an address may go on making once its burst is spent.</summary>
    public int PermitsPerMinute { get; set; } = 60;

    /// <summary>Failures an address may make at once (the bucket's size).</summary>
    public int Burst { get; set; } = 20;

    /// <summary>
    /// How long the 429 of an address over its limit is held before it is sent, so a client that ignores
    /// Retry-After gets one answer per this time on each connection instead of as many as it can send.
    /// </summary>
    public TimeSpan RefusalDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The most 429s held at once (each holds a request); past that they are sent at once.</summary>
    public int MaxDelayedRefusals { get; set; } = 1_000;
}

public sealed class TokenBucketOptions
{
    /// <summary>Sustained requests per second.</summary>
    public int PermitsPerSecond { get; set; }

    /// <summary>Requests that may come at once after a quiet time (the bucket's size).</summary>
    public int Burst { get; set; }
}

/// <summary>The "Auth" section as the gateway reads it: the key of Auth.Api's internal routes.</summary>
public sealed class AuthClientOptions
{
    public const string SectionName = "Auth";

    /// <summary>Base64 of at least 32 random bytes, the same as Auth.Api's Auth:InternalKey. A secret.</summary>
    public string InternalKey { get; set; } = "";
}

internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        if (options.CredentialCacheTtl <= TimeSpan.Zero || options.CredentialCacheTtl > GatewayOptions.MaximumCredentialCacheTtl)
        {
            failures.Add($"Gateway:CredentialCacheTtl must be more than 0 and at most 30 seconds, so a revoked key stops working within 30 s (got {options.CredentialCacheTtl}).");
        }

        if (options.CredentialCacheSize < 1)
        {
            failures.Add($"Gateway:CredentialCacheSize must be at least 1 (got {options.CredentialCacheSize}).");
        }

        if (options.RefusalCacheTtl <= TimeSpan.Zero || options.RefusalCacheTtl > GatewayOptions.MaximumCredentialCacheTtl)
        {
            failures.Add($"Gateway:RefusalCacheTtl must be more than 0 and at most 30 seconds (got {options.RefusalCacheTtl}).");
        }

        if (options.RefusalCacheSize is < 1 or > GatewayOptions.MaximumRefusalCacheSize)
        {
            failures.Add($"Gateway:RefusalCacheSize must be from 1 to {GatewayOptions.MaximumRefusalCacheSize} slots (got {options.RefusalCacheSize}).");
        }

        for (var i = 0; i < options.TrustedProxies.Length; i++)
        {
            if (ClientAddress.ParseNetwork(options.TrustedProxies[i]) is null)
            {
                failures.Add($"Gateway:TrustedProxies:{i} must be an IP address (10.0.0.5) or a network (10.0.0.0/8, fd00::/8; got '{options.TrustedProxies[i]}').");
            }
        }

        if (options.AuthTimeout <= TimeSpan.Zero)
        {
            failures.Add($"Gateway:AuthTimeout must be positive (got {options.AuthTimeout}).");
        }

        foreach (var (origin, key) in options.AllowedOrigins.Select((o, i) => ((string?)o, $"Gateway:AllowedOrigins:{i}")).Prepend((options.PublicOrigin, "Gateway:PublicOrigin")))
        {
            if (origin is not null && !(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && uri.Query.Length == 0))
            {
                failures.Add($"{key} must be an origin such as https://trulayer.example.com (scheme, host and port only; got '{origin}').");
            }
        }

        Validate(options.RateLimit.ApiKey, "Gateway:RateLimit:ApiKey", failures);
        Validate(options.RateLimit.Session, "Gateway:RateLimit:Session", failures);
        if (options.RateLimit.FailedAuthentication.PermitsPerMinute is < 1 or > 60_000)
        {
            failures.Add($"Gateway:RateLimit:FailedAuthentication:PermitsPerMinute must be from 1 to 60000 (got {options.RateLimit.FailedAuthentication.PermitsPerMinute}).");
        }

        if (options.RateLimit.FailedAuthentication.Burst < 1)
        {
            failures.Add($"Gateway:RateLimit:FailedAuthentication:Burst must be at least 1 (got {options.RateLimit.FailedAuthentication.Burst}).");
        }

        if (options.RateLimit.FailedAuthentication.RefusalDelay < TimeSpan.Zero || options.RateLimit.FailedAuthentication.RefusalDelay > TimeSpan.FromSeconds(10))
        {
            failures.Add($"Gateway:RateLimit:FailedAuthentication:RefusalDelay must be from 0 (no delay) to 10 seconds (got {options.RateLimit.FailedAuthentication.RefusalDelay}).");
        }

        if (options.RateLimit.FailedAuthentication.MaxDelayedRefusals is < 0 or > 100_000)
        {
            failures.Add($"Gateway:RateLimit:FailedAuthentication:MaxDelayedRefusals must be from 0 to 100000 (got {options.RateLimit.FailedAuthentication.MaxDelayedRefusals}).");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Validate(TokenBucketOptions bucket, string key, List<string> failures)
    {
        if (bucket.PermitsPerSecond < 1)
        {
            failures.Add($"{key}:PermitsPerSecond must be at least 1 (got {bucket.PermitsPerSecond}).");
        }

        if (bucket.Burst < 1)
        {
            failures.Add($"{key}:Burst must be at least 1 (got {bucket.Burst}).");
        }
    }
}

internal sealed class AuthClientOptionsValidator : IValidateOptions<AuthClientOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthClientOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.InternalKey))
        {
            return ValidateOptionsResult.Fail(
                "Auth:InternalKey is missing: set it to the same value as Auth.Api's (base64 of at least 32 random bytes); the gateway sends it to verify callers.");
        }

        try
        {
            var bytes = Convert.FromBase64String(options.InternalKey);
            return bytes.Length >= 32
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"Auth:InternalKey holds {bytes.Length} bytes; it needs at least 32.");
        }
        catch (FormatException)
        {
            return ValidateOptionsResult.Fail("Auth:InternalKey is not valid base64.");
        }
    }
}
