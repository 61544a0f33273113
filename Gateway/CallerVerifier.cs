using System.Buffers.Text;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>
/// Auth.Api's answer about a credential and a policy: the caller (200), a refusal with its reason
/// (401, 403), or 503 when it could not be asked. <paramref name="ExpiresAt"/> is a session's expiry.
/// </summary>
internal sealed record Verdict(int Status, CallerIdentity? Caller, string Error, DateTimeOffset? ExpiresAt = null)
{
    public static Verdict Unavailable(string error) => new(StatusCodes.Status503ServiceUnavailable, null, error);
}

/// <summary>
/// Asks Auth.Api (POST /v1/auth/verify) who a credential belongs to and whether it passes a policy,
/// and reuses the answer for at most <see cref="GatewayOptions.CredentialCacheTtl"/> (never past a
/// session's expiry), so most requests cost no call. Concurrent requests with the same credential
/// share one call. Refusals are reused too (a key that is unknown or revoked stays so); failures to
/// reach Auth.Api are not. Credentials are kept only as SHA-256 digests.
/// </summary>
internal sealed partial class CallerVerifier : IDisposable
{
    public const string HttpClientName = "auth-verify";

    /// <summary>Auth.Api's internal-key header (Auth.Api's InternalApi.KeyHeader).</summary>
    public const string InternalKeyHeader = "X-Trulayer-Internal-Key";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly GatewayOptions _options;
    private readonly string _internalKey;
    private readonly TimeProvider _time;
    private readonly ILogger<CallerVerifier> _logger;
    private readonly MemoryCache _cache;

    public CallerVerifier(
        IHttpClientFactory httpClientFactory,
        IOptions<GatewayOptions> options,
        IOptions<AuthClientOptions> authOptions,
        TimeProvider time,
        ILogger<CallerVerifier> logger)
    {
        _httpClientFactory = httpClientFactory;
        _options = options.Value;
        _internalKey = authOptions.Value.InternalKey;
        _time = time;
        _logger = logger;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.CredentialCacheSize });
    }

    private sealed record VerifyResponse(
        string Kind,
        Guid? OrganizationId,
        Guid[] ProjectIds,
        string? Role,
        string? Subject,
        Guid? ApiKeyId,
        DateTimeOffset? ExpiresAt);

    public async Task<Verdict> VerifyAsync(string credential, string policy, string correlationId, CancellationToken cancellationToken)
    {
        var key = CacheKey(credential, policy);
        var result = await GetOrAskAsync(key, credential, policy, correlationId).WaitAsync(cancellationToken);
        if (result.ExpiresAt <= _time.GetUtcNow())
        {
            // The session expired while its verdict was kept: Auth.Api says so, with the reason.
            _cache.Remove(key);
            result = await GetOrAskAsync(key, credential, policy, correlationId).WaitAsync(cancellationToken);
        }

        if (result.Status == StatusCodes.Status503ServiceUnavailable || result.Caller is { Kind: CallerKind.Session, Role: null })
        {
            // Not reused: Auth.Api may be back in a moment; someone in no organization is about to
            // create or join one.
            _cache.Remove(key);
        }

        return result;
    }

    private Task<Verdict> GetOrAskAsync(string key, string credential, string policy, string correlationId)
    {
        if (_cache.TryGetValue(key, out Task<Verdict>? verdict) && verdict is not null)
        {
            return verdict;
        }

        verdict = AskAuthAsync(credential, policy, correlationId);
        using var entry = _cache.CreateEntry(key);
        entry.Value = verdict;
        entry.Size = 1;
        entry.AbsoluteExpirationRelativeToNow = _options.CredentialCacheTtl;
        return verdict;
    }

    /// <summary>Forgets every verdict about <paramref name="credential"/>, after its holder changed what it grants.</summary>
    public void Forget(string credential)
    {
        foreach (var policy in GatewayRoutes.Policies)
        {
            _cache.Remove(CacheKey(credential, policy));
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
                        body.ApiKeyId);
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

    private static string CacheKey(string credential, string policy)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(credential), digest);
        return policy + ":" + Base64Url.EncodeToString(digest);
    }

    public void Dispose() => _cache.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 1400, Level = LogLevel.Warning, Message = "Auth.Api could not verify a caller: {Error} ({CorrelationId})")]
        public static partial void AuthFailed(ILogger logger, string error, string correlationId);
    }
}
