using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway;

/// <summary>
/// A token bucket per API key and one per signed-in person (Gateway:RateLimit), and one of failed
/// authentications per client address (Gateway:RateLimit:FailedAuthentication). A refused request learns
/// from the bucket when a token will be there again, which becomes its Retry-After. Failures are counted
/// in whole tokens: the buckets refill in fractions, and AttemptAcquire(0) already succeeds on one.
/// </summary>
internal sealed partial class CallerRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<CallerIdentity> _limiter;
    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly PartitionedRateLimiter<IPAddress> _unpaidLookups;
    private readonly ILogger<CallerRateLimiter> _logger;

    /// <summary>How long the failure bucket takes to gain one token.</summary>
    private readonly TimeSpan _failureRefill;
    private readonly int _failureBurst;

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
        _failureRefill = TimeSpan.FromMinutes(1) / limit.PermitsPerMinute;
        _failureBurst = limit.Burst;
        var failures = new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.Burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = _failureRefill,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => failures));
        var unpaid = new ConcurrencyLimiterOptions { PermitLimit = Math.Max(1, limit.Burst / 2), QueueLimit = 0 };
        _unpaidLookups = PartitionedRateLimiter.Create<IPAddress, IPAddress>(client => RateLimitPartition.GetConcurrencyLimiter(client, _ => unpaid));
    }

    /// <summary>Null when the request may go on, else how long the caller should wait.</summary>
    public TimeSpan? TryAcquire(CallerIdentity caller)
    {
        using var lease = _limiter.AttemptAcquire(caller);
        return lease.IsAcquired ? null : RetryAfter(lease);
    }

    /// <summary>
    /// Whether <paramref name="client"/> may have a credential looked up (Auth.Api asked). While the address
    /// has more than half its burst of failures left, a lookup is paid for only if it fails, and at most
    /// half the burst of those run at once; past that, each lookup takes its token up front. So requests
    /// that arrive together never get more lookups than the bucket allows, and a client that does not fail
    /// pays nothing. Dispose the permit when the lookup is done.
    /// </summary>
    public LookupPermit AdmitLookup(IPAddress? client)
    {
        var partition = ClientAddress.Partition(client);
        var available = WholeTokens(partition);
        if (available < 1)
        {
            return new LookupPermit(null, Paid: false, _failureRefill);
        }

        if (available > _failureBurst / 2)
        {
            var unpaid = _unpaidLookups.AttemptAcquire(partition);
            if (unpaid.IsAcquired)
            {
                return new LookupPermit(unpaid, Paid: false, null);
            }

            unpaid.Dispose();
        }

        var wait = Take(partition);
        return new LookupPermit(null, Paid: wait is null, wait);
    }

    /// <summary>
    /// Counts a failed authentication of <paramref name="client"/>: null when it was within the limit, else
    /// (nothing left to take) how long until the address may fail again.
    /// </summary>
    public TimeSpan? TryCountFailedAuthentication(IPAddress? client) => Take(ClientAddress.Partition(client));

    private TimeSpan? Take(IPAddress partition)
    {
        using var lease = _failures.AttemptAcquire(partition);
        if (!lease.IsAcquired)
        {
            return RetryAfter(lease);
        }

        if (WholeTokens(partition) < 1)
        {
            Log.FailedAuthenticationsExhausted(_logger, partition.ToString(), _failureRefill.TotalSeconds);
        }

        return null;
    }

    /// <summary>Whole tokens left in the failure bucket of <paramref name="partition"/>.</summary>
    private long WholeTokens(IPAddress partition) => _failures.GetStatistics(partition)?.CurrentAvailablePermits ?? long.MaxValue;

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
        _unpaidLookups.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Warning,
            Message = "Client {ClientAddress} used up its failed authentications: it is answered 429 for credentials not yet verified, for {RetryAfterSeconds:0.0} s and as long as it goes on failing")]
        public static partial void FailedAuthenticationsExhausted(ILogger logger, string clientAddress, double retryAfterSeconds);
    }
}

/// <summary>
/// A client address's permission to have a credential looked up: refused (<paramref name="RetryAfter"/>),
/// paid for up front (<paramref name="Paid"/>: a failure is not counted again), or on trust, holding one
/// of the address's concurrent unpaid lookups until disposed.
/// </summary>
internal readonly record struct LookupPermit(RateLimitLease? Unpaid, bool Paid, TimeSpan? RetryAfter) : IDisposable
{
    public void Dispose() => Unpaid?.Dispose();
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
