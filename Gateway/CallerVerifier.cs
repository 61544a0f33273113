using System.Buffers.Binary;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>
/// The gateway's verdict on a credential for a policy: the caller (200), a refusal with its reason
/// (401, 403), 429 (the client's address failed too often) or 503 (Auth.Api could not be asked), the
/// last two with how long to wait. <paramref name="ExpiresAt"/> is a session's expiry.
/// </summary>
internal sealed record Verdict(int Status, CallerIdentity? Caller, string Error, DateTimeOffset? ExpiresAt = null, TimeSpan? RetryAfter = null)
{
    public static Verdict Unavailable(string error) => new(StatusCodes.Status503ServiceUnavailable, null, error, RetryAfter: TimeSpan.FromSeconds(1));

    public static Verdict Unauthenticated(string error) => new(StatusCodes.Status401Unauthorized, null, error);
}

/// <summary>
/// Decides who a credential belongs to and whether it passes a policy, spending as little as it can on
/// credentials that will not pass:
/// <list type="number">
/// <item>an API key that is malformed or whose checksum fails (<see cref="ApiKeyFormat"/>) is refused here,
/// and so is a key of the old format when Gateway:LegacyApiKeys is off;</item>
/// <item>a verdict on a valid credential (200, or 403 for the route) is reused for at most
/// <see cref="GatewayOptions.CredentialCacheTtl"/>, never past a session's expiry;</item>
/// <item>Auth.Api's refusals (401) are kept for <see cref="GatewayOptions.RefusalCacheTtl"/> in a
/// <see cref="RefusalCache"/> of fixed size, apart from the verdicts above, so made-up credentials can
/// neither fill the memory nor push a valid credential's verdict out;</item>
/// <item>a client address that used up its failed authentications (<see cref="CallerRateLimiter"/>) is
/// answered 429 instead of any of these refusals, and instead of asking Auth.Api, after a delay;</item>
/// <item>only then Auth.Api is asked (POST /v1/auth/verify), once for all the requests that wait on the
/// same credential and policy.</item>
/// </list>
/// Every 401 counts against the client address. Failures to reach Auth.Api are never kept. Credentials are
/// kept only as SHA-256 digests.
/// </summary>
internal sealed partial class CallerVerifier : IDisposable
{
    public const string HttpClientName = "auth-verify";

    /// <summary>Auth.Api's internal-key header (Auth.Api's InternalApi.KeyHeader).</summary>
    public const string InternalKeyHeader = "X-Trulayer-Internal-Key";

    private const string LegacyKeysRefused =
        "API keys of the format issued before checksums (46 characters) are no longer accepted: create a new key";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly GatewayOptions _options;
    private readonly string _internalKey;
    private readonly CallerRateLimiter _rateLimiter;
    private readonly TimeProvider _time;
    private readonly ILogger<CallerVerifier> _logger;
    private readonly MemoryCache _verdicts;
    private readonly RefusalCache _refusals;
    /// <summary>The lookups under way, by credential and policy: the verdict, or null when the owner was not admitted (nobody was asked).</summary>
    private readonly ConcurrentDictionary<string, Task<Verdict?>> _asking = new(StringComparer.Ordinal);
    private int _delayedRefusals;

