using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>
/// A token bucket per API key and one per signed-in person (Gateway:RateLimit). A refused request
/// learns from the bucket when a token will be there again, which becomes its Retry-After.
/// </summary>
internal sealed class CallerRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<CallerIdentity> _limiter;

    public CallerRateLimiter(IOptions<GatewayOptions> options)
    {
        var apiKey = BucketOptions(options.Value.RateLimit.ApiKey);
        var session = BucketOptions(options.Value.RateLimit.Session);
        _limiter = PartitionedRateLimiter.Create<CallerIdentity, string>(caller => caller.Kind == CallerKind.ApiKey
            ? RateLimitPartition.GetTokenBucketLimiter("key:" + caller.ApiKeyId, _ => apiKey)
            : RateLimitPartition.GetTokenBucketLimiter("user:" + caller.Subject, _ => session));
    }

    /// <summary>Null when the request may go on, else how long the caller should wait.</summary>
    public TimeSpan? TryAcquire(CallerIdentity caller)
    {
        using var lease = _limiter.AttemptAcquire(caller);
        if (lease.IsAcquired)
        {
            return null;
        }

        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
    }

    /// <summary>
    /// Refills in steps of about a tenth of a second (PermitsPerSecond / 10 tokens, at least one), which
    /// keeps the exact sustained rate and makes Retry-After short.
    /// </summary>
    private static TokenBucketRateLimiterOptions BucketOptions(TokenBucketOptions bucket)
    {
        var tokensPerPeriod = Math.Max(1, bucket.PermitsPerSecond / 10);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = bucket.Burst,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = TimeSpan.FromSeconds((double)tokensPerPeriod / bucket.PermitsPerSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    public void Dispose() => _limiter.Dispose();
}
