using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>
/// The signed identity assertion the gateway forwards in one header:
/// <c>v1.&lt;base64url(JSON claims)&gt;.&lt;base64url(HMAC-SHA256(key, "v1." + base64url(JSON)))&gt;</c>.
/// The claims carry the caller and an issue and expiry time in unix seconds; a service accepts an
/// assertion only with a valid MAC, within its lifetime.
/// </summary>
public static class IdentityAssertion
{
    /// <summary>The request header that carries the assertion. The gateway strips any value a client sent.</summary>
    public const string HeaderName = "X-Trulayer-Identity";

    internal const string Version = "v1";

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    internal sealed record Claims(
        [property: JsonPropertyName("kind")] string Kind,
        [property: JsonPropertyName("org")] Guid Organization,
        [property: JsonPropertyName("projects")] Guid[] Projects,
        [property: JsonPropertyName("role")] string? Role,
        [property: JsonPropertyName("sub")] string? Subject,
        [property: JsonPropertyName("key")] Guid? ApiKeyId,
        [property: JsonPropertyName("iat")] long IssuedAt,
        [property: JsonPropertyName("exp")] long ExpiresAt,
        [property: JsonPropertyName("content")] IReadOnlyDictionary<Guid, ContentPolicy>? Content = null);

    internal static string KindName(CallerKind kind) => kind switch
    {
        CallerKind.ApiKey => "api_key",
        CallerKind.Session => "session",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    internal static CallerKind? ParseKind(string kind) => kind switch
    {
        "api_key" => CallerKind.ApiKey,
        "session" => CallerKind.Session,
        _ => null,
    };

    internal static byte[] Mac(byte[] key, string signedPart) => HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signedPart));
}

/// <summary>Signs assertions; used by the gateway (and by tests that call a service directly).</summary>
public sealed class IdentityAssertionSigner(IOptions<IdentityOptions> options, TimeProvider time)
{
    private readonly byte[] _key = options.Value.KeyBytes();

    public string Sign(CallerIdentity caller)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var claims = new IdentityAssertion.Claims(
            IdentityAssertion.KindName(caller.Kind),
            caller.OrganizationId,
            [.. caller.ProjectIds],
            caller.Role,
            caller.Subject,
            caller.ApiKeyId,
            now,
            now + (long)options.Value.AssertionLifetime.TotalSeconds,
            caller.ContentPolicies is { Count: > 0 } policies ? policies : null);
        var payload = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims, IdentityAssertion.JsonOptions));
        var signedPart = $"{IdentityAssertion.Version}.{payload}";
        return $"{signedPart}.{Base64Url.EncodeToString(IdentityAssertion.Mac(_key, signedPart))}";
    }
}

/// <summary>Verifies assertions; every service behind the gateway checks each request with it.</summary>
public sealed class IdentityAssertionVerifier(IOptions<IdentityOptions> options, TimeProvider time)
{
    private readonly byte[] _key = options.Value.KeyBytes();

    /// <summary>The caller, or null with the reason in <paramref name="error"/>.</summary>
    public CallerIdentity? Verify(string? assertion, out string error)
    {
        if (string.IsNullOrEmpty(assertion))
        {
            error = $"missing {IdentityAssertion.HeaderName}: call this service through the gateway";
            return null;
        }

        var parts = assertion.Split('.');
        if (parts.Length != 3 || parts[0] != IdentityAssertion.Version)
        {
            error = "malformed identity assertion";
            return null;
        }

        byte[] mac;
        byte[] payload;
        try
        {
            mac = Base64Url.DecodeFromChars(parts[2]);
            payload = Base64Url.DecodeFromChars(parts[1]);
        }
        catch (FormatException)
        {
            error = "malformed identity assertion";
            return null;
        }

        var expected = IdentityAssertion.Mac(_key, $"{parts[0]}.{parts[1]}");
        if (!CryptographicOperations.FixedTimeEquals(expected, mac))
        {
            error = "identity assertion signature is invalid";
            return null;
        }

        IdentityAssertion.Claims? claims;
        try
        {
            claims = JsonSerializer.Deserialize<IdentityAssertion.Claims>(payload, IdentityAssertion.JsonOptions);
        }
        catch (JsonException)
        {
            claims = null;
        }

        var kind = claims is null ? null : IdentityAssertion.ParseKind(claims.Kind);
        if (claims is null || kind is null || claims.Projects is null)
        {
            error = "malformed identity assertion";
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var skew = (long)options.Value.ClockSkew.TotalSeconds;
        if (now > claims.ExpiresAt + skew || claims.IssuedAt > now + skew)
        {
            error = "identity assertion expired";
            return null;
        }

        error = "";
        return new CallerIdentity(kind.Value, claims.Organization, claims.Projects, claims.Role, claims.Subject, claims.ApiKeyId, claims.Content);
    }
}