    public CallerVerifier(
        IHttpClientFactory httpClientFactory,
        IOptions<GatewayOptions> options,
        IOptions<AuthClientOptions> authOptions,
        CallerRateLimiter rateLimiter,
        TimeProvider time,
        ILogger<CallerVerifier> logger)
    {
        _httpClientFactory = httpClientFactory;
        _options = options.Value;
        _internalKey = authOptions.Value.InternalKey;
        _rateLimiter = rateLimiter;
        _time = time;
        _logger = logger;
        _verdicts = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.CredentialCacheSize });
        _refusals = new RefusalCache(_options.RefusalCacheSize, _options.RefusalCacheTtl, time);
    }

    private sealed record VerifyResponse(
        string Kind,
        Guid? OrganizationId,
        Guid[] ProjectIds,
        string? Role,
        string? Subject,
        Guid? ApiKeyId,
        DateTimeOffset? ExpiresAt,
        Dictionary<Guid, ContentPolicy>? ContentPolicies);

    /// <summary>The verdict on <paramref name="credential"/> for <paramref name="policy"/>, sent from <paramref name="client"/>.</summary>
    public async Task<Verdict> VerifyAsync(string credential, string policy, IPAddress? client, string correlationId, CancellationToken cancellationToken)
    {
        // No valid credential is refused here, so no verdict can be missed by looking at this first.
        if (RefuseWithoutAsking(credential) is { } malformed)
        {
            return await CountFailureAsync(client, malformed, cancellationToken);
        }

        var digest = CredentialDigest.Of(credential);
        var key = digest.Key(policy);
        if (_verdicts.TryGetValue(key, out Verdict? known) && known is not null)
        {
            if (!(known.ExpiresAt <= _time.GetUtcNow()))
            {
                return known;
            }

            // The session expired while its verdict was kept: Auth.Api says so, with the reason.
            _verdicts.Remove(key);
        }

        if (_refusals.Find(digest) is { } refusal)
        {
            return await CountFailureAsync(client, refusal, cancellationToken);
        }

        while (true)
        {
            // Joining a lookup already under way costs nothing more.
            if (_asking.TryGetValue(key, out var pending))
            {
                if (await pending.WaitAsync(cancellationToken) is not { } joined)
                {
                    continue; // Its owner was not admitted, so nobody was asked: start again.
                }

                return CountIfRefused(client, joined, paid: false);
            }

            // A new lookup needs the address's permission. It is registered first, then admitted: requests that
            // arrive together join the one registered lookup, and none pays for a lookup it does not make.
            var owned = new TaskCompletionSource<Verdict?>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_asking.TryAdd(key, owned.Task))
            {
                continue;
            }

            using var permit = _rateLimiter.AdmitLookup(client);
            if (permit.RetryAfter is { } wait)
            {
                _asking.TryRemove(KeyValuePair.Create(key, owned.Task));
                owned.SetResult(null);
                return await TooManyFailuresAsync(client, wait, cancellationToken);
            }

            var verdict = await AskAndKeepAsync(key, digest, credential, policy, correlationId, owned).WaitAsync(cancellationToken);
            return CountIfRefused(client, verdict, permit.Paid);
        }
    }

    /// <summary>A 401 from Auth.Api counts as a failed authentication of the address, unless its lookup was paid for up front.</summary>
    private Verdict CountIfRefused(IPAddress? client, Verdict verdict, bool paid)
    {
        if (verdict.Status == StatusCodes.Status401Unauthorized && !paid)
        {
            // Answered 401 all the same: Auth.Api was asked, and that is the answer.
            _rateLimiter.TryCountFailedAuthentication(client);
        }

        return verdict;
    }

    /// <summary>Forgets every verdict about <paramref name="credential"/>, after its holder changed what it grants.</summary>
    public void Forget(string credential)
    {
        var digest = CredentialDigest.Of(credential);
        foreach (var policy in GatewayRoutes.Policies)
        {
            _verdicts.Remove(digest.Key(policy));
        }
    }

    /// <summary>A refusal of an API key that no lookup could accept, or null.</summary>
    private Verdict? RefuseWithoutAsking(string credential)
    {
        if (!credential.StartsWith(ApiKeyFormat.Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var shape = ApiKeyFormat.Check(credential);
        if (ApiKeyFormat.Refusal(shape) is { } refusal)
        {
            return Verdict.Unauthenticated(refusal);
        }

        return shape == ApiKeyShape.Legacy && !_options.LegacyApiKeys ? Verdict.Unauthenticated(LegacyKeysRefused) : null;
    }

    /// <summary><paramref name="refusal"/>, counted against <paramref name="client"/>; 429 instead when it has no failure left.</summary>
    private ValueTask<Verdict> CountFailureAsync(IPAddress? client, Verdict refusal, CancellationToken cancellationToken)
        => _rateLimiter.TryCountFailedAuthentication(client) is { } over ? TooManyFailuresAsync(client, over, cancellationToken) : ValueTask.FromResult(refusal);

    /// <summary>
    /// The 429 of an address over its limit, held for RefusalDelay first (while fewer than MaxDelayedRefusals
    /// are held): a client that ignores Retry-After then gets one answer a second per connection, at the cost
    /// of a timer here, instead of as many cheap refusals as it can make us write.
    /// </summary>
    private async ValueTask<Verdict> TooManyFailuresAsync(IPAddress? client, TimeSpan wait, CancellationToken cancellationToken)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var verdict = new Verdict(
            StatusCodes.Status429TooManyRequests,
            null,
            $"too many failed authentications from {ClientAddress.Partition(client)}: retry after {seconds} s, and check the API key or session this client sends " +
            "(until then, credentials the gateway has not already verified are refused from this address)",
            RetryAfter: wait);
        var limit = _options.RateLimit.FailedAuthentication;
        if (limit.RefusalDelay <= TimeSpan.Zero)
        {
            return verdict;
        }

        try
        {
            if (Interlocked.Increment(ref _delayedRefusals) <= limit.MaxDelayedRefusals)
            {
                await Task.Delay(limit.RefusalDelay, _time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left; the answer goes nowhere.
        }
        finally
        {
            Interlocked.Decrement(ref _delayedRefusals);
        }

        return verdict;
    }

    /// <summary>Asks Auth.Api and keeps the verdict, then hands it to the requests that joined <paramref name="owned"/>.</summary>
    private async Task<Verdict> AskAndKeepAsync(string key, CredentialDigest digest, string credential, string policy, string correlationId, TaskCompletionSource<Verdict?> owned)
    {
        Verdict? answered = null;
        try
        {
            var verdict = await AskAuthAsync(credential, policy, correlationId);
            if (verdict.Status == StatusCodes.Status401Unauthorized)
            {
                _refusals.Add(digest, verdict);
            }
            else if (verdict.Status is StatusCodes.Status200OK or StatusCodes.Status403Forbidden && verdict.Caller is not { Kind: CallerKind.Session, Role: null })
            {
                // Not kept: a session in no organization (about to create or join one), and 503s
                // (Auth.Api may be back in a moment).
                using var entry = _verdicts.CreateEntry(key);
                entry.Value = verdict;
                entry.Size = 1;
                entry.AbsoluteExpirationRelativeToNow = _options.CredentialCacheTtl;
            }

            answered = verdict;
            return verdict;
        }
        finally
        {
            // After the verdict is kept: a request arriving in between finds one or the other.
            _asking.TryRemove(KeyValuePair.Create(key, owned.Task));
            if (answered is not null)
            {
                owned.SetResult(answered);
            }
            else
            {
                owned.SetException(new InvalidOperationException("the lookup of a credential failed; see the gateway's log"));
            }
        }
    }

    private async Task<Verdict> AskAuthAsync(string credential, string policy, string correlationId)
    {
        // Not the request's token: other requests may be waiting on this same answer.
        using var timeout = new CancellationTokenSource(_options.AuthTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/verify")
            {
                Content = JsonContent.Create(new { credential, policy }, options: Json),
            };
            request.Headers.Add(InternalKeyHeader, _internalKey);
            request.Headers.Add(CorrelationIdMiddleware.HeaderName, correlationId);
            using var response = await _httpClientFactory.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            switch ((int)response.StatusCode)
            {
                case StatusCodes.Status200OK:
                    var body = await response.Content.ReadFromJsonAsync<VerifyResponse>(Json, timeout.Token)
                               ?? throw new JsonException("empty body");
                    var caller = new CallerIdentity(
                        body.Kind == "api_key" ? CallerKind.ApiKey : CallerKind.Session,
                        body.OrganizationId ?? Guid.Empty,
                        body.ProjectIds,
                        body.Role,
                        body.Subject,
                        body.ApiKeyId,
                        body.ContentPolicies);
                    return new Verdict(StatusCodes.Status200OK, caller, "", body.ExpiresAt);
                case StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden:
                    var refusal = await response.Content.ReadFromJsonAsync<ErrorResponse>(Json, timeout.Token);
                    return new Verdict((int)response.StatusCode, null, refusal?.Error ?? "the credential was refused");
                default:
                    var text = await response.Content.ReadAsStringAsync(timeout.Token);
                    Log.AuthFailed(_logger, $"{(int)response.StatusCode} {text}", correlationId);
                    return Verdict.Unavailable("callers cannot be verified right now: try again shortly");
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or NotSupportedException)
        {
            Log.AuthFailed(_logger, ex.Message, correlationId);
            return Verdict.Unavailable("callers cannot be verified right now: try again shortly");
        }
    }

    public void Dispose() => _verdicts.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 1400, Level = LogLevel.Warning, Message = "Auth.Api could not verify a caller: {Error} ({CorrelationId})")]
        public static partial void AuthFailed(ILogger logger, string error, string correlationId);
    }
}

