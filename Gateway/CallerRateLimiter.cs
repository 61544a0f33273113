using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>
/// A token bucket per API key and one per signed-in person (Gateway:RateLimit), and one of failed
/// authentications per client address (Gateway:RateLimit:FailedAuthentication). A refused request learns
/// from the bucket when a token will be there again, which becomes its Retry-After.
/// </summary>
internal sealed partial class CallerRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<CallerIdentity> _limiter;
    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly ILogger<CallerRateLimiter> _logger;

    public CallerRateLimiter(IOptions<GatewayOptions> options, ILogger<CallerRateLimiter> logger)
    {
        _logger = logger;
        var apiKey = BucketOptions(options.Value.RateLimit.ApiKey);
        var session = BucketOptions(options.Value.RateLimit.Session);
        _limiter = PartitionedRateLimiter.Create<CallerIdentity, string>(caller => caller.Kind == CallerKind.ApiKey
            ? RateLimitPartition.GetTokenBucketLimiter("key:" + caller.ApiKeyId, _ => apiKey)
            : RateLimitPartition.GetTokenBucketLimiter("user:" + caller.Subject, _ => session));
        // A partition whose bucket has been full for a while is dropped by the limiter itself, so the
        // addresses kept are about those that failed lately.
        var limit = options.Value.RateLimit.FailedAuthentication;
        var failures = new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.Burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / limit.PermitsPerMinute,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => failures));
    }

    /// <summary>Null when the request may go on, else how long the caller should wait.</summary>
    public TimeSpan? TryAcquire(CallerIdentity caller)
    {
        using var lease = _limiter.AttemptAcquire(caller);
        return lease.IsAcquired ? null : RetryAfter(lease);
    }

    /// <summary>
    /// Null while <paramref name="client"/> may still fail to authenticate, else how long until it may again.
    /// Takes nothing from the bucket: only a failure does.
    /// </summary>
    public TimeSpan? FailedAuthenticationsExhausted(IPAddress? client)
    {
        using var lease = _failures.AttemptAcquire(ClientAddress.Partition(client), 0);
        return lease.IsAcquired ? null : RetryAfter(lease);
    }

    /// <summary>
    /// Counts a failed authentication of <paramref name="client"/>: null when it was within the limit, else
    /// (nothing left to take) how long until the address may fail again.
    /// </summary>
    public TimeSpan? TryCountFailedAuthentication(IPAddress? client)
    {
        var partition = ClientAddress.Partition(client);
        using var lease = _failures.AttemptAcquire(partition);
        if (!lease.IsAcquired)
        {
            return RetryAfter(lease);
        }

        if (FailedAuthenticationsExhausted(client) is { } retryAfter)
        {
            Log.FailedAuthenticationsExhausted(_logger, partition.ToString(), retryAfter.TotalSeconds);
        }

        return null;
    }

    private static TimeSpan RetryAfter(RateLimitLease lease)
        => lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);

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

    public void Dispose()
    {
        _limiter.Dispose();
        _failures.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Warning,
            Message = "Client {ClientAddress} used up its failed authentications: it is answered 429 for credentials not yet verified, for {RetryAfterSeconds:0.0} s and as long as it goes on failing")]
        public static partial void FailedAuthenticationsExhausted(ILogger logger, string clientAddress, double retryAfterSeconds);
    }
}

/// <summary>
/// Which client a request comes from, for the limit on failed authentications: the connection's address,
/// or, when the connection comes from one of Gateway:TrustedProxies, the address that proxy names in
/// X-Forwarded-For (ASP.NET Core's forwarded-headers middleware, set up in MapGateway, walks the header
/// from the right while the hops are trusted). IPv6 clients count per /64, the block one subscriber gets.
/// </summary>
internal static class ClientAddress
{
    private const int IPv6SubscriberPrefix = 64;

    /// <summary>The bucket <paramref name="address"/> counts in: IPv4 (mapped or not) itself, IPv6 its /64.</summary>
    public static IPAddress Partition(IPAddress? address)
    {
        if (address is null)
        {
            return IPAddress.None;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[(IPv6SubscriberPrefix / 8)..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>An address (a network of one) or a network in CIDR notation; null when it is neither.</summary>
    public static IPNetwork? ParseNetwork(string? value)
    {
        if (IPAddress.TryParse(value, out var address))
        {
            return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        }

        return IPNetwork.TryParse(value, out var network) ? network : null;
    }
}
