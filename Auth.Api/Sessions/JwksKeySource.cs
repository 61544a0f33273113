using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Trulayer.Auth.Sessions;

/// <summary>
/// The session issuer's signing keys, fetched from its JWKS URL and kept for
/// <see cref="SessionOptions.JwksRefreshInterval"/>. A token signed with a key id the set does not hold
/// means the issuer rotated its keys: the set is fetched again, but never more often than
/// <see cref="SessionOptions.JwksMinimumRefreshInterval"/>, so tokens with made-up key ids cannot turn
/// into a flood of fetches. Only RSA and EC keys are taken (never symmetric ones).
/// </summary>
internal sealed partial class JwksKeySource(
    IHttpClientFactory httpClientFactory,
    IOptions<AuthOptions> options,
    TimeProvider time,
    ILogger<JwksKeySource> logger)
{
    public const string HttpClientName = "jwks";

    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly Uri _url = options.Value.Session.ResolveJwksUrl();
    private volatile KeySet? _keys;
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;

    private sealed record KeySet(IReadOnlyList<SecurityKey> Keys, DateTimeOffset FetchedAt);

    /// <summary>
    /// The keys to validate a token with key id <paramref name="kid"/>; fetches the set when it is old,
    /// missing, or lacks that key id (within the refresh floor). Null when the set cannot be had.
    /// </summary>
    public async Task<IReadOnlyList<SecurityKey>?> GetKeysAsync(string? kid, CancellationToken cancellationToken)
    {
        var keys = _keys;
        if (keys is not null && !IsStale(keys) && (kid is null || Holds(keys, kid)))
        {
            return keys.Keys;
        }

        await _fetching.WaitAsync(cancellationToken);
        try
        {
            keys = _keys;
            var mayFetch = time.GetUtcNow() - _lastAttempt >= options.Value.Session.JwksMinimumRefreshInterval;
            var needsFetch = keys is null || IsStale(keys) || (kid is not null && !Holds(keys, kid));
            if (needsFetch && mayFetch)
            {
                keys = await FetchAsync(cancellationToken) ?? keys;
            }

            return keys?.Keys;
        }
        finally
        {
            _fetching.Release();
        }
    }

    private bool IsStale(KeySet keys) => time.GetUtcNow() - keys.FetchedAt >= options.Value.Session.JwksRefreshInterval;

    private static bool Holds(KeySet keys, string kid) => keys.Keys.Any(k => k.KeyId == kid);

    private async Task<KeySet?> FetchAsync(CancellationToken cancellationToken)
    {
        _lastAttempt = time.GetUtcNow();
        try
        {
            var json = await httpClientFactory.CreateClient(HttpClientName).GetStringAsync(_url, cancellationToken);
            var signingKeys = new JsonWebKeySet(json).GetSigningKeys()
                .Where(k => k is RsaSecurityKey or ECDsaSecurityKey || (k is JsonWebKey { Kty: "RSA" or "EC" }))
                .ToList();
            var keys = new KeySet(signingKeys, time.GetUtcNow());
            _keys = keys;
            Log.Fetched(logger, _url, signingKeys.Count);
            return keys;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or ArgumentException or System.Text.Json.JsonException)
        {
            Log.FetchFailed(logger, _url, ex.Message);
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Fetched the session issuer's JWKS from {Url}: {Count} signing key(s)")]
        public static partial void Fetched(ILogger logger, Uri url, int count);

        [LoggerMessage(EventId = 1311, Level = LogLevel.Warning, Message = "Could not fetch the session issuer's JWKS from {Url}: {Error}")]
        public static partial void FetchFailed(ILogger logger, Uri url, string error);
    }
}