/// <summary>A credential as the gateway remembers it: its SHA-256, never the credential itself.</summary>
internal readonly record struct CredentialDigest(UInt128 Head, UInt128 Tail)
{
    public static CredentialDigest Of(string credential)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(credential), digest);
        return new CredentialDigest(BinaryPrimitives.ReadUInt128LittleEndian(digest), BinaryPrimitives.ReadUInt128LittleEndian(digest[16..]));
    }

    /// <summary>The key of a verdict for <paramref name="policy"/>.</summary>
    public string Key(string policy)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        BinaryPrimitives.WriteUInt128LittleEndian(digest, Head);
        BinaryPrimitives.WriteUInt128LittleEndian(digest[16..], Tail);
        return policy + ":" + Base64Url.EncodeToString(digest);
    }
}

/// <summary>
/// Auth.Api's recent refusals (401), so a client that repeats a bad credential costs no call: a table of a
/// fixed number of slots, each holding at most one refusal, for at most the TTL. A credential's digest picks
/// its slot, and a new refusal overwrites what the slot held: a flood of distinct made-up credentials only
/// churns this table, never grows it, and never touches the verdicts on valid credentials (kept apart).
/// Reads and writes are single reference reads and writes: no lock.
/// </summary>
internal sealed class RefusalCache
{
    private sealed record Entry(CredentialDigest Digest, Verdict Verdict, long ExpiresAt);

    private readonly Entry?[] _slots;
    private readonly int _mask;
    private readonly long _ttl;
    private readonly TimeProvider _time;

    public RefusalCache(int size, TimeSpan ttl, TimeProvider time)
    {
        _slots = new Entry?[BitOperations.RoundUpToPowerOf2((uint)size)];
        _mask = _slots.Length - 1;
        _ttl = (long)(ttl.TotalSeconds * time.TimestampFrequency);
        _time = time;
    }

    /// <summary>The number of slots (the size asked for, rounded up to a power of two).</summary>
    public int Capacity => _slots.Length;

    public Verdict? Find(CredentialDigest digest)
    {
        var entry = Volatile.Read(ref _slots[Slot(digest)]);
        return entry is not null && entry.Digest == digest && entry.ExpiresAt > _time.GetTimestamp() ? entry.Verdict : null;
    }

    public void Add(CredentialDigest digest, Verdict refusal)
        => Volatile.Write(ref _slots[Slot(digest)], new Entry(digest, refusal, _time.GetTimestamp() + _ttl));

    private int Slot(CredentialDigest digest) => (int)(uint)digest.Tail & _mask;
}
