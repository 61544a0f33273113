using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trulayer.Auth.Sessions;

namespace Trulayer.Auth.DevIssuer;

/// <summary>
/// Auth.Api as a session issuer for local runs: signs ES256 session tokens with the configured key
/// (never one in the code) and publishes the public half as a JWKS, which the session validator then
/// fetches like it fetches Clerk's. Exists only when Auth:DevIssuer:Enabled is true.
/// </summary>
internal sealed class DevSessionIssuer : IDisposable
{
    public const string JwksPath = "/.well-known/jwks.json";

    private readonly ECDsa _key;
    private readonly SigningCredentials _credentials;
    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new();

    public DevSessionIssuer(IOptions<AuthOptions> options, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _key = ECDsa.Create();
        _key.ImportPkcs8PrivateKey(Convert.FromBase64String(_options.DevIssuer.SigningKey), out _);
        var parameters = _key.ExportParameters(false);
        KeyId = Base64UrlEncoder.Encode(new JsonWebKey
        {
            Kty = JsonWebAlgorithmsKeyTypes.EllipticCurve,
            Crv = JsonWebKeyECTypes.P256,
            X = Base64UrlEncoder.Encode(parameters.Q.X),
            Y = Base64UrlEncoder.Encode(parameters.Q.Y),
        }.ComputeJwkThumbprint());
        Jwks = JsonSerializer.Serialize(new
        {
            keys = new[]
            {
                new
                {
                    kty = "EC",
                    crv = "P-256",
                    x = Base64UrlEncoder.Encode(parameters.Q.X),
                    y = Base64UrlEncoder.Encode(parameters.Q.Y),
                    kid = KeyId,
                    alg = SecurityAlgorithms.EcdsaSha256,
                    use = "sig",
                },
            },
        });
        _credentials = new SigningCredentials(new ECDsaSecurityKey(_key) { KeyId = KeyId }, SecurityAlgorithms.EcdsaSha256);
    }

    /// <summary>The RFC 7638 thumbprint of the public key: a new key gets a new id, so validators refetch.</summary>
    public string KeyId { get; }

    /// <summary>The public key as a JSON Web Key Set.</summary>
    public string Jwks { get; }

    /// <summary>A session token for <paramref name="userId"/>, acting in <paramref name="organizationId"/> when given.</summary>
    public (string Token, DateTimeOffset ExpiresAt) Mint(string userId, Guid? organizationId)
    {
        var now = _time.GetUtcNow();
        var expires = now + _options.DevIssuer.SessionLifetime;
        var claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = userId };
        if (organizationId is { } organization)
        {
            claims[SessionTokenValidator.OrganizationClaim] = organization.ToString();
        }

        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _options.Session.Issuer,
            Audience = _options.Session.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = claims,
            Subject = new ClaimsIdentity(),
            SigningCredentials = _credentials,
        });
        return (token, expires);
    }

    public void Dispose() => _key.Dispose();
}
